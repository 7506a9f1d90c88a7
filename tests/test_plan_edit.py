"""`e` at the confirmation: the plan opens in an editor, is checked, redrawn and asked
about again; the edited plan is what runs and what history keeps.

The editor is a script (``EDITOR``) that applies scripted replacements to the file and
records what it was shown. The terminal tests plan through a loopback server that
writes a fixed plan, so what they assert holds whatever a model would choose.
"""

from __future__ import annotations

import io
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tinyagent_cli.errors import Declined
from tinyagent_cli.history import HistoryLog, RunRecord
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import load_catalog
from tinyagent_cli.ui.confirm import confirm
from tinyagent_cli.ui.edit import edit_plan
from tinyagent_cli.loop import Loop, Outcome
from tinyagent_cli.ui.turn import TerminalFrontend

from .conftest import reuse_cache, run_cli, use_local_server, write_config
from .test_openai_compat import Server, server  # noqa: F401  (a fixture)
from .test_repl import Terminal, needs_tmux, terminals

EDITOR = """#!{python}
import json, os, sys
from pathlib import Path

state = Path(os.environ["EDIT_STATE"])
data = json.loads(state.read_text())
path = Path(sys.argv[1])
text = path.read_text()
data["seen"].append(text)
step = data["steps"][min(len(data["seen"]), len(data["steps"])) - 1]
for old, new in step.get("replace", []):
    text = text.replace(old, new)
path.write_text(text)
state.write_text(json.dumps(data))
sys.exit(step.get("rc", 0))
"""


