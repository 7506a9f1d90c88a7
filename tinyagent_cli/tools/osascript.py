"""Run the pack's static AppleScript files through osascript, with data only in argv.

TinyAgent built AppleScript with f-strings, so a ``"`` in a contact name ended the string
and any AppleScript could follow. Here every script is a file in the pack's ``macos/``
folder, sent byte for byte on stdin (``osascript - ARG...``); arguments reach the
script's ``on run argv`` as a list of strings and never become source.

Failures are read from the number osascript prints at the end of stderr
(``execution error: ... (-1743)``), not from its text, which macOS localises. Our own
scripts signal what they could not find or refused to do with ``error "..." number 41xx``
(the numbers below, documented at the top of each script).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import OutcomeUnknown, ToolError, ToolUnavailable
from .context import ToolContext

SCRIPTS_DIR = "macos"  # inside the pack folder

# Numbers our scripts raise.
NOT_FOUND = 4101  # nothing has the name asked for
NO_VALUE = 4102  # found, but it lacks the value asked for (a contact without a phone)
NO_SUCH_CONTAINER = 4103  # no calendar/list/folder of that name; the message lists the real ones
NOTHING_SELECTED = 4104  # reply/forward with no message selected in Mail and none new in the inbox
HAS_ATTACHMENTS = 4105  # appending would drop the note's attachments: refused, nothing changed
LOCKED = 4106  # the note is password protected: refused, nothing changed

# Numbers macOS raises that we explain.
NOT_AUTHORISED = frozenset({-1743, -1744})  # errAEEventNotPermitted, errAEEventWouldRequireUserConsent
CANNOT_GET = frozenset({-1728, -1719})  # errAENoSuchObject, errAEIllegalIndex
FILE_NOT_FOUND = -43
USER_CANCELLED = -128
APP_GONE = frozenset({-600, -609})  # procNotFound, connectionInvalid
EVENT_TIMED_OUT = -1712
READ_ONLY = frozenset({-10003, -10004})  # errAEWriteDenied, errAEPrivilegeError: a read-only calendar or list

# macOS limits argv and environment together to 1 MiB (ARG_MAX); stay clear of it.
MAX_ARGV_BYTES = 900_000

_EXECUTION_ERROR = re.compile(r"execution error: (.*) \((-?\d+)\)\s*$", re.DOTALL)
_APP_PREFIX = re.compile(r"^.{1,80}? got an error: ", re.DOTALL)


class ScriptError(ToolError):
    """osascript failed; ``number`` is its error number (None if it printed none)."""

    def __init__(self, message: str, number: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.number = number
        self.detail = detail  # the script's own message: for 4103, the real names, one a line

    @property
    def names(self) -> list[str]:
        """For NO_SUCH_CONTAINER: the names that do exist."""
        return [line for line in self.detail.splitlines() if line.strip()]


class NoAnswer(ScriptError, OutcomeUnknown):
    """The app did not answer in time: often macOS waiting on its permission dialog. What it
    was asked may still have happened (OutcomeUnknown)."""

    def __init__(self, app: str, waited: str, number: int | None = None) -> None:
        super().__init__(
            f"{app} did not answer {waited}: macOS may be waiting for you to answer its permission dialog "
            f"(the first request to each app asks), or a dialog is open in {app}; answer it first",
            number,
        )


class NotAuthorised(ToolUnavailable):
    """macOS refused to let us control ``app`` (TCC automation permission, -1743)."""

    def __init__(self, app: str) -> None:
        super().__init__(
            f"macOS does not allow this terminal to control {app}: allow it in System Settings > "
            f"Privacy & Security > Automation (your terminal app > {app}), "
            "or run `tccutil reset AppleEvents` to be asked again"
        )
        self.app = app


def reject_nul(label: str, value: str | Sequence[str]) -> None:
    """A NUL cannot travel in argv on any OS: refuse it rather than pass a truncated value."""
    values = [value] if isinstance(value, str) else value
    if any("\x00" in v for v in values):
        raise ToolError(f"{label} contains a NUL character (\\0), which cannot be passed to a program; remove it")


def macos_program(name: str) -> str:
    """The path of a program only macOS has (osascript, mdfind, open), or ToolUnavailable."""
    found = shutil.which(name)
    if found is None:
        raise ToolUnavailable(f"the macos backend needs macOS ({name} not found); use --backend portable here")
    return found


def script_source(pack_dir: Path, name: str) -> str:
    """The static script ``name`` exactly as stored (bytes decoded, no newline translation)."""
    path = pack_dir / SCRIPTS_DIR / f"{name}.applescript"
    try:
        return path.read_bytes().decode("utf-8")
    except OSError:
        raise ToolError(f"the AppleScript file {path} is missing: reinstall tinyagent") from None


def run_script(ctx: ToolContext, name: str, args: Sequence[str], *, app: str, what: str = "") -> str:
    """Run ``macos/<name>.applescript`` with ``args`` as its argv and return its result text.

    ``app`` names the application the script drives and ``what`` what it looks for
    ("a contact named 'Sarah'"), both for error messages. Raises NotAuthorised,
    ToolUnavailable, or ScriptError carrying osascript's error number.
    """
    for i, arg in enumerate(args, 1):
        if not isinstance(arg, str):
            raise TypeError(f"argument {i} of {name} is {type(arg).__name__}, not str")
        reject_nul(f"argument {i} of {name}", arg)
    size = sum(len(a.encode("utf-8")) + 1 for a in args)
    if size > MAX_ARGV_BYTES:
        raise ToolError(f"the text for {app} is too long ({size:,} bytes; macOS passes at most about 1 MB)")
    source = script_source(ctx.pack_dir, name)
    limit = ctx.settings.config.osascript_timeout
    started = time.monotonic()
    try:
        proc = ctx.run([macos_program("osascript"), "-", *args], input=source, timeout=limit)
    except ToolUnavailable:
        raise
    except ToolError:
        if ctx.cancel.is_set() or time.monotonic() - started < limit:
            raise  # cancelled, or osascript could not start
        raise NoAnswer(app, f"within {limit:g} s (osascript_timeout in config)") from None
    if proc.returncode != 0:
        raise _failure(proc.stderr, app=app, what=what)
    out = proc.stdout
    return out[:-1] if out.endswith("\n") else out  # osascript adds one newline after the result


def parse_error(stderr: str) -> tuple[int | None, str]:
    """``(number, message)`` from osascript's stderr; the number is None if there is none."""
    text = stderr.strip()
    found = _EXECUTION_ERROR.search(text)
    if found is None:
        return None, text.splitlines()[-1] if text else ""
    return int(found.group(2)), _APP_PREFIX.sub("", found.group(1)).strip()


