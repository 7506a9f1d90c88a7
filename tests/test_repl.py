"""The REPL (`tinyagent chat`, or a bare `tinyagent` at a terminal).

Fast tests drive the real session in-process through prompt-toolkit's pipe input; the
slow ones run the real program in a tmux pseudo-terminal with the real model, and read
the screen the way a person would.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import to_plain_text
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import load_catalog
from tinyagent_cli.ui.repl import COMMANDS, HISTORY_FILENAME, Repl

from .conftest import REPO, reuse_cache, run_cli, write_config

UP = "\x1b[A"
ALT_ENTER = "\x1b\r"
CTRL_C = "\x03"
CTRL_D = "\x04"


# --------------------------------------------------------------------------- in-process


def session(home: Path, keys: str, warm_up: bool = False, **options: bool) -> tuple[Repl, int, str]:
    """Run one REPL session on ``keys``; the session, its exit code and what it printed."""
    settings = Settings.load()
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        repl = Repl(settings, load_catalog(settings), Console(file=out, width=120), input=pipe,
                    output=DummyOutput(), **options)
        code = repl.run(warm_up=warm_up)
    return repl, code, out.getvalue()


def toolbar(repl: Repl) -> str:
    return to_plain_text(repl.toolbar())


def test_help_lists_the_commands_and_keys(home: Path) -> None:
    _, code, out = session(home, "/help\r/quit\r")
    assert code == 0
    for command in COMMANDS:
        assert command in out
    assert "Esc-Enter or Alt-Enter" in out and "new line" in out


def test_quit_and_ctrl_d_end_the_session_with_0(home: Path) -> None:
    assert session(home, "/quit\r")[1] == 0
    repl, code, _ = session(home, "/yes on\r" + CTRL_D)
    assert code == 0 and repl.yes


def test_switches_show_in_the_toolbar(home: Path) -> None:
    repl, _, out = session(home, "/dry-run on\r/yes on\r/dry-run\r/quit\r")
    bar = toolbar(repl)
    assert "dry-run: on" in bar and "auto-yes: on" in bar
    assert "model: gemma3-270m" in bar and f"backend: {repl.settings.backend}" in bar
    assert out.count("dry-run: on") == 2  # set, then shown by the bare /dry-run

    repl, _, out = session(home, "/yes on\r/yes off\r/dry-run maybe\r/quit\r")
    assert "auto-yes: off" in toolbar(repl) and "dry-run: off" in toolbar(repl)
    assert "use /dry-run on or /dry-run off" in out


def test_unknown_model_is_one_line_and_the_session_goes_on(home: Path) -> None:
    repl, code, out = session(home, "/model no-such-model\r/help\r/quit\r")
    assert code == 0
    error = [line for line in out.splitlines() if "no-such-model" in line]
    assert len(error) == 1 and error[0].startswith("error: unknown model 'no-such-model'; the planners are ")
    assert ("the planners are gemma3-270m, gemma3-270m-planner, tinyagent-1.1b, tinyagent-7b, local-server"
            in " ".join(out.split()))  # the terminal may wrap the list
    assert out.index("no-such-model") < out.index("/history")  # /help answered afterwards
    assert repl.settings.config.model == "gemma3-270m-planner"


def test_model_switch_that_cannot_load_keeps_the_current_model(home: Path) -> None:
    repl, _, out = session(home, "/model whisper-tiny.en\r/model tinyagent-1.1b\r/model\r/quit\r")
    assert "error: whisper-tiny.en is a speech model; the planners are" in out
    assert "tinyagent models pull tinyagent-1.1b" in out  # a hub model nobody pulled here
    assert "still using gemma3-270m-planner" in out
    assert "model: gemma3-270m-planner — " in out
    assert "model: gemma3-270m-planner" in toolbar(repl)


def test_unknown_command_gives_a_hint(home: Path) -> None:
    _, code, out = session(home, "/mdoel\r/frobnicate\r/quit\r")
    assert code == 0
    assert "unknown command /mdoel: did you mean /model? /help lists the commands" in out
    assert "unknown command /frobnicate: /help lists the commands" in out


def test_tools_lists_the_active_tools_and_shows_one(home: Path) -> None:
    repl, _, out = session(home, "/tools\r/tools create_note\r/tools no_such_tool\r/quit\r")
    for name in repl.catalog.tools:
        assert name in out
    assert "create_note(name: str, content: str, folder: str)" in out
    assert "error:" in out and "no_such_tool" in out


def test_alt_enter_inserts_a_new_line(home: Path) -> None:
    repl, _, _ = session(home, "/dry-run" + ALT_ENTER + "on\r/quit\r")
    assert repl.dry_run  # "/dry-run\non" arrived as one input of two lines
    assert "/dry-run\non" in FileHistory(str(home / "data" / HISTORY_FILENAME)).load_history_strings()


def test_ctrl_c_at_the_prompt_clears_the_line(home: Path) -> None:
    repl, code, out = session(home, "/yes on" + CTRL_C + "/dry-run on\r/quit\r")
    assert code == 0
    assert repl.dry_run and not repl.yes  # the interrupted line never ran
    assert "/yes on" not in FileHistory(str(home / "data" / HISTORY_FILENAME)).load_history_strings()


def test_history_persists_across_sessions(home: Path) -> None:
    session(home, "/yes on\r/quit\r")
    repl, _, out = session(home, UP + UP + "\r/quit\r")  # Up: /quit, Up again: /yes on
    assert repl.yes and "yes: on" in out


def test_completion_of_commands_tools_models_and_switches(home: Path) -> None:
    repl, _, _ = session(home, "/quit\r")
    completer = repl.session.completer
    assert completer is not None

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]

    assert complete("/mo") == ["/model"]
    assert complete("/") == list(COMMANDS)
    assert complete("/tools create_") == ["create_calendar_event", "create_note", "create_reminder"]
    assert complete("/model ") == ["gemma3-270m", "gemma3-270m-planner", "tinyagent-1.1b", "tinyagent-7b",
                                   "local-server"]
    assert complete("/model tiny") == ["tinyagent-1.1b", "tinyagent-7b"]
    assert complete("/dry-run o") == ["on", "off"]
    assert complete("buy milk") == [] and complete("/help ") == []


def test_history_command_lists_logged_runs(home: Path) -> None:
    from tinyagent_cli.history import HistoryLog, RunRecord

    log = HistoryLog.for_settings(Settings.load())
    for n in range(12):
        log.record(RunRecord(query=f"query number {n}", model="gemma3-270m", backend="portable",
                             plan="1. create_note(\"a\", \"b\", \"\")\n2. join()", confirmation="yes", exit_code=0))
    _, _, out = session(home, "/history\r/quit\r")
    assert "query number 11" in out and "query number 2" in out
    assert "query number 1 " not in out and "query number 0" not in out  # the last 10 only


MISSING_MODEL = """\
models:
  - name: missing-file
    description: a planner whose file has gone
    backend: llama_cpp
    source:
      path: {path}
    license: none
    n_ctx: 2048
    prompt_style: completion
