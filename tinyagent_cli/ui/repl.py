"""The REPL, ``tinyagent chat``: one loaded model, many requests.

A prompt-toolkit session reads a request (or a slash command); each request is one
turn of ``loop.Loop`` (tree drawn as the plan streams in, confirmation, live execution, answer), the
same as ``tinyagent run``. The Agent lives as long as the session, so only the first
load pays for the classifier and the model, and ``warm_up`` pays even that before the
first prompt. Nothing a person can cause ends the session: errors are one line, Ctrl-C
cancels the running turn, and only /quit or Ctrl-D leave. A line that is only "exit",
"help", "clear", "thanks" or "hello" is what it says, not a request to plan.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..agent import Agent
from ..errors import EXIT_INTERRUPTED, EXIT_OK, ModelError, TinyAgentError
from ..history import HistoryLog, RunRecord
from ..settings import Settings
from ..tools.spec import Catalog
from .render import tool_detail, tools_table
from ..loop import Loop, Outcome
from .turn import TerminalFrontend, print_outcome

HISTORY_FILENAME = "repl_history"
PROMPT = "tinyagent> "

# Lines that are all a person says to the shell itself, not requests: planned, "exit"
# became get_email_address("Exit") and "thanks" a reply to the newest email.
_SPOKEN_COMMANDS = {
    **dict.fromkeys(("exit", "quit", "bye", "goodbye", "q"), "/quit"),
    **dict.fromkeys(("help", "?"), "/help"),
    **dict.fromkeys(("clear", "cls"), "/clear"),
}
_SMALL_TALK = {
    **dict.fromkeys(("thanks", "thank you", "thx", "ty", "ok", "okay", "cool", "great"), "You're welcome."),
    **dict.fromkeys(("hello", "hi", "hey", "hi there", "good morning", "good afternoon", "good evening"), "Hello."),
}


def _bare_words(text: str) -> str:
    """The line lowercased, without surrounding punctuation ("Thanks!" -> "thanks")."""
    return " ".join(text.lower().strip(" \t.!?,;:").split()) or text.strip()


# Command -> (argument hint, what it does), in the order /help lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "/help": ("", "this list"),
    "/tools": ("[NAME]", "the tools the planner may use, or one tool in detail"),
    "/model": ("[NAME]", "show the planner model, or switch to another one"),
    "/dry-run": ("on|off", "plan and draw only, run nothing"),
    "/yes": ("on|off", "run actions that change things without asking"),
    "/voice": ("", "say the request (default microphone)"),
    "/history": ("", "the last 10 runs"),
    "/clear": ("", "clear the screen"),
    "/quit": ("", "leave (Ctrl-D does too)"),
}
KEYS = (
    ("Enter", "run the request"),
    ("Esc-Enter or Alt-Enter", "insert a new line (multi-line requests)"),
    ("Tab", "complete slash commands, tool and model names"),
    ("→ or Ctrl-E", "accept the grey suggestion from history"),
    ("Up / Down", "earlier requests (kept across sessions)"),
    ("Ctrl-C", "clear the line; while a plan runs, cancel it"),
    ("Ctrl-D", "quit"),
)
_SWITCHES = ("on", "off")


class ReplCompleter(Completer):
    """Slash commands, then each command's argument: tool, model or on/off."""

    def __init__(self, arguments: Callable[[str], Iterable[str]]) -> None:
        self.arguments = arguments

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        command, space, arg = text.partition(" ")
        if not space:
            for name, (hint, help_text) in COMMANDS.items():
                if name.startswith(command):
                    yield Completion(name, -len(command), display_meta=help_text)
            return
        if " " in arg:  # every command takes at most one argument
            return
        for choice in self.arguments(command):
            if choice.startswith(arg):
                yield Completion(choice, -len(arg))