class Editor:
    """A scripted $EDITOR: each opening applies the next step's replacements (the last again)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.script = root / "editor.py"
        self.script.write_text(EDITOR.format(python=sys.executable), encoding="utf-8")
        self.script.chmod(0o755)
        self.state = root / "editor.json"
        monkeypatch.setenv("EDIT_STATE", str(self.state))
        monkeypatch.setenv("EDITOR", str(self.script))
        monkeypatch.delenv("VISUAL", raising=False)

    def steps(self, *steps: dict[str, Any]) -> None:
        self.state.write_text(json.dumps({"steps": list(steps), "seen": []}), encoding="utf-8")

    @property
    def seen(self) -> list[str]:
        return json.loads(self.state.read_text(encoding="utf-8"))["seen"]


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    return Editor(tmp_path, monkeypatch)


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None), out


def answers(monkeypatch: pytest.MonkeyPatch, out: io.StringIO, *replies: str) -> list[str]:
    """Answer the confirmation's questions in turn, echoed as a terminal would; the prompts
    ``input`` was given are collected."""
    asked: list[str] = []
    left = iter(replies)

    def reply(prompt: str = "") -> str:
        asked.append(prompt)
        answer = next(left)
        out.write(answer + "\n")
        return answer

    monkeypatch.setattr("builtins.input", reply)
    return asked


# --------------------------------------------------------------------------- the question


@pytest.mark.parametrize(("actions", "question"), [
    (1, "Run 1 action that changes things? [y/N/e] "),
    (3, "Run 3 actions that change things? [y/N/e] "),
])
def test_the_question_is_singular_or_plural(actions: int, question: str, monkeypatch: pytest.MonkeyPatch) -> None:
    term, out = console()
    answers(monkeypatch, out, "y", "e", "")
    assert confirm(term, actions, assume_yes=False, stdin_is_tty=True) == "yes"
    assert out.getvalue() == question + "y\n"  # [y/N/e] is shown, not taken for markup
    assert confirm(term, actions, assume_yes=False, stdin_is_tty=True) == "edit"
    with pytest.raises(Declined, match="not confirmed"):
        confirm(term, actions, assume_yes=False, stdin_is_tty=True)


def test_without_a_terminal_the_refusal_counts_right() -> None:
    term, _ = console()
    with pytest.raises(Declined, match="refusing to run 1 action that changes things without a terminal"):
        confirm(term, 1, assume_yes=False, stdin_is_tty=False)
    assert confirm(term, 2, assume_yes=True, stdin_is_tty=False) == "auto"


# --------------------------------------------------------------------------- the editor


PLAN = '1. echo("hi")\n2. write("{path}", "$1")\n3. join()\n'


@pytest.fixture
def catalog(testpack: Path) -> Any:
    return load_catalog(Settings.load(backend="portable"))


def test_an_edit_changes_the_arguments(catalog: Any, editor: Editor, tmp_path: Path) -> None:
    editor.steps({"replace": [['echo("hi")', 'echo("bye")']]})
    term, out = console()
    plan = parse_plan(PLAN.format(path=tmp_path / "a.txt"), catalog)
    edited = edit_plan(plan, catalog, term)
    assert edited is not None and edited.tasks[0].args == ("bye",)
    shown = editor.seen[0]
    assert shown.startswith("# Edit the plan") and plan.to_text() in shown


def test_a_broken_edit_is_reported_and_reopened(catalog: Any, editor: Editor, tmp_path: Path) -> None:
    editor.steps({"replace": [['echo("hi")', 'echo("hi", 2)']]}, {"replace": [['echo("hi", 2)', 'echo("fixed")']]})
    term, out = console()
    edited = edit_plan(parse_plan(PLAN.format(path=tmp_path / "a.txt"), catalog), catalog, term)
    assert edited is not None and edited.tasks[0].args == ("fixed",)
    assert "the edited plan does not parse: line 1: echo takes 1 argument" in out.getvalue()
    first, second = editor.seen
    assert "# The last edit did not parse: line 1: echo takes 1 argument" in second
    assert '1. echo("hi", 2)' in second  # reopened as the person left it, not as it was


def test_an_edit_that_changes_nothing_keeps_the_plan(catalog: Any, editor: Editor, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    plan = parse_plan(PLAN.format(path=tmp_path / "a.txt"), catalog)
    editor.steps({})
    term, out = console()
    assert edit_plan(plan, catalog, term) is None and "plan unchanged" in out.getvalue()
    editor.steps({"replace": [["1. echo", "# 1. echo"], ["2. write", "# 2. write"], ["3. join", "# 3. join"]]})
    assert edit_plan(plan, catalog, term) is None  # an empty plan keeps the old one
    editor.steps({"replace": [['"hi"', '"bye"']], "rc": 1})  # e.g. vim's :cq
    term, out = console()
    assert edit_plan(plan, catalog, term) is None and "the editor exited with status 1" in out.getvalue()

    monkeypatch.setenv("VISUAL", str(tmp_path / "no-such-editor"))  # VISUAL comes first
    term, out = console()
    assert edit_plan(plan, catalog, term) is None
    assert "cannot start the editor" in out.getvalue() and "Traceback" not in out.getvalue()


def test_a_turn_runs_the_edited_plan_and_history_marks_it(catalog: Any, editor: Editor, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    wrong, right = tmp_path / "wrong.txt", tmp_path / "right.txt"
    editor.steps({"replace": [[str(wrong), str(right)]]})
    term, out = console()
    asked = answers(monkeypatch, out, "e", "y")
    settings = Settings.load(backend="portable")
    loop = Loop(catalog, settings, TerminalFrontend(catalog, term, stdin_is_tty=True, live=False))
    outcome = loop.run(parse_plan(PLAN.format(path=wrong), catalog), Outcome(query="write hi", backend="portable"))
    assert asked == ["", ""]  # rich prints the question itself; asked twice: before and after the edit
    assert outcome.exit_code == 0 and outcome.edited and outcome.confirmation == "yes"
    assert right.read_text() == "hi\n" and not wrong.exists()
    lines = [line.strip() for line in out.getvalue().splitlines()]
    assert lines.count("Plan") == 1 and lines.count("Plan (edited)") == 1  # each drawn once
    assert out.getvalue().count("Run 1 action that changes things? [y/N/e]") == 2
    assert outcome.to_json()["edited"] is True

    log = HistoryLog.for_settings(settings)
    run_id = log.record(RunRecord.from_outcome(outcome))
    assert run_id is not None
    record = log.get(run_id)
    assert record.edited and str(right) in record.plan and str(wrong) not in record.plan


def test_a_log_from_before_edits_is_migrated(home: Path) -> None:
    from tinyagent_cli.history import _MIGRATIONS, HISTORY_FILENAME

    settings = Settings.load()
    path = settings.paths.data_dir / HISTORY_FILENAME
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:  # a version 1 log, as the last release wrote it
        conn.execute(_MIGRATIONS[0])
        conn.execute("INSERT INTO runs (started_at, query, model, backend, plan, confirmation, results, answer, "
                     "timings, exit_code) VALUES ('2026-01-01T00:00:00+00:00', 'old run', 'm', 'portable', "
                     "'1. echo(\"x\")\n2. join()', 'yes', '[]', '', '{}', 0)")
        conn.execute("PRAGMA user_version=1")
    conn.close()
    log = HistoryLog.for_settings(settings)
    log.record(RunRecord(query="new run", model="m", backend="portable", plan='1. echo("y")\n2. join()',
                         confirmation="yes", exit_code=0, edited=True))
    assert [(r.query, r.edited) for r in log.list()] == [("new run", True), ("old run", False)]
    out = run_cli(home, "history")
    assert out.stdout.splitlines()[0].split("\t")[3] == "echo (edited)"


# --------------------------------------------------------------------------- a real terminal

WRONG_PLAN = '1. create_note("Packing list", "passport", "charger and socks")\n2. join()'


@pytest.fixture(scope="module")
def trained_portable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache with the portable backend's tool classifier trained, shared by the terminal tests."""
    from tinyagent_cli.retrieval.toolrag import ToolRAG

    root = tmp_path_factory.mktemp("trained-portable")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TINYAGENT_HOME", str(root))
        settings = Settings.load(backend="portable")
        ToolRAG.load_or_train(load_catalog(settings), settings)
    return root / "cache"