"""


def test_an_error_in_a_request_is_one_line_and_the_session_goes_on(home: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone.gguf"
    (home / "config" / "models.yaml").write_text(MISSING_MODEL.format(path=gone), encoding="utf-8")
    write_config(home, "model: missing-file\n")
    _, code, out = session(home, "remind me to buy milk\r/help\r/quit\r", warm_up=True)
    assert code == 0
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 2  # once loading at the start, once for the request
    assert all(str(gone) in line for line in errors)
    assert "Traceback" not in out
    assert "insert a new line" in out  # /help answered afterwards


def test_bare_tinyagent_without_a_terminal_prints_help(home: Path) -> None:
    result = run_cli(home)
    assert result.returncode == 0
    assert "Usage" in result.stdout and "chat" in result.stdout


# --------------------------------------------------------------------------- a real terminal

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def last_line(screen: str) -> str:
    lines = screen.rstrip().splitlines()
    return lines[-1] if lines else ""


class Terminal:
    """The program in a 160x50 tmux pane on a private tmux server."""

    def __init__(self, home: Path, *args: str) -> None:
        self.tmux = ["tmux", "-f", "/dev/null", "-L", f"tinyagent-test-{uuid.uuid4().hex[:12]}"]
        program = ["env", "-u", "TINYAGENT_MODEL", "-u", "TINYAGENT_BACKEND", f"TINYAGENT_HOME={home}",
                   sys.executable, "-m", "tinyagent_cli", *args]
        # A shell waits for the program and prints its exit status. Ctrl-C reaches the whole
        # process group, so the shell traps it (a trap, unlike ignoring, is not inherited).
        script = 'trap : INT; "$@"; echo "[exit $?]"; sleep 600'
        subprocess.run([*self.tmux, "new-session", "-d", "-x", "160", "-y", "50", "-c", str(REPO),
                        "sh", "-c", script, "sh", *program], check=True)
        self.socket = subprocess.run([*self.tmux, "display-message", "-p", "#{socket_path}"], check=True,
                                     capture_output=True, text=True).stdout.strip()

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-l", text], check=True)
        self.keys("Enter")

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-S", "-500"], check=True,
                              capture_output=True, text=True).stdout

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen:\n{self.screen()}")

    def wait_for(self, text: str, timeout: float = 180) -> str:
        return self.wait(lambda screen: text in screen, repr(text), timeout)

    def ready(self, timeout: float = 180) -> str:
        """Wait until the prompt is back: its toolbar is the last line on the screen."""
        return self.wait(lambda s: "auto-yes:" in last_line(s), "the prompt", timeout)

    def exit_status(self, timeout: float = 30) -> int:
        """Wait for the program to end; its exit status."""
        screen = self.wait(lambda s: re.search(r"\[exit \d+\]", s) is not None, "the program to exit", timeout)
        return int(re.findall(r"\[exit (\d+)\]", screen)[-1])

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)
        Path(self.socket).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def trained_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose tool classifier is trained and model assembled, shared by the terminal tests."""
    from tinyagent_cli.llm.files import ensure_installed
    from tinyagent_cli.llm.registry import load_registry
    from tinyagent_cli.retrieval.toolrag import ToolRAG

    root = tmp_path_factory.mktemp("trained-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TINYAGENT_HOME", str(root))
        env.delenv("TINYAGENT_BACKEND", raising=False)
        settings = Settings.load()
        ToolRAG.load_or_train(load_catalog(settings), settings)
        ensure_installed(load_registry(settings).get("gemma3-270m"), settings)
    return root