class Repl:
    """One interactive session: its settings, its Agent, and its two switches."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        console: Console,
        *,
        dry_run: bool = False,
        yes: bool = False,
        verbose: bool = False,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.console = console
        self.dry_run = dry_run
        self.yes = yes
        self.verbose = verbose
        self.agent = self._new_agent(settings)
        self.log = HistoryLog.for_settings(settings)
        history_file = settings.paths.data_dir / HISTORY_FILENAME
        history_file.parent.mkdir(parents=True, exist_ok=True)
        self.session: PromptSession[str] = PromptSession(
            PROMPT,
            history=FileHistory(str(history_file)),
            auto_suggest=AutoSuggestFromHistory(),
            completer=ReplCompleter(self._arguments),
            complete_while_typing=False,
            multiline=True,  # Enter is rebound to submit; see _key_bindings
            prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ",
            key_bindings=_key_bindings(),
            bottom_toolbar=self.toolbar,
            input=input,
            output=output,
        )

    def _new_agent(self, settings: Settings) -> Agent:
        return Agent(settings, self.catalog, verbose=self.verbose, console=self.console)

    # ---- the loop ----------------------------------------------------------------------

    def run(self, *, warm_up: bool = True) -> int:
        if warm_up:
            self._warm_up(self.agent)
        self.console.print("[dim]Type a request, or /help. Ctrl-D quits.[/dim]")
        while True:
            try:
                line = self.session.prompt()
            except KeyboardInterrupt:  # Ctrl-C at the prompt: drop the line, ask again
                continue
            except EOFError:  # Ctrl-D
                return EXIT_OK
            text = line.strip()
            if not text:
                continue
            said = _bare_words(text)
            command = text if text.startswith("/") else _SPOKEN_COMMANDS.get(said)
            if command is not None:
                if not self.command(command):
                    return EXIT_OK
            elif said in _SMALL_TALK:
                self.console.print(f"[dim]{_SMALL_TALK[said]} Type a request, or /help.[/dim]")
            else:
                self.turn(text)

    def _warm_up(self, agent: Agent) -> bool:
        """Load the classifier and model now, so the first request is as quick as the next."""
        name = agent.settings.config.model
        start = time.perf_counter()
        try:
            with self.console.status(f"loading {escape(name)}…"):
                agent.warm_up()
        except TinyAgentError as exc:
            self._error(str(exc))
            return False
        except KeyboardInterrupt:
            self.console.print("[yellow]loading cancelled[/yellow]")
            return False
        self.console.print(f"[dim]{escape(name)} ready in {time.perf_counter() - start:.1f}s[/dim]")
        return True

    def toolbar(self) -> FormattedText:
        def switch(on: bool) -> tuple[str, str]:
            return ("bold", "on") if on else ("", "off")

        return FormattedText([
            ("", " model: "), ("bold", self.settings.config.model),
            ("", "  backend: "), ("bold", self.settings.backend),
            ("", "  dry-run: "), switch(self.dry_run),
            ("", "  auto-yes: "), switch(self.yes),
            ("", "   Esc-Enter: new line  /help"),
        ])  # fmt: skip

    # ---- requests ----------------------------------------------------------------------

    def turn(self, query: str, *, transcript: str | None = None) -> Outcome | None:
        """Plan, confirm, run and answer one request; log it. Never raises."""
        loop = Loop(self.catalog, self.settings, TerminalFrontend(self.catalog, self.console), assume_yes=self.yes,
                    dry_run=self.dry_run)
        outcome = None
        with self._contained():
            self.agent.model  # noqa: B018 — loads here if warm-up did not, before the live tree starts
            outcome = loop.query(self.agent, query, transcript=transcript)
        if outcome is None:
            return None
        self._show(outcome)
        self.log.record(RunRecord.from_outcome(outcome, transcript=outcome.transcript))
        return outcome

    def _show(self, outcome: Outcome) -> None:
        if outcome.exit_code == EXIT_INTERRUPTED:
            tools = outcome.plan.tools_by_id() if outcome.plan else {}
            ran = [tools.get(r.id, "?") for r in outcome.results.values() if r.status == "done"]
            self.console.print(f"[yellow]cancelled[/yellow]: {escape(', '.join(ran)) + ' ran' if ran else 'nothing ran'}")
            return
        if outcome.confirmation == "no":  # the person's choice, not an error (one-shot runs still exit 4)
            self.console.print("Nothing was run.", markup=False, highlight=False)
            return
        print_outcome(self.console, outcome, self._error)
        timings = outcome.timings
        if "plan_s" in timings:
            self.console.print(f"[dim]planned in {timings['plan_s'] + timings.get('retrieval_s', 0.0):.2f}s, "
                               f"{timings.get('total_s', 0.0):.2f}s in all[/dim]")

    @contextmanager
    def _contained(self) -> Iterator[None]:
        """Whatever goes wrong in a request or command ends there, in one line, not the session."""
        try:
            yield
        except TinyAgentError as exc:
            self._error(str(exc))
        except KeyboardInterrupt:  # outside the turn's own Ctrl-C handling (retrieval, recording)
            self.console.print("[yellow]cancelled[/yellow]: nothing ran")
        except Exception as exc:  # a bug; the loaded model is still worth keeping
            if self.verbose:
                self.console.print_exception()
            hint = "" if self.verbose else "; run with -v for the traceback"
            self._error(f"internal error ({type(exc).__name__}: {exc}){hint}")

    def _error(self, message: str) -> None:
        self.console.print(f"[red]error:[/red] {escape(message)}", highlight=False)

    # ---- slash commands ----------------------------------------------------------------

    def command(self, text: str) -> bool:
        """Run one slash command; False when the session should end."""
        name, *rest = text.split()  # a multi-line command is still a command and its words
        arg = " ".join(rest)
        if name == "/quit":
            return False
        handlers: dict[str, Callable[[str], object]] = {
            "/help": self._help,
            "/tools": self._tools,
            "/model": self._model,
            "/dry-run": lambda a: self._switch(a, "dry_run", "/dry-run"),
            "/yes": lambda a: self._switch(a, "yes", "/yes"),
            "/voice": self._voice,
            "/history": self._history,
            "/clear": lambda a: self.console.clear(),
        }
        handler = handlers.get(name)
        if handler is None:
            close = difflib.get_close_matches(name, COMMANDS, n=1, cutoff=0.7)
            hint = f"did you mean {close[0]}? " if close else ""
            self.console.print(f"[yellow]unknown command {escape(name)}[/yellow]: {hint}/help lists the commands")
            return True
        with self._contained():
            handler(arg)
        return True

    def _help(self, arg: str) -> None:
        table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for name, (hint, help_text) in COMMANDS.items():
            table.add_row(escape(f"{name} {hint}".strip()), help_text)
        self.console.print("Type a request in your own words, or a command:")
        self.console.print(table)
        keys = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, what in KEYS:
            keys.add_row(key, what)
        self.console.print("Keys:")
        self.console.print(keys)

    def _tools(self, arg: str) -> None:
        if not arg:
            self.console.print(tools_table(self.catalog))
            return
        spec = self.catalog.get(arg)
        if spec is None:
            self._error(self.catalog.why_unavailable(arg))
            return
        self.console.print(tool_detail(spec))

    def _model(self, arg: str) -> None:
        from ..llm.registry import load_registry

        current = self.settings.config.model
        if not arg:
            spec = self.agent.model_spec
            self.console.print(f"model: [bold]{escape(spec.name)}[/bold] — {escape(spec.description)}")
            return
        if arg == current:
            self.console.print(f"already using {escape(arg)}")
            return
        registry = load_registry(self.settings)
        planners = [spec.name for spec in registry.planners()]
        if arg not in planners:
            what = f"{arg} is a speech model" if arg in registry.models else f"unknown model {arg!r}"
            raise ModelError(f"{what}; the planners are {', '.join(planners)}")
        settings = replace(self.settings, config=replace(self.settings.config, model=arg))
        agent = self._new_agent(settings)
        if not self._warm_up(agent):
            self.console.print(f"still using {escape(current)}")
            return
        self.settings, self.agent = settings, agent

    def _switch(self, arg: str, attribute: str, command: str) -> None:
        if arg not in ("", *_SWITCHES):
            self.console.print(f"[yellow]use {command} on or {command} off[/yellow]")
            return
        if arg:
            setattr(self, attribute, arg == "on")
        self.console.print(f"{command[1:]}: {'on' if getattr(self, attribute) else 'off'}")

    def _voice(self, arg: str) -> None:
        from rich.console import Console

        from ..commands.voice_cmds import listen

        text = listen(self.settings, self.console, None, meter=Console(stderr=True, highlight=False))
        self.turn(text, transcript=text)

    def _history(self, arg: str) -> None:
        from ..commands.history_cmds import list_command

        list_command(self.settings, self.console, False, 10)

    def _arguments(self, command: str) -> Iterable[str]:
        """What may follow ``command``, for Tab."""
        if command == "/tools":
            return list(self.catalog.tools)
        if command == "/model":
            try:
                from ..llm.registry import load_registry

                return [spec.name for spec in load_registry(self.settings).planners()]
            except TinyAgentError:  # a broken models.yaml shows up when a model is used
                return []
        if command in ("/dry-run", "/yes"):
            return _SWITCHES
        return []


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _submit(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    # Terminals send Alt-Enter as Escape then Enter, so this one binding serves both.
    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def run_repl(
    settings: Settings,
    catalog: Catalog,
    console: Console,
    *,
    dry_run: bool = False,
    yes: bool = False,
    verbose: bool = False,
    warm_up: bool = True,
    input: Input | None = None,
    output: Output | None = None,
) -> int:
    """Open the session and run it until /quit or Ctrl-D; the exit code."""
    repl = Repl(settings, catalog, console, dry_run=dry_run, yes=yes, verbose=verbose, input=input, output=output)
    return repl.run(warm_up=warm_up)

