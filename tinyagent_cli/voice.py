"""Speech in: record from the microphone, transcribe with faster-whisper, let the person fix it.

Heavy modules (faster_whisper, numpy, sounddevice) are imported inside the functions that
use them, so importing this module costs nothing. One WhisperModel is kept per process:
loading it takes about a second, transcribing a short clip less than that.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelError, VoiceError

if TYPE_CHECKING:
    from rich.console import Console

SAMPLE_RATE = 16000  # what Whisper works at; other rates are resampled when decoding


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float  # seconds of audio
    seconds: float  # seconds the transcription took, model load included when it was cold


# --------------------------------------------------------------------------- transcription

_model_lock = threading.Lock()
_model_cache: tuple[Path, Any] | None = None  # (folder, WhisperModel): one model per process


def _whisper(model_dir: Path) -> Any:
    global _model_cache
    with _model_lock:
        if _model_cache is not None and _model_cache[0] == model_dir:
            return _model_cache[1]
        if not (model_dir / "model.bin").is_file():
            raise ModelError(f"{model_dir} is not a faster-whisper model folder (no model.bin)")
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(str(model_dir), device="cpu", compute_type="int8")
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load the speech model {model_dir}: {_first_line(exc)}") from None
        _model_cache = (model_dir, model)
        return model


def _decode(path: Path) -> Any:
    """The file's audio as 16 kHz mono float32 samples; VoiceError naming the file otherwise."""
    if not path.exists():
        raise VoiceError(f"{path}: no such audio file")
    if not path.is_file():
        raise VoiceError(f"{path}: not a file")
    import av
    from faster_whisper import decode_audio

    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except av.error.FFmpegError as exc:
        raise VoiceError(f"{path}: not a readable audio file ({_first_line(exc)})") from None
    except IndexError:  # the container opened but holds no audio stream
        raise VoiceError(f"{path}: has no audio track") from None
    except OSError as exc:
        raise VoiceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if audio.size == 0:
        raise VoiceError(f"{path}: contains no audio")
    return audio