def _failure(stderr: str, *, app: str, what: str) -> ToolError:
    number, message = parse_error(stderr)
    if number in NOT_AUTHORISED:
        return NotAuthorised(app)
    if what and (number == NOT_FOUND or number in CANNOT_GET):
        return ScriptError(f"{app} has no {what}", number, message)
    if number in CANNOT_GET:  # outside a lookup it is not "not found": the app lacked something the script used
        return ScriptError(f"{app} could not get something the request needs: {message} ({number})", number, message)
    if number in READ_ONLY:
        return ScriptError(f"{app} did not allow the change: it is read-only there ({message}, {number}); "
                           "choose one you can edit", number, message)
    if number == NOTHING_SELECTED:
        return ScriptError(f"no message is selected in {app} and its inbox has none from the last week: "
                           "select one, then ask again", number, message)
    if number == FILE_NOT_FOUND:
        return ScriptError(f"{app} could not find a file ({message})", number, message)
    if number == USER_CANCELLED:
        return ScriptError(f"cancelled in {app}", number, message)
    if number in APP_GONE:
        return ScriptError(f"{app} is not running or quit while answering; open it and try again", number, message)
    if number == EVENT_TIMED_OUT:
        return NoAnswer(app, "in time (-1712)", number)
    if number is None:
        return ScriptError(f"osascript failed: {message or 'no error message'}")
    return ScriptError(f"{app}: {message} ({number})", number, message)
