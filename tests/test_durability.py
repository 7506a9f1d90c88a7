"""Nothing lost, nothing done twice, nothing reported wrongly: concurrent runs, retries,
timeouts and Ctrl-C on side effects, and files that keep their mode and line endings."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyagent_cli.plan.join import join
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.plan.tasks import Plan, Task, TaskResult
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools import portable
from tinyagent_cli.tools.context import ToolContext
from tinyagent_cli.tools.spec import load_catalog
from tinyagent_cli.loop import Outcome

from .conftest import REPO, run_cli, run_plan, write_config
from .test_portable import ORIGINAL, Env, drafts, fake_opener, make_env, put_inbox, read_eml, read_items


@pytest.fixture
def env(home: Path, tmp_path: Path) -> Env:
    return make_env(home, tmp_path)


# ---------------------------------------------------------------- side effects whose end is unseen


def test_a_side_effect_past_its_timeout_is_unknown_not_failed(home: Path, testpack: Path, tmp_path: Path) -> None:
    write_config(home, "backend: portable\ntimeout: 1\n")
    settings = Settings.load()
    catalog = load_catalog(settings)
    target = tmp_path / "out.txt"
    plan = parse_plan(
        f'1. slow_write("{target}", "x", 3)\n2. echo("$1")\n3. sleep(3, "slow read")\n4. join()', catalog
    )
    results = run_plan(plan, catalog, settings)
    assert results[1].status == "unknown"
    assert "timed out after 1 s" in (results[1].error or "") and "check before doing it again" in results[1].error
    assert results[2].status == "skipped"  # its input is unknown too
    assert results[3].status == "failed"  # a read that timed out did nothing: plainly failed
    answer = join(plan, results)
    assert "? slow_write may have happened" in answer.text
    assert not answer.ok and answer.failures == (f"3. {plan.tasks[2].call_text()} failed: timed out after 1 s",)
    time.sleep(2.5)
    assert target.read_text() == "x\n"  # it did happen: "unknown" was the honest answer


def test_a_run_that_may_have_changed_something_is_not_replanned(home: Path, testpack: Path) -> None:
    write_config(home, "backend: portable\n")
    catalog = load_catalog(Settings.load())
    plan = Plan((Task(1, "slow_write", ("/tmp/x", "x", 1)), Task(2, "fail", ("no",))))
    outcome = Outcome(query="q", plan=plan, results={
        1: TaskResult(1, "unknown", error="timed out"), 2: TaskResult(2, "failed", error="no")})
    assert outcome.changed_something(catalog)  # Loop.query replans only when this is False
    outcome.results[1] = TaskResult(1, "skipped", error="cancelled")
    assert not outcome.changed_something(catalog)


def test_ctrl_c_during_a_side_effect_reports_it_may_have_happened(home: Path, testpack: Path, tmp_path: Path) -> None:
    write_config(home, "backend: portable\n")
    target = tmp_path / "out.txt"
    plan = tmp_path / "plan.txt"
    plan.write_text(f'1. slow_write("{target}", "x", 4)\n2. echo("after")\n3. echo("$1")\n4. join()\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyagent_cli", "exec", str(plan), "--yes", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "TINYAGENT_HOME": str(home)},
    )
    started = Path(f"{target}.started")
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    status = {r["id"]: r["status"] for r in json.loads(out)["results"]}
    assert status[1] == "unknown" and status[2] == "done" and status[3] == "skipped"
    logged = json.loads(run_cli(home, "history", "--json").stdout)
    assert [r["status"] for r in logged[0]["results"] if r["id"] == 1] == ["unknown"]


def test_a_retried_call_creates_one_event_one_reminder_one_draft(env: Env) -> None:
    ctx = ToolContext(env.settings, env.catalog.pack_of("create_reminder").dir, key="run1-3")
    for _ in range(2):
        portable.create_calendar_event(ctx, "Dentist", "2026-12-10T09:00", "", "", [], "", "")
        portable.create_reminder(ctx, "Call mum", "2026-12-10T18:00", "", "", 0, False)
        portable.compose_new_email(ctx, ["ana@example.com"], [], "Hi", "Hello", [])
    events = read_items(env.data / "calendars" / "Calendar", "VEVENT")
    todos = read_items(env.data / "reminders" / "Reminders", "VTODO")
    assert len(events) == 1 and [str(t["uid"]) for t in todos] == [str(events[0]["uid"])]  # the call's own UID
    assert len(drafts(env)) == 1
    other = ToolContext(env.settings, ctx.pack_dir, key="run2-3")  # another call makes another item
    portable.create_reminder(other, "Call mum", "2026-12-10T18:00", "", "", 0, False)
    assert len(read_items(env.data / "reminders" / "Reminders", "VTODO")) == 2


# ---------------------------------------------------------------- processes at once

def _errand(i: int) -> str:
    return (f'1. append_note_content("Log", "entry {i}", "")\n'
            f'2. create_calendar_event("Meeting {i}", "2026-12-10T09:00", "", "", [], "", "")\n'
            f'3. create_reminder("Task {i}", "", "", "", 0, False)\n4. join()\n')


def _exec(home: Path, plan: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tinyagent_cli", "exec", "--yes", "-"], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "TINYAGENT_HOME": str(home)})
    assert proc.stdin is not None
    proc.stdin.write(plan)
    proc.stdin.close()
    return proc


def _shared_windows_note(env: Env, title: str, line: str) -> Path:
    """A note written on Windows (CRLF) that a group may write (mode 664)."""
    folder = env.data / "notes" / "Notes"
    folder.mkdir(parents=True)
    note = folder / f"{title}.md"
    note.write_bytes(f"# {title}\r\n\r\n{line}\r\n".encode())
    note.chmod(0o664)
    return note


def test_concurrent_runs_lose_nothing_and_change_no_mode_or_line_ending(env: Env) -> None:
    note = _shared_windows_note(env, "Log", "start")
    n = 12
    procs = [_exec(env.home, _errand(i)) for i in range(n)]
    for proc in procs:
        assert proc.wait(timeout=180) == 0, proc.stderr.read() if proc.stderr else ""
    text = note.read_bytes().decode()
    assert sorted(line for line in text.split("\r\n") if line.startswith("entry")) == sorted(
        f"entry {i}" for i in range(n))
    assert "\n" not in text.replace("\r\n", "") and stat.S_IMODE(note.stat().st_mode) == 0o664
    events = {str(e["summary"]) for e in read_items(env.data / "calendars" / "Calendar", "VEVENT")}
    todos = {str(t["summary"]) for t in read_items(env.data / "reminders" / "Reminders", "VTODO")}
    assert events == {f"Meeting {i}" for i in range(n)} and todos == {f"Task {i}" for i in range(n)}
    assert [p.name for p in env.data.rglob("*.tmp")] == []


# ---------------------------------------------------------------- files as they were


def test_an_append_keeps_the_notes_mode_and_line_endings(env: Env) -> None:
    note = _shared_windows_note(env, "Shared", "first line")
    env.ok('1. append_note_content("Shared", "second\\nthird", "")\n2. join()\n')
    assert note.read_bytes() == b"# Shared\r\n\r\nfirst line\r\n\r\nsecond\r\nthird\r\n"
    assert stat.S_IMODE(note.stat().st_mode) == 0o664
    assert env.ok('1. open_note("Shared", "")\n2. join()') == ["# Shared\n\nfirst line\n\nsecond\nthird\n"]


def test_a_calendar_item_gets_the_usual_mode_and_no_temporary_file_stays(env: Env) -> None:
    env.ok('1. create_calendar_event("A", "2026-12-10T09:00", "", "", [], "", "Team")\n2. join()\n')
    (item,) = (env.data / "calendars" / "Team").glob("*.ics")
    assert stat.S_IMODE(item.stat().st_mode) == 0o666 & ~_umask()  # not mkstemp's 0600
    assert sorted(p.name for p in item.parent.iterdir()) == sorted(["displayname", item.name])


def test_a_killed_writers_temp_file_is_cleared_and_the_note_kept(env: Env) -> None:
    env.ok('1. create_note("Log", "start", "")\n2. join()\n')
    folder = env.data / "notes" / "Notes"
    leftover = folder / ".Log.md.k3j9x0ab.tmp"
    leftover.write_text("# Log\n\nstart\n\nhalf a wri")
    env.ok('1. append_note_content("Log", "more", "")\n2. join()\n')
    assert not leftover.exists()
    assert (folder / "Log.md").read_text(encoding="utf-8") == "# Log\n\nstart\n\nmore\n"


def test_a_note_that_is_not_utf8_is_an_error_and_left_untouched(env: Env) -> None:
    folder = env.data / "notes" / "Notes"
    folder.mkdir(parents=True)
    (folder / "Alt.md").write_bytes("# Alt\n\ncaf\u00e9\n".encode("latin-1"))
    for plan in ('1. append_note_content("Alt", "x", "")\n2. join()', '1. open_note("Alt", "")\n2. join()'):
        assert "is not UTF-8 text; it was left untouched" in env.fails(plan)
    assert (folder / "Alt.md").read_bytes() == "# Alt\n\ncaf\u00e9\n".encode("latin-1")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- honest reports


def test_json_errors_still_print_the_documented_object(home: Path, testpack: Path) -> None:
    bad = run_cli(home, "exec", "--json", "-", input='1. nosuchtool("x")\n2. join()\n')
    assert bad.returncode == 3
    data = json.loads(bad.stdout)
    assert data["exit_code"] == 3 and "nosuchtool" in data["error"] and data["plan"] == []
    assert len(bad.stderr.strip().splitlines()) == 1  # and the one line on stderr
    missing = run_cli(home, "run", "--json", "--model", "no-such-model", "hello")
    assert missing.returncode == 2 and json.loads(missing.stdout)["exit_code"] == 2


def test_exec_runs_reach_the_history(home: Path, testpack: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    assert run_cli(home, "exec", "--yes", "-", input=f'1. write("{target}", "x")\n2. join()\n').returncode == 0
    logged = json.loads(run_cli(home, "history", "--json").stdout)
    assert [r["tools"] if "tools" in r else [x["tool"] for x in r["results"]] for r in logged] == [["write"]]
    assert run_cli(home, "exec", "--yes", "--no-log", "-", input='1. echo("x")\n2. join()\n').returncode == 0
    assert len(json.loads(run_cli(home, "history", "--json").stdout)) == 1


def test_a_history_file_of_another_program_is_neither_altered_nor_a_crash(home: Path, testpack: Path) -> None:
    data = home / "data"
    data.mkdir(parents=True)
    with sqlite3.connect(data / "history.sqlite3") as conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO runs (name) VALUES ('theirs')")
    listed = run_cli(home, "history")
    assert listed.returncode == 2 and "not tinyagent's history" in listed.stderr and "Traceback" not in listed.stderr
    ran = run_cli(home, "exec", "--yes", "-", input='1. echo("x")\n2. join()\n')
    assert ran.returncode == 0 and "this run is not logged" in ran.stderr
    with sqlite3.connect(data / "history.sqlite3") as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(runs)")] == ["id", "name"]


def test_contacts_import_where_nothing_can_be_written_is_one_line(home: Path, tmp_path: Path) -> None:
    card = tmp_path / "a.vcf"
    card.write_text("BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nEMAIL:ana@example.com\nEND:VCARD\n")
    write_config(home, "backend: portable\n")
    (home / "data").write_text("a file where the data folder should be")  # fails for root too
    out = run_cli(home, "contacts", "import", str(card))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("tinyagent: cannot lock") and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("line", "message"), [
    ("timeout: 0", "timeout must be above 0, not 0.0"),
    ("timeout: -5", "timeout must be above 0, not -5.0"),
    ("max_tools: 0", "max_tools must be at least 1, not 0"),
])
def test_numbers_that_cannot_work_are_config_errors(home: Path, line: str, message: str) -> None:
    write_config(home, line + "\n")
    out = run_cli(home, "tools", "list")
    assert out.returncode == 2 and out.stderr.strip().endswith(message)


def test_one_recipient_string_with_two_addresses_reaches_both(env: Env) -> None:
    env.ok('1. compose_new_email(["ana@example.com; Bo <bo@example.org>"], [], "Plan\\nB", "Hi", [])\n2. join()')
    draft = read_eml(drafts(env)[0])
    assert draft["To"] == "ana@example.com, Bo <bo@example.org>" and draft["Subject"] == "Plan B"
    assert "not an email address: 'Omar, bo@example.org'" in env.fails(
        '1. compose_new_email(["Omar, bo@example.org"], [], "x", "Hi", [])\n2. join()')


def test_a_file_is_opened_only_once_the_plan_is_confirmed(home: Path, tmp_path: Path) -> None:
    bin_dir, log = fake_opener(tmp_path)
    files = tmp_path / "files"
    files.mkdir()
    (files / "report.odt").write_text("x")
    write_config(home, f"backend: portable\nportable:\n  open_files: true\n  file_roots: [{json.dumps(str(files))}]\n")
    plan = '1. open_and_get_file_path("report")\n2. create_note("Read", "$1", "")\n3. join()\n'
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "DISPLAY": ":99"}
    refused = run_cli(home, "exec", "-", input=plan, env=env)  # no terminal, no --yes
    assert refused.returncode == 4 and not log.exists()  # the lookup ran; nothing was shown
    ran = run_cli(home, "exec", "--yes", "-", input=plan, env=env)
    assert ran.returncode == 0 and log.read_text().splitlines() == [str(files / "report.odt")]
    # With its request: opened when the request asks to see it, not when it only uses it.
    for query, opened in (("note down where the report is", 1), ("open the report and note where it is", 2)):
        data = json.loads(run_cli(home, "exec", "--dry-run", "--json", "-", input=plan).stdout)
        data["query"] = query
        assert run_cli(home, "exec", "--yes", "-", input=json.dumps(data), env=env).returncode == 0
        assert len(log.read_text().splitlines()) == opened


def test_the_plan_says_which_message_a_reply_answers_before_it_is_confirmed(home: Path, tmp_path: Path) -> None:
    env = make_env(home, tmp_path)
    put_inbox(env, "omar.eml", ORIGINAL.replace("Sarah Lin <sarah@lin.example>", "Omar <omar@x.example>"), 3600)
    put_inbox(env, "priya.eml", ORIGINAL.replace("Sarah Lin <sarah@lin.example>", "Priya <priya@x.example>"), 60)
    out = run_cli(home, "exec", "--dry-run", "-", input='1. reply_to_email([], "sounds good", [])\n2. join()\n')
    assert out.returncode == 0
    assert "acts on the message from Priya <priya@x.example>, 'Budget' (from the inbox: priya.eml)" in " ".join(
        out.stdout.split())
    assert drafts(env) == []
    refused = run_cli(home, "exec", "-", input='1. reply_to_email([], "sounds good", [])\n2. join()\n')
    assert refused.returncode == 4 and "from Priya" in refused.stdout
    # A request that names a sender answers that sender's newest message (exec takes one from JSON).
    plan = json.dumps({"query": "reply to Omar saying sounds good",
                       "plan": [{"id": 1, "tool": "reply_to_email", "args": [[], "sounds good", []]}]})
    ran = run_cli(home, "exec", "--yes", "-", input=plan)
    assert ran.returncode == 0 and "from Omar <omar@x.example>" in " ".join(ran.stdout.split())
    assert [read_eml(p)["To"] for p in drafts(env)] == ["Omar <omar@x.example>"]
