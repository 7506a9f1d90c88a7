"""Asking before anything changes: ``[y/N]`` at a terminal, ``--yes`` in scripts.

With no terminal to ask and no ``--yes``, the answer is a refusal at once (never a
hang waiting on a pipe), and the message names ``--yes``.
"""

from __future__ import annotations

import sys

from rich.console import Console

from ..errors import Declined


def confirm(console: Console, actions: int, *, assume_yes: bool, stdin_is_tty: bool | None = None) -> str:
    """Return how it was confirmed ("yes" or "auto"); raise Declined otherwise."""
    if assume_yes:
        return "auto"
    if stdin_is_tty is None:
        stdin_is_tty = sys.stdin.isatty()
    if not stdin_is_tty:
        raise Declined(
            f"refusing to run {actions} action(s) that change things without a terminal to confirm: "
            "rerun with --yes"
        )
    noun = "action" if actions == 1 else "actions"
    try:
        reply = console.input(f"Run {actions} {noun} that change things? [y/N] ")
    except EOFError:
        reply = ""
    if reply.strip().lower() not in ("y", "yes"):
        raise Declined("not confirmed: nothing that changes things was run")
    return "yes"
