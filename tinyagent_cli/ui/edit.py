"""``e`` at the confirmation: the person corrects the plan text before anything changes.

The plan opens in ``$VISUAL`` or ``$EDITOR`` (split like a shell would, never run by
one), or without either in an inline prompt-toolkit editor. What comes back is parsed
exactly like any plan; a plan that no longer parses is shown with the parser's message
and opened again as it was written, until it parses or the person gives up on the edit.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..errors import PlanError
from ..plan.parser import parse_plan
from ..plan.tasks import Plan
from ..tools.spec import Catalog

# Lines starting with "#" are ours (no plan line can start so) and are dropped before parsing.
HEADER = (
    "# Edit the plan, then save and quit: it is checked and shown again before anything runs.\n"
    "# Lines starting with # are ignored; an empty plan (or quitting without saving) keeps the old one.\n"
)


def edit_plan(plan: Plan, catalog: Catalog, console: Console) -> Plan | None:
    """The plan as the person corrected it; None when they left it as it was."""
    original = plan.to_text()
    text, error = original, ""
    while True:
        edited = _edit(text, error, console)
        if edited is None or not edited.strip() or edited == original:
            console.print("[dim]plan unchanged[/dim]")
            return None
        try:
            return parse_plan(edited, catalog)
        except PlanError as exc:
            error = str(exc)
            console.print(f"[red]the edited plan does not parse:[/red] {escape(error)} [dim](opening it again)[/dim]",
                          highlight=False)
            text = edited


def _edit(text: str, error: str, console: Console) -> str | None:
    """The text after the person edited it, without our comment lines; None if they cancelled."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor:
        note = f"# The last edit did not parse: {' '.join(error.split())}\n" if error else ""
        written = _in_editor(shlex.split(editor), HEADER + note + text, console)
        if written is not None:
            return "".join(line for line in written.splitlines(keepends=True) if not line.startswith("#"))
        return None
    return _inline(text, console)


def _in_editor(command: list[str], text: str, console: Console) -> str | None:
    fd, name = tempfile.mkstemp(prefix="tinyagent-plan-", suffix=".txt")  # private to this user
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            done = subprocess.run([*command, str(path)])
        except OSError as exc:
            console.print(f"[red]cannot start the editor {escape(command[0])}:[/red] {escape(exc.strerror or str(exc))}",
                          highlight=False)
            return None
        if done.returncode != 0:
            console.print(f"[yellow]the editor exited with status {done.returncode}[/yellow]")
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    finally:
        path.unlink(missing_ok=True)


def _inline(text: str, console: Console) -> str | None:
    """No editor set: edit in place at the terminal (Enter: new line, Esc-Enter: done)."""
    from prompt_toolkit import prompt

    console.print("[dim]Edit the plan; Esc-Enter (or Alt-Enter) when done, Ctrl-C to keep it as it was. "
                  "Set $EDITOR to use your editor.[/dim]")
    try:
        # In its own thread: the turn's event loop is running, and prompt-toolkit wants its own.
        return prompt("", default=text.rstrip("\n"), multiline=True, in_thread=True) + "\n"
    except (KeyboardInterrupt, EOFError):
        return None
