"""`tinyagent doctor` on this machine (portable) and, with the fake osascript, on macos."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tinyagent_cli.commands.doctor import Check, doctor_command
from tinyagent_cli.settings import Config, Paths, Settings
from tinyagent_cli.tools.spec import load_catalog

FAKEBIN = Path(__file__).resolve().parent / "fakebin"
PROBE = Path(__file__).resolve().parent.parent / "toolpacks" / "tinyagent" / "macos" / "doctor_probe.applescript"


def no_models(settings: Settings) -> list[Check]:
    return [Check("planner model", "ok", settings.config.model)]


def doctor(settings: Settings, *, as_json: bool = True, **kwargs: Any) -> tuple[int, Any]:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    catalog = load_catalog(settings)
    code = doctor_command(settings, catalog, console, as_json, **{"model_rows": no_models, **kwargs})
    return code, json.loads(out.getvalue()) if as_json else out.getvalue()


def rows(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in data["checks"]}


@pytest.fixture
def clean_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "FAKEBIN_ANSWERS"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_portable_backend_on_this_machine(clean_env: Path) -> None:
    data_dir = clean_env / "data"
    (data_dir / "notes").mkdir(parents=True)
    code, data = doctor(Settings.load(backend="portable"))
    checks = rows(data)
    assert data["backend"] == "portable" and checks["backend"]["detail"] == "portable (configured)"
    assert checks["config file"]["status"] == "info"  # no file: defaults
    assert checks["toolpacks"]["detail"].startswith("15 tools on the portable backend")
    assert checks["portable.notes_dir"] == {"name": "portable.notes_dir", "status": "ok",
                                            "detail": f"{data_dir / 'notes'} (writable)", "fix": ""}
    assert checks["portable.calendars_dir"]["status"] == "info"  # made on first use
    assert checks["portable.contacts_dir"]["status"] == "warn"
    assert "tinyagent contacts import" in checks["portable.contacts_dir"]["fix"]
    assert checks["zoom"]["status"] == "warn" and "ZOOM_ACCOUNT_ID" in checks["zoom"]["fix"]
    assert "osascript" not in checks
    assert code == 0 and data["ok"] is True


def test_a_broken_config_file_is_a_failure_naming_the_problem(clean_env: Path) -> None:
    (clean_env / "config" / "config.yaml").write_text("timeout: soon\n", encoding="utf-8")
    settings = Settings(Paths.discover(), Config(backend="portable"))  # what the CLI falls back to
    code, data = doctor(settings)
    check = rows(data)["config file"]
    assert check["status"] == "fail" and "timeout: expected a number, got 'soon'" in check["detail"]
    assert code == 1 and data["ok"] is False


def test_settings_at_the_top_of_tinyagent_home_are_named_as_unread(clean_env: Path) -> None:
    (clean_env / "config.yaml").write_text("backend: portable\n", encoding="utf-8")
    (clean_env / "models.yaml").write_text("models: []\n", encoding="utf-8")
    code, data = doctor(Settings.load(backend="portable"))
    checks = rows(data)
    for name in ("config.yaml", "models.yaml"):
        check = checks[f"{name} at TINYAGENT_HOME"]
        assert check["status"] == "warn" and f"{clean_env / name} is not read" in check["detail"]
        assert check["fix"] == f"move it there: mv {clean_env / name} {clean_env / 'config'}/"
    assert "toolpacks at TINYAGENT_HOME" not in checks
    assert code == 0  # a warning, not a failure: nothing that runs is broken


def test_a_data_folder_that_is_a_file_fails(clean_env: Path) -> None:
    (clean_env / "data").mkdir()
    (clean_env / "data" / "reminders").write_text("oops", encoding="utf-8")
    code, data = doctor(Settings.load(backend="portable"))
    assert rows(data)["portable.reminders_dir"]["status"] == "fail"
    assert code == 1


def test_zoom_credentials_present(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.setenv(var, "x")
    _, data = doctor(Settings.load(backend="portable"))
    assert rows(data)["zoom"]["status"] == "ok"


def test_the_model_rows_come_from_the_registry_by_default(clean_env: Path) -> None:
    settings = Settings.load(backend="portable")
    out = io.StringIO()
    doctor_command(settings, load_catalog(settings), Console(file=out, width=200), True)
    checks = rows(json.loads(out.getvalue()))
    assert settings.config.model in checks["planner model"]["detail"]
    assert settings.config.speech_model in checks["speech model"]["detail"]


def test_table_output(clean_env: Path) -> None:
    settings = Settings.load(backend="portable")
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=True)
    code = doctor_command(settings, load_catalog(settings), console, False, model_rows=no_models)
    text = out.getvalue()
    assert "how to fix" in text and "portable.contacts_dir" in text and "tinyagent contacts import" in text
    assert "No check failed" in text and code == 0


def _fake_osascript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: list[dict[str, Any]]) -> Path:
    log = tmp_path / "fakebin.jsonl"
    monkeypatch.setenv("PATH", os.pathsep.join([str(FAKEBIN), str(Path(sys.executable).parent), os.environ["PATH"]]))
    monkeypatch.setenv("FAKEBIN_LOG", str(log))
    (tmp_path / "answers.json").write_text(json.dumps({"osascript": answers}), encoding="utf-8")
    monkeypatch.setenv("FAKEBIN_ANSWERS", str(tmp_path / "answers.json"))
    return log


def test_macos_backend_reads_each_apps_automation_permission(clean_env: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    denied = {"err": "0:50: execution error: Not authorized to send Apple events to Calendar. (-1743)\n", "rc": 1}
    log = _fake_osascript(tmp_path, monkeypatch, [
        {"out": "120\n"},  # Contacts
        denied,  # Calendar
        {"out": "3\n"},  # Reminders
        {"err": "0:9: execution error: Notes got an error: Application isn't running. (-600)\n", "rc": 1},
        {"out": "2\n"},  # Mail
    ])
    code, data = doctor(Settings.load(backend="macos"))
    checks = rows(data)
    assert checks["osascript"]["status"] == "ok"
    assert checks["Contacts"]["status"] == "ok" and checks["Mail"]["status"] == "ok"
    assert checks["Calendar"]["status"] == "fail"
    assert "Privacy & Security > Automation" in checks["Calendar"]["fix"]
    assert "tccutil reset AppleEvents" in checks["Calendar"]["fix"]
    assert checks["Notes"]["status"] == "warn" and "not running" in checks["Notes"]["detail"]
    assert checks["toolpacks"]["detail"].startswith("16 tools on the macos backend")
    assert "portable.notes_dir" not in checks
    assert code == 1
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [c["argv"] for c in calls if c["prog"] == "osascript"] == [
        ["-", app] for app in ("Contacts", "Calendar", "Reminders", "Notes", "Mail")]
    assert all(c["stdin"] == PROBE.read_text(encoding="utf-8") for c in calls if c["prog"] == "osascript")


def test_macos_backend_without_osascript(clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, data = doctor(Settings.load(backend="macos"))
    check = rows(data)["osascript"]
    assert check["status"] == "fail" and "needs macOS" in check["detail"] and "--backend portable" in check["fix"]
    assert "Contacts" not in rows(data)
    assert code == 1
