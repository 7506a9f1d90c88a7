"""Asking before anything changes: ``[y/N/e]`` at a terminal, ``--yes`` in scripts.

With no terminal to ask and no ``--yes``, the answer is a refusal at once (never a
hang waiting on a pipe), and the message names ``--yes``. ``e`` asks to edit the plan
first (``ui.edit``); the turn redraws the edited plan and asks again.
"""

from __future__ import annotations

import sys

from rich.console import Console

from ..errors import Declined


def actions_that_change(actions: int) -> str:
    """ "1 action that changes things", "2 actions that change things"."""
    return "1 action that changes things" if actions == 1 else f"{actions} actions that change things"


def confirm(console: Console, actions: int, *, assume_yes: bool, stdin_is_tty: bool | None = None) -> str:
    """Return how it was confirmed ("yes" or "auto"), or "edit"; raise Declined otherwise."""
    if assume_yes:
        return "auto"
    if stdin_is_tty is None:
        stdin_is_tty = sys.stdin.isatty()
    if not stdin_is_tty:
        raise Declined(
            f"refusing to run {actions_that_change(actions)} without a terminal to confirm: rerun with --yes"
        )
    try:
        reply = console.input(f"Run {actions_that_change(actions)}? [y/N/e] ", markup=False).strip().lower()
    except EOFError:
        reply = ""
    if reply in ("e", "edit"):
        return "edit"
    if reply not in ("y", "yes"):
        raise Declined("not confirmed: nothing that changes things was run")
    return "yes"