@pytest.fixture
def pane(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pane's size in the environment the program gets: under pytest, tmux handed it
    COLUMNS=80 and LINES=24 otherwise, and rich believes those before the terminal."""
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("LINES", "50")


@pytest.fixture
def terminal(home: Path, trained_portable: Path, pane: None) -> Iterator[Callable[..., Terminal]]:
    reuse_cache(trained_portable, home)
    with terminals(home) as open_terminal:
        yield open_terminal


def plan_titles(screen: str) -> list[str]:
    return [line.strip() for line in screen.splitlines() if line.strip() in ("Plan", "Plan (edited)")]


@needs_tmux
def test_terminal_repl_edits_a_plan_before_it_runs(terminal: Callable[..., Terminal], home: Path, editor: Editor,
                                                   server: Server) -> None:  # noqa: F811
    use_local_server(home, server.url)
    write_config(home, "backend: portable\nmodel: local\n")
    server.chunks = [WRONG_PLAN]
    editor.steps({"replace": [['"charger and socks")', '"charger and socks", "socks")']]},  # does not parse
                 {"replace": [['"charger and socks", "socks")', '"Travel")']]})  # fixed on the second opening
    term = terminal("chat")
    term.ready()
    term.type("make a note called Packing list with passport in the folder charger and socks")
    screen = term.wait_for("Run 1 action that changes things? [y/N/e]", 60)
    assert plan_titles(screen) == ["Plan"]  # drawn once, as it streamed in
    assert 'folder="charger and socks"' in screen
    term.type("e")
    screen = term.wait(lambda s: s.rstrip().endswith("[y/N/e]") and "Plan (edited)" in s, "the edited plan", 60)
    assert "the edited plan does not parse: line 1: create_note takes 3 arguments" in screen
    assert len(editor.seen) == 2  # reopened after the broken edit
    assert plan_titles(screen) == ["Plan", "Plan (edited)"]
    assert 'folder="Travel"' in screen.split("Plan (edited)")[1]
    term.type("y")
    term.wait_for("✓ create_note: Created note 'Packing list' in Travel", 60)
    term.ready(30)
    note = home / "data" / "notes" / "Travel" / "Packing list.md"
    assert "passport" in note.read_text(encoding="utf-8")
    assert not (home / "data" / "notes" / "charger and socks").exists()

    term.type("make a note called Packing list with passport in the folder charger and socks")
    term.wait(lambda s: s.rstrip().endswith("[y/N/e]") and plan_titles(s).count("Plan") == 2, "the second plan", 60)
    term.type("n")
    screen = term.wait_for("Nothing was run.", 30)
    assert "error:" not in screen and "not confirmed" not in screen
    term.ready(30)
    term.type("/history")
    term.wait_for("create_note (edited)", 30)
    term.type("/quit")
    assert term.exit_status() == 0
    records = HistoryLog(home / "data" / "history.sqlite3").list()
    assert [(r.confirmation, r.edited, r.exit_code) for r in records] == [("no", False, 4), ("yes", True, 0)]
    assert '"Travel"' in records[1].plan


@needs_tmux
def test_terminal_exec_edits_inline_without_an_editor(home: Path, tmp_path: Path, pane: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    write_config(home, "backend: portable\n")
    plan = tmp_path / "plan.txt"
    plan.write_text(WRONG_PLAN + "\n", encoding="utf-8")
    term = Terminal(home, "exec", str(plan))
    try:
        term.wait_for("[y/N/e]", 30)
        term.type("e")
        banner = "Esc-Enter (or Alt-Enter) when done"
        # Keys only once the editor shows the plan: typed earlier, a loaded machine loses them.
        term.wait(lambda s: banner in s and "2. join()" in s.split(banner)[-1], "the inline editor", 30)
        term.keys("Up", "End", *["BSpace"] * len('charger and socks")'))
        term.keys("-l", 'Travel")')
        term.wait(lambda s: '"passport", "Travel")' in s.split(banner)[-1], "the edit on the screen", 30)
        term.keys("Escape", "Enter")
        screen = term.wait(lambda s: "Plan (edited)" in s and s.rstrip().endswith("[y/N/e]"), "the edited plan", 30)
        assert 'folder="Travel"' in screen.split("Plan (edited)")[1]
        term.type("y")
        assert term.exit_status() == 0
    finally:
        term.close()
    assert (home / "data" / "notes" / "Travel" / "Packing list.md").exists()
    assert plan.read_text(encoding="utf-8") == WRONG_PLAN + "\n"  # the edit is run, the file left as it was