def transcribe(path: Path, model_dir: Path) -> Transcript:
    """What is said in a wav, mp3 or m4a file (or anything else FFmpeg decodes)."""
    started = time.perf_counter()
    audio = _decode(Path(path))
    model = _whisper(Path(model_dir))
    # Greedy-ish and at temperature 0 only: short commands gain nothing from a wide beam, and
    # the sampling fallback would make the same clip transcribe differently from run to run.
    # Voice-activity filtering is off because it clips the edges of a few-second command.
    segments, info = model.transcribe(
        audio,
        beam_size=2,
        temperature=0.0,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    try:
        text = " ".join(segment.text.strip() for segment in segments).strip()
    except RuntimeError as exc:  # CTranslate2 fails inside the lazy segment generator
        raise VoiceError(f"{path}: transcription failed ({_first_line(exc)})") from None
    return Transcript(
        text=text,
        language=info.language,
        duration=float(info.duration),
        seconds=time.perf_counter() - started,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- recording


@dataclass
class SilenceDetector:
    """Decides when a recording is over: after speech, ``silence_seconds`` of quiet.

    Levels are RMS of float samples in [-1, 1]. The threshold adapts to the room: speech is
    a block louder than ``ratio`` times the quietest level heard so far (and than ``floor``),
    so a fan or a noisy laptop microphone does not count as someone talking.
    """

    block_seconds: float
    silence_seconds: float = 1.2
    floor: float = 0.01
    ratio: float = 3.0
    noise: float | None = None
    speech_started: bool = False
    quiet_for: float = 0.0

    def threshold(self) -> float:
        return max(self.floor, self.ratio * (self.noise if self.noise is not None else 0.0))

    def feed(self, level: float) -> bool:
        """Take one block's level; True when the recording should stop."""
        self.noise = level if self.noise is None else min(self.noise, level)
        if level >= self.threshold():
            self.speech_started = True
            self.quiet_for = 0.0
            return False
        if self.speech_started:
            self.quiet_for += self.block_seconds
        return self.speech_started and self.quiet_for >= self.silence_seconds


def _open_input(samplerate: int) -> Any:
    """sounddevice, checked to have a default input device; VoiceError otherwise."""
    try:
        import sounddevice as sd
    except OSError as exc:  # raised at import when the PortAudio library is missing
        raise VoiceError(f"no microphone found: {exc} (install PortAudio, e.g. apt install libportaudio2)") from None
    try:
        device = sd.query_devices(kind="input")
    except (sd.PortAudioError, ValueError) as exc:
        raise VoiceError(f"no microphone found: no default input device ({_first_line(exc)})") from None
    if not device or device.get("max_input_channels", 0) < 1:
        raise VoiceError("no microphone found: the default audio device has no input channel")
    try:
        sd.check_input_settings(channels=1, samplerate=samplerate, dtype="int16")
    except (sd.PortAudioError, ValueError) as exc:
        raise VoiceError(f"the microphone {device['name']!r} cannot record 16-bit mono at {samplerate} Hz: "
                         f"{_first_line(exc)}") from None
    return sd


@contextmanager
def _enter_watcher() -> Iterator[Any]:
    """A function that says whether Enter was pressed, without blocking.

    Only a terminal is watched: with stdin a pipe or a file there is nobody to press Enter,
    and reading it would either block or eat input meant for later. Echo is turned off while
    recording so the keystroke does not break the level meter, and the line is discarded.
    """
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        yield lambda: False
        return
    if sys.platform == "win32":
        import msvcrt

        def pressed_nt() -> bool:
            while msvcrt.kbhit():
                if msvcrt.getwch() in "\r\n":
                    return True
            return False

        yield pressed_nt
        return
    import select
    import termios

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO  # local flags; canonical mode stays, so input arrives on Enter
    termios.tcsetattr(fd, termios.TCSANOW, quiet)

    def pressed() -> bool:
        return bool(select.select([fd], [], [], 0)[0])

    try:
        yield pressed
    finally:
        termios.tcflush(fd, termios.TCIFLUSH)
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _meter(level: float, elapsed: float, max_seconds: float, speaking: bool) -> Any:
    from rich.text import Text

    width = 30
    # Speech RMS sits around 0.02-0.3; a square root spreads that over the bar.
    filled = min(width, round(min(1.0, level**0.5 * 1.6) * width))
    text = Text("● ", style="bold red")
    text.append("█" * filled, style="green" if speaking else "dim green")
    text.append("·" * (width - filled), style="dim")
    text.append(f"  {elapsed:4.1f}s / {max_seconds:.0f}s  ")
    text.append("listening… (Enter to stop)" if speaking else "speak now (Enter to stop)", style="dim")
    return text


def record(
    console: Console,
    *,
    samplerate: int = SAMPLE_RATE,
    max_seconds: float = 30,
    silence_seconds: float = 1.2,
) -> Path:
    """Record from the default microphone until Enter, trailing silence or ``max_seconds``.

    Returns a 16-bit mono WAV in a temporary file that the caller removes when done.
    """
    import queue

    import numpy as np
    from rich.live import Live

    sd = _open_input(samplerate)
    block = max(1, samplerate // 20)  # 50 ms: a responsive meter and silence check
    detector = SilenceDetector(block_seconds=block / samplerate, silence_seconds=silence_seconds)
    blocks: queue.Queue[Any] = queue.Queue()
    chunks: list[Any] = []

    def callback(indata: Any, frames: int, when: Any, status: Any) -> None:
        # status may report an input overflow: a few lost milliseconds do not spoil a command.
        blocks.put(indata.copy())

    started = time.monotonic()
    try:
        stream = sd.InputStream(
            samplerate=samplerate, channels=1, dtype="int16", blocksize=block, callback=callback
        )
    except (sd.PortAudioError, ValueError) as exc:
        raise VoiceError(f"no microphone found: {_first_line(exc)}") from None
    try:
        meter = Live(_meter(0.0, 0.0, max_seconds, False), console=console, transient=True)
        with stream, _enter_watcher() as enter_pressed, meter:
            while True:
                elapsed = time.monotonic() - started
                if elapsed >= max_seconds or enter_pressed():
                    break
                try:
                    data = blocks.get(timeout=0.1)
                except queue.Empty:
                    continue
                chunks.append(data)
                samples = data.astype(np.float32) / 32768.0
                level = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
                stop = detector.feed(level)
                meter.update(_meter(level, elapsed, max_seconds, detector.speech_started))
                if stop:
                    break
    except sd.PortAudioError as exc:
        raise VoiceError(f"recording failed: {_first_line(exc)}") from None
    while not blocks.empty():  # what arrived between the last look and the stream's stop
        chunks.append(blocks.get_nowait())
    audio = np.concatenate(chunks) if chunks else np.zeros((0, 1), dtype=np.int16)
    if not detector.speech_started:
        console.print("[yellow]no speech heard[/]")
    fd, name = tempfile.mkstemp(prefix="tinyagent-", suffix=".wav")
    os.close(fd)
    with wave.open(name, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(samplerate)
        out.writeframes(audio.astype("<i2").tobytes())
    return Path(name)


# --------------------------------------------------------------------------- confirmation


def confirm_transcript(text: str, console: Console) -> str | None:
    """Show what was heard so the person can fix it; None if they clear it (or press Ctrl-D)."""
    from rich.markup import escape

    if not (sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()):
        console.print(f"[dim]heard:[/] {escape(text)}")
        return text.strip() or None
    from prompt_toolkit import prompt

    console.print("[dim]Edit what was heard, Enter to go on, clear it to cancel.[/]")
    try:
        edited = prompt("heard: ", default=text)
    except EOFError:
        return None
    return edited.strip() or None
