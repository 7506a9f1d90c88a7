"""Passwords for servers: from a command the person names, or their keyring; never from a file.

``password_cmd`` is split like a shell line but run without a shell (``pass show mail``,
``secret-tool lookup service imap``); its first output line is the password. Without one,
the keyring (the optional ``keyring`` package) is asked for service ``tinyagent-SERVICE``.
"""

from __future__ import annotations

import shlex
import subprocess

from ..errors import ToolUnavailable

_TIMEOUT = 30.0  # a password manager may ask for its own passphrase first


def password(service: str, username: str, password_cmd: str) -> str:
    """The password for ``service`` (``imap``, ``caldav``); ToolUnavailable saying how to give one."""
    if password_cmd.strip():
        return _from_command(service, password_cmd)
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        keyring = None  # type: ignore[assignment]
    if keyring is not None:
        try:
            found = keyring.get_password(f"tinyagent-{service}", username)
        except KeyringError as exc:
            raise ToolUnavailable(f"{service}: the keyring did not answer ({exc})") from None
        if found:
            return found
    raise ToolUnavailable(
        f"{service}: no password: set {service}.password_cmd in the config (e.g. 'pass show {service}') "
        f"or store it with `keyring set tinyagent-{service} {username or 'USER'}`"
    )


def _from_command(service: str, command: str) -> str:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ToolUnavailable(f"{service}.password_cmd cannot be read as a command ({exc})") from None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=_TIMEOUT)
    except FileNotFoundError:
        raise ToolUnavailable(f"{service}.password_cmd: {argv[0]} is not installed or not on PATH") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolUnavailable(f"{service}.password_cmd failed: {exc}") from None
    lines = done.stdout.splitlines()
    if done.returncode != 0 or not lines or not lines[0]:
        why = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}, no output"]
        raise ToolUnavailable(f"{service}.password_cmd gave no password ({why[0]})")
    return lines[0]
