"""The SQLite run history: recording, reading, and never getting in the way of a run."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from rich.console import Console

from tinyagent_cli.commands.history_cmds import list_command, show_command
from tinyagent_cli.errors import ConfigError
from tinyagent_cli.history import BUSY_TIMEOUT, HISTORY_FILENAME, HistoryLog, RunRecord
from tinyagent_cli.settings import Settings

PLAN = '1. get_phone_number("Omar")\n2. send_sms(["$1"], "I am running late")\n3. join()\n'


def _run(query: str = "text Omar that I am running late", **changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "query": query,
        "model": "gemma3-270m",
        "backend": "portable",
        "plan": PLAN,
        "confirmation": "yes",
        "exit_code": 0,
        "answer": "Texted Omar.",
        "results": (
            {"id": 1, "tool": "get_phone_number", "status": "done", "output": "+44 20 7946 0000",
             "error": None, "seconds": 0.012},
            {"id": 2, "tool": "send_sms", "status": "done", "output": "Message to +44 20 7946 0000 drafted",
             "error": None, "seconds": 0.2},
        ),
        "timings": {"plan_s": 1.5, "total_s": 2.25},
    }
    fields.update(changes)
    return RunRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path / "home"))
    return Settings.load()


@pytest.fixture
def log(settings: Settings) -> HistoryLog:
    return HistoryLog.for_settings(settings)


def test_record_and_read_back(log: HistoryLog, settings: Settings) -> None:
    entry = _run(transcript="text omar that i am running late")
    run_id = log.record(entry)
    assert run_id == 1
    assert log.path == settings.paths.data_dir / HISTORY_FILENAME
    back = log.get(run_id)
    assert back == RunRecord(**{**entry.__dict__, "id": run_id})
    assert back.tools == ["get_phone_number", "send_sms"]
    assert back.total_seconds == 2.25
    with sqlite3.connect(log.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_started_at_is_utc_iso(log: HistoryLog) -> None:
    from datetime import datetime, timedelta

    record = log.get(log.record(_run()) or 0)
    started = datetime.fromisoformat(record.started_at)
    assert started.utcoffset() == timedelta(0)
    assert abs((datetime.now(started.tzinfo) - started).total_seconds()) < 60


def test_list_is_newest_first_and_limited(log: HistoryLog) -> None:
    ids = [log.record(_run(f"query {n}")) for n in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert [r.query for r in log.list(3)] == ["query 4", "query 3", "query 2"]
    assert [r.id for r in log.list(50)] == [5, 4, 3, 2, 1]
    assert log.list(0) == []


def test_unknown_run_is_a_config_error(log: HistoryLog) -> None:
    with pytest.raises(ConfigError, match="no run 7"):
        log.get(7)  # no log at all yet
    log.record(_run())
    with pytest.raises(ConfigError, match="no run 7"):
        log.get(7)


def test_bad_confirmation_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="confirmation"):
        _run(confirmation="maybe")


def test_corrupt_log_is_moved_aside_and_replaced(log: HistoryLog, capsys: pytest.CaptureFixture[str]) -> None:
    log.path.parent.mkdir(parents=True)
    garbage = bytes(range(256)) * 64
    log.path.write_bytes(garbage)
    run_id = log.record(_run())
    assert run_id == 1
    err = capsys.readouterr().err
    assert "history log" in err and "moved it to" in err
    moved = [p for p in log.path.parent.iterdir() if p.name.startswith(f"{HISTORY_FILENAME}.corrupt-")]
    assert len(moved) == 1
    assert moved[0].read_bytes() == garbage  # kept as it was, never deleted
    assert moved[0].name in err
    assert [r.query for r in log.list(10)] == ["text Omar that I am running late"]


def test_locked_log_warns_once_and_goes_on(log: HistoryLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert log.record(_run("before")) == 1
    holder = sqlite3.connect(log.path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        assert log.record(_run("while locked")) is None
        waited = time.monotonic() - started
        assert log.record(_run("still locked")) is None
        err = capsys.readouterr().err
        assert err.count("history log unavailable") == 1
        assert "this run is not logged" in err and "locked" in err
        assert waited < BUSY_TIMEOUT + 1.5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert log.record(_run("after")) == 2
    assert [r.query for r in log.list(10)] == ["after", "before"]


def test_unwritable_folder_does_not_stop_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    log = HistoryLog(blocker / HISTORY_FILENAME)
    assert log.record(_run()) is None
    assert "history log unavailable" in capsys.readouterr().err


def test_disabled_log_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.yaml").write_text("log_history: false\n")
    monkeypatch.setenv("TINYAGENT_HOME", str(home))
    settings = Settings.load()
    log = HistoryLog.for_settings(settings)
    assert log.record(_run()) is None
    assert not log.path.exists() and not log.path.parent.exists()
    # --no-log on one run: the lead passes enabled=False.
    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path / "other"))
    once = HistoryLog.for_settings(Settings.load(), enabled=False)
    assert once.record(_run()) is None
    assert not once.path.exists()


def test_record_from_outcome(log: HistoryLog) -> None:
    from tinyagent_cli.plan.join import Answer
    from tinyagent_cli.plan.tasks import Plan, Task, TaskResult
    from tinyagent_cli.loop import Outcome

    plan = Plan((Task(1, "get_phone_number", ("Omar",)), Task(2, "send_sms", (["$1"], "late"), deps=(1,))))
    outcome = Outcome(
        query="text Omar",
        plan=plan,
        results={1: TaskResult(1, "done", output="+1 555"), 2: TaskResult(2, "failed", error="no Messages")},
        answer=Answer("Could not text Omar.", ok=False, failures=("send_sms: no Messages",)),
        timings={"plan_s": 0.51234, "total_s": 0.9},
        confirmation="yes",
        exit_code=1,
        model="gemma3-270m",
        backend="portable",
    )
    back = log.get(log.record(RunRecord.from_outcome(outcome, transcript="text omar")) or 0)
    assert back.plan == plan.to_text()
    assert back.tools == ["get_phone_number", "send_sms"]
    assert [(r["tool"], r["status"]) for r in back.results] == [("get_phone_number", "done"), ("send_sms", "failed")]
    assert back.answer == "Could not text Omar." and back.exit_code == 1
    assert back.transcript == "text omar" and back.timings["plan_s"] == 0.512


# --------------------------------------------------------------------------- commands


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, color_system=None), out


def test_list_command_table_and_json(log: HistoryLog, settings: Settings) -> None:
    log.record(_run("first [bold]thing[/bold]"))
    log.record(_run("second", exit_code=4, confirmation="no", results=(), answer=""))
    console, out = _console()
    list_command(settings, console, False, 10)
    table = out.getvalue()
    assert "first [bold]thing[/bold]" in table  # queries are shown literally
    assert "get_phone_number, send_sms" in table
    assert "declined (4)" in table and "ok (0)" in table and "2.2" in table
    assert table.index("second") < table.index("first")

    console, out = _console()
    list_command(settings, console, True, 1)
    rows = json.loads(out.getvalue())
    assert [r["query"] for r in rows] == ["second"]
    assert rows[0]["confirmation"] == "no"


def test_list_command_without_runs(settings: Settings) -> None:
    console, out = _console()
    list_command(settings, console, False, 10)
    assert "No runs logged yet" in out.getvalue()


def test_show_command(log: HistoryLog, settings: Settings) -> None:
    run_id = log.record(_run(transcript="text oh mark that I am running late"))
    assert run_id is not None
    console, out = _console()
    show_command(settings, console, run_id, False)
    text = out.getvalue()
    for expected in (
        "query: text Omar that I am running late",
        "heard: text oh mark that I am running late",
        '2. send_sms(["$1"], "I am running late")',
        "1. get_phone_number done 0.01s: +44 20 7946 0000",
        "answer: Texted Omar.",
        "total_s 2.25s",
    ):
        assert expected in text, expected

    console, out = _console()
    show_command(settings, console, run_id, True)
    data = json.loads(out.getvalue())
    assert data["id"] == run_id and data["results"][1]["tool"] == "send_sms"

    with pytest.raises(ConfigError, match="no run 99"):
        show_command(settings, console, 99, False)
