"""`tinyagent transcribe FILE [--json]`: what the speech model hears in an audio file; and
listening for a request (``run --voice``, the REPL's /voice)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..settings import Settings

if TYPE_CHECKING:
    from rich.console import Console


def speech_model_dir(settings: Settings, name: str | None = None) -> tuple[str, Path]:
    """The speech model's registry name and its folder (``name`` or the configured one)."""
    from ..llm.files import ensure_installed
    from ..llm.registry import load_registry

    name = name or settings.config.speech_model
    spec = load_registry(settings).get(name)
    if spec.kind != "speech":
        raise ModelError(f"model {name!r} is a planner, not a speech model (see: tinyagent models list)")
    return name, ensure_installed(spec, settings)


def transcribe_command(
    settings: Settings, path: Path, as_json: bool, console: Console, model: str | None = None
) -> None:
    from ..voice import transcribe

    name, folder = speech_model_dir(settings, model)
    transcript = transcribe(path, folder)
    if as_json:
        data = {
            "text": transcript.text,
            "language": transcript.language,
            "duration": round(transcript.duration, 3),
            "seconds": round(transcript.seconds, 3),
            "model": name,
        }
        console.print(json.dumps(data, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return
    console.print(transcript.text, markup=False, highlight=False)
    console.print(
        f"[dim]{transcript.duration:.1f}s of {transcript.language} audio, "
        f"transcribed in {transcript.seconds:.2f}s with {name}[/]",
        highlight=False,
    )


def listen(settings: Settings, console: Console, audio: Path | None, *, meter: Console) -> str:
    """Record (or read) speech, transcribe it, and let the person correct the transcript:
    ``run --voice`` and the REPL's /voice. ``meter`` shows the recording level."""
    from ..errors import Declined
    from ..voice import confirm_transcript, record, transcribe

    _, model_dir = speech_model_dir(settings)
    path = audio if audio is not None else record(meter)
    try:
        heard = transcribe(path, model_dir)
    finally:
        if audio is None:
            path.unlink(missing_ok=True)
    text = confirm_transcript(heard.text, console)
    if text is None:
        raise Declined("nothing to do: the transcript was empty or cleared")
    return text