@pytest.fixture
def terminal_home(home: Path, trained_cache: Path) -> Path:
    """A fresh home that reuses the trained classifier and the assembled model file."""
    reuse_cache(trained_cache / "cache", home)
    (home / "data").mkdir()
    (home / "data" / "models").symlink_to(trained_cache / "data" / "models", target_is_directory=True)
    return home


@contextmanager
def terminals(home: Path) -> Iterator[Callable[..., Terminal]]:
    """Opens tinyagent in tmux panes on ``home``; every pane is closed at the end."""
    opened: list[Terminal] = []

    def open_terminal(*args: str) -> Terminal:
        opened.append(Terminal(home, *args))
        return opened[-1]

    try:
        yield open_terminal
    finally:
        for term in opened:
            term.close()


@pytest.fixture
def terminal(terminal_home: Path) -> Iterator[Callable[..., Terminal]]:
    with terminals(terminal_home) as open_terminal:
        yield open_terminal


@needs_tmux
@pytest.mark.slow
def test_terminal_bare_tinyagent_opens_the_repl(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    screen = term.ready()
    assert "gemma3-270m-planner ready in" in screen
    assert "dry-run: off" in last_line(screen)
    term.type("/dry-run on")
    term.wait(lambda s: "dry-run: on" in last_line(s), "dry-run on in the toolbar", 30)
    term.type("/model no-such-model")
    term.wait_for("error: unknown model 'no-such-model'", 30)
    term.type("/help")
    term.wait_for("insert a new line", 30)
    term.type("/quit")
    assert term.exit_status() == 0


@needs_tmux
@pytest.mark.slow
def test_terminal_words_to_the_shell_are_not_planned(terminal: Callable[..., Terminal], terminal_home: Path) -> None:
    term = terminal("chat")
    term.ready()
    term.type("thanks")
    term.wait_for("You're welcome", 30)
    term.ready(30)
    term.type("help")
    term.wait_for("insert a new line", 30)
    term.ready(30)
    term.type("exit")
    assert term.exit_status() == 0
    assert not (terminal_home / "data" / "history.sqlite3").exists()  # nothing was planned, nothing logged


@needs_tmux
@pytest.mark.slow
def test_terminal_dry_run_turn_draws_the_plan(terminal: Callable[..., Terminal]) -> None:
    term = terminal("chat")
    term.ready()
    term.type("/dry-run on")
    term.type("remind me to buy milk tomorrow at 9")
    screen = term.wait_for("dry run: nothing was executed")
    assert "create_reminder" in screen
    assert "Plan" in screen
    term.ready(30)
    term.keys("C-d")
    assert term.exit_status() == 0


@needs_tmux
@pytest.mark.slow
def test_terminal_ctrl_c_cancels_a_turn_and_the_session_goes_on(
        terminal: Callable[..., Terminal], terminal_home: Path) -> None:
    term = terminal("chat")
    term.ready()
    term.type("remind me to buy milk tomorrow at 9")
    # The toolbar goes when the line is taken: from then on the turn is planning or asking.
    term.wait(lambda s: "auto-yes:" not in s, "the turn to start", 30)
    term.keys("C-c")
    term.wait_for("cancelled", 60)
    term.ready(30)
    term.type("/help")
    term.wait_for("insert a new line", 30)
    reminders = terminal_home / "data" / "reminders"
    assert not reminders.exists() or not any(reminders.iterdir())  # nothing was created
    term.type("/quit")
    assert term.exit_status() == 0


@needs_tmux
@pytest.mark.slow
def test_terminal_history_comes_back_in_the_next_session(terminal: Callable[..., Terminal]) -> None:
    first = terminal("chat")
    first.ready()
    first.type("/tools create_note")
    first.wait_for("create_note(name: str", 30)
    first.type("/quit")
    assert first.exit_status() == 0

    second = terminal("chat")
    second.ready()
    second.keys("Up")
    second.wait(lambda s: "tinyagent> /quit" in s, "Up to bring back /quit", 30)
    second.keys("Up")
    second.wait(lambda s: "tinyagent> /tools create_note" in s, "Up to bring back /tools create_note", 30)


@pytest.mark.parametrize(("line", "shown"), [
    ("help", "insert a new line"), ("Thanks!", "You're welcome"), ("ok", "You're welcome"), ("Hello", "Hello.")])
def test_words_to_the_shell_are_not_planned(home: Path, line: str, shown: str) -> None:
    gone = home / "gone.gguf"
    (home / "config" / "models.yaml").write_text(MISSING_MODEL.format(path=gone), encoding="utf-8")
    write_config(home, "model: missing-file\n")  # planning it would be an error line
    _, code, out = session(home, f"{line}\rexit\r")
    assert code == 0 and shown in out and "error:" not in out


def test_exit_and_quit_leave_the_session(home: Path) -> None:
    for word in ("exit", "Quit.", "bye"):
        _, code, out = session(home, f"{word}\r/help\r/quit\r")
        assert code == 0 and "insert a new line" not in out  # left before /help
