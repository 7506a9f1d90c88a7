"""The terminal's side of a turn (``loop.Frontend``): the plan drawn as it arrives, the
question before anything changes, live progress, the finished tree.

The plan is drawn once: with a live display, its last frame stays on the screen while the
person decides, and what runs after the confirmation shows live only until the answer
replaces it; without one (a pipe, ``--json``), the finished tree is printed once, or
before the question when a person is there to read it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from ..errors import Declined
from ..loop import Decision, Outcome
from ..plan.tasks import Plan, Status, Task, TaskResult
from ..tools.spec import Catalog
from .confirm import confirm
from .edit import edit_plan
from .render import PlanView


class TerminalFrontend:
    def __init__(self, catalog: Catalog, console: Console, *, quiet: bool = False, live: bool | None = None,
                 stdin_is_tty: bool | None = None) -> None:
        self.catalog = catalog
        self.console = console
        self.quiet = quiet  # --json: the JSON is the whole output
        self.live = not quiet and (console.is_terminal if live is None else live)
        self.stdin_is_tty = sys.stdin.isatty() if stdin_is_tty is None else stdin_is_tty
        self.view = PlanView(catalog)
        self._display: Live | None = None
        self._drawn = False  # the finished plan is on the screen already

    def begin(self, title: str) -> None:
        self.view = PlanView(self.catalog, title)
        self._drawn = False
        self._show(transient=False)

    def arrived(self, task: Task) -> None:
        self.view.add(task)

    def updated(self, task_id: int, status: Status, result: TaskResult | None, seconds: float) -> None:
        self.view.update(task_id, status, result, seconds)

    def targeted(self, task_id: int, target: str) -> None:
        self.view.targets[task_id] = target

    def decide(self, plan: Plan, actions: int) -> Decision:
        if self._display is not None:  # its last frame stays: the plan the person decides on
            self.close()
        elif self.stdin_is_tty:
            self.console.print(self.view)
            self._drawn = True
        try:
            while True:
                answer = confirm(self.console, actions, assume_yes=False, stdin_is_tty=self.stdin_is_tty)
                if answer != "edit":
                    return Decision("yes")
                edited = edit_plan(plan, self.catalog, self.console)
                if edited is not None:
                    return Decision("edit", edited)
        except Declined as exc:
            return Decision("no" if self.stdin_is_tty else "refused", reason=str(exc))

    def confirmed(self) -> None:
        self._show(transient=True)  # progress until the answer takes its place

    def close(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    def end(self, outcome: Outcome) -> None:
        if not self.live and not self.quiet and not self._drawn:  # no live display drew it: once, finished
            self.console.print(self.view)

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/yellow]")

    def _show(self, *, transient: bool) -> None:
        if self.live:
            self._display = Live(self.view, console=self.console, refresh_per_second=12, transient=transient)
            self._display.start()


def print_outcome(console: Console, outcome: Outcome, error: Callable[[str], None]) -> None:
    """What a turn came to, after its tree: whether it was a dry run, the answer, the error
    (through ``error``: stderr for one-shot runs, the session's own line in the REPL)."""
    if outcome.dry_run:
        console.print("[dim]dry run: nothing was executed[/dim]")
    elif outcome.answer is not None:
        console.print(outcome.answer.text, markup=False, highlight=False)
    if outcome.error:
        error(outcome.error)
