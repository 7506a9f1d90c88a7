"""The macos backend: the 16 tools through the apps a Mac person already uses.

Contacts, Calendar, Mail, Notes and Reminders are driven by the pack's static
AppleScript files (``osascript.run_script``: data only in argv, dates as numbers, lists as
a count then the items). Maps and Messages open URLs with ``open`` (Maps' in the Maps app,
not a browser); files are found by Spotlight (``mdfind``). Mail and Messages only ever open
drafts the person can see and send themselves. PDF summaries and Zoom links are shared with
the portable backend.

Names a person says ("Sarah", "shopping list") are tried exactly first; on "not found"
the script lists the real names and ``matching.best_match`` picks one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlencode

from ..errors import ToolError
from .context import ToolContext
from .dates import default_end, from_iso, resolve_date
from .matching import best_match
from .osascript import (
    HAS_ATTACHMENTS,
    LOCKED,
    NO_SUCH_CONTAINER,
    NO_VALUE,
    NOT_FOUND,
    READ_ONLY,
    ScriptError,
    macos_program,
    reject_nul,
    run_script,
)

T = TypeVar("T")

MAPS_URL = "https://maps.apple.com/"
# Maps' dirflg for each transport of pack.yaml (the executor hands on its letter); Apple
# Maps' URLs have none for cycling.
_DIRFLG = {"d": "d", "w": "w", "r": "r"}
_FUZZY_WORDS = 3  # Spotlight name searches for the fuzzy pass: the longest words of the query
_FUZZY_CANDIDATES = 5000  # paths kept per search; enough for a home folder, bounded for speed
MAX_NAME_BYTES = 255  # no file name on macOS (APFS, HFS+) is longer


# --- arguments -----------------------------------------------------------------------------


def _text(label: str, value: str) -> str:
    reject_nul(label, value)
    return value


def _required(label: str, value: str) -> str:
    value = _text(label, value).strip()
    if not value:
        raise ToolError(f"{label} is empty")
    return value


def _items(label: str, values: Sequence[str] | str) -> list[str]:
    """A list argument without blanks (a lone string is a list of one)."""
    values = [values] if isinstance(values, str) else list(values)
    reject_nul(label, values)
    return [v.strip() for v in values if v.strip()]


def _counted(values: list[str]) -> list[str]:
    """A list as our scripts read it from argv: the count, then the items."""
    return [str(len(values)), *values]


def _date(ctx: ToolContext, label: str, value: str) -> datetime | None:
    """An ISO date from the parser, or a phrase when a tool is called directly."""
    text = _text(label, value)
    try:
        return from_iso(text)
    except ValueError:
        try:
            return resolve_date(text, ctx.now)
        except ValueError as exc:
            raise ToolError(f"{label}: {exc}") from None


def _date_parts(when: datetime) -> list[str]:
    """Year, month, day, hour, minute on the Mac's own clock, as the scripts read them."""
    local = when.astimezone() if when.tzinfo else when
    return [str(local.year), str(local.month), str(local.day), str(local.hour), str(local.minute)]


@contextmanager
def _named(app: str, kind: str, name: str, creating: bool = False) -> Iterator[None]:
    """Turn "no such calendar/list/folder" into a message listing the real ones; when
    ``creating`` in it, a read-only one's refusal into a message naming it."""
    try:
        yield
    except ScriptError as exc:
        if exc.number == NO_SUCH_CONTAINER:
            raise ToolError(f"{app} has no {kind} named {name!r}; it has: {', '.join(exc.names) or 'none'}") from None
        if creating and exc.number in READ_ONLY:
            which = f"{kind} {name!r}" if name else f"default {kind}"
            raise ToolError(f"the {which} in {app} is read-only (subscribed, or shared with you to read), so "
                            f"nothing was created; name a {kind} you can edit") from None
        raise


def _exact_then_fuzzy(query: str, attempt: Callable[[str], T], names: Callable[[], list[str]]) -> tuple[str, T] | None:
    """``attempt(query)``; if the script says NOT_FOUND, ``attempt`` the best-matching name."""
    try:
        return query, attempt(query)
    except ScriptError as exc:
        if exc.number != NOT_FOUND:
            raise
    match = best_match(query, names())
    return None if match is None else (match, attempt(match))


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _open(ctx: ToolContext, target: str, app: str = "") -> None:
    """``open`` a URL or an absolute path (neither can start with "-", so none is read as an option),
    with ``app`` if given, else with the default handler."""
    using = ["-a", app] if app else []
    proc = ctx.run([macos_program("open"), *using, target], timeout=ctx.settings.config.timeout)
    if proc.returncode != 0:
        reason = _lines(proc.stderr)[-1] if _lines(proc.stderr) else f"exit status {proc.returncode}"
        raise ToolError(f"could not open {target}: {reason}")


# --- Contacts --------------------------------------------------------------------------------


def _contact_value(ctx: ToolContext, kind: str, name: str) -> str:
    wanted = _required("name", name)
    label = "email address" if kind == "email" else "phone number"

    def lookup(who: str) -> str:
        try:
            return run_script(ctx, "contact_value", [kind, who], app="Contacts", what=f"contact named {who!r}").strip()
        except ScriptError as exc:
            if exc.number == NO_VALUE:
                raise ToolError(f"{who} has no {label} in Contacts") from None
            raise

    found = _exact_then_fuzzy(wanted, lookup, lambda: _lines(run_script(ctx, "contact_names", [], app="Contacts")))
    if found is None:
        raise ToolError(f"no contact named {wanted!r} in Contacts")
    return found[1]


def get_phone_number(ctx: ToolContext, name: str) -> str:
    return _contact_value(ctx, "phone", name)


def get_email_address(ctx: ToolContext, name: str) -> str:
    return _contact_value(ctx, "email", name)


# --- Calendar --------------------------------------------------------------------------------


def create_calendar_event(
    ctx: ToolContext,
    title: str,
    start_date: str,
    end_date: str,
    location: str,
    invitees: list[str],
    notes: str,
    calendar: str,
) -> str:
    title = _required("title", title)
    start = _date(ctx, "start_date", start_date)
    if start is None:
        raise ToolError("the event needs a start date")
    end = _date(ctx, "end_date", end_date) or default_end(start)
    if end <= start:
        raise ToolError(f"the event ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})")
    attendees = _items("invitees", invitees)
    calendar = _text("calendar", calendar).strip()
    args = [title, calendar, _text("location", location), _text("notes", notes),
            *_date_parts(start), *_date_parts(end), *_counted(attendees)]
    with _named("Calendar", "calendar", calendar, creating=True):
        out = run_script(ctx, "calendar_create_event", args, app="Calendar", what="writable calendar")
    used, *held = out.split("\n")  # the calendar, then the positions of the invitees the event holds
    added = [a for i, a in enumerate(attendees, 1) if str(i) in held]
    missed = [a for i, a in enumerate(attendees, 1) if str(i) not in held]
    span = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %Y-%m-%d %H:%M}"
    answer = f"Created event {title!r} on {start:%a %Y-%m-%d %H:%M}-{span} in calendar {used!r}"
    if added:  # scripting adds attendees but sends no invitation
        answer += f"; added {', '.join(added)} as attendees: open the event in Calendar to send the invitations"
    if missed:  # the event stands either way: a retry would only duplicate it
        answer += f"; could not add {', '.join(missed)} as attendees: add them to the event in Calendar"
    return answer


# --- Files -----------------------------------------------------------------------------------


def _spotlight_escape(text: str) -> str:
    """Text for inside a quoted Spotlight query value: backslash, both quotes and the * wildcard escaped."""
    return re.sub(r"""([\\"'*])""", r"\\\1", text)


def _mdfind(ctx: ToolContext, *query: str) -> list[str]:
    """Paths under the home folder that Spotlight finds; the query is one argv item, no shell."""
    argv = [macos_program("mdfind"), "-0", "-onlyin", str(Path.home()), *query]
    proc = ctx.run(argv, timeout=ctx.settings.config.timeout)
    if proc.returncode != 0:
        reason = _lines(proc.stderr)[-1] if _lines(proc.stderr) else f"exit status {proc.returncode}"
        raise ToolError(f"Spotlight search failed: {reason}")
    return [p for p in proc.stdout.split("\0") if p.strip()][:_FUZZY_CANDIDATES]


def _rank(path: str) -> tuple[bool, int, str]:
    """Visible files outside ~/Library first, then the shallowest."""
    parts = Path(path).parts
    home = Path.home()
    hidden = any(p.startswith(".") for p in parts) or Path(path).is_relative_to(home / "Library")
    return hidden, len(parts), path


def _find_file(ctx: ToolContext, name: str) -> str | None:
    value = _spotlight_escape(name)  # the name exactly, or with any extension; c: any case, d: any accents
    exact = _mdfind(ctx, f'kMDItemFSName == "{value}"cd || kMDItemFSName == "{value}.*"cd')
    if exact:
        return min(exact, key=_rank)
    by_name: dict[str, list[str]] = {}
    words = sorted(set(re.findall(r"\w{2,}", name)), key=len, reverse=True)[:_FUZZY_WORDS]
    for word in words:
        for path in _mdfind(ctx, "-name", word):
            file = Path(path)
            for key in {file.name, file.stem}:
                by_name.setdefault(key, []).append(path)
    match = best_match(name, sorted(by_name))
    return None if match is None else min(by_name[match], key=_rank)


def open_and_get_file_path(ctx: ToolContext, file_name: str) -> str:
    wanted = _required("file_name", file_name)
    given = Path(wanted).expanduser()
    size = len(given.name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise ToolError(f"no file has a name that long ({size:,} bytes; at most {MAX_NAME_BYTES})")
    found = str(given) if given.is_absolute() and given.exists() else _find_file(ctx, given.name)
    if found is None:
        raise ToolError(f"Spotlight found no file named like {wanted!r} in {Path.home()}")
    if ctx.asks_to_show():
        ctx.after_confirmation(lambda: _open(ctx, found))
    return found


def summarize_pdf(ctx: ToolContext, pdf_path: str) -> str:
    from .pdf import summarize_pdf_file

    return summarize_pdf_file(Path(_required("pdf_path", pdf_path)).expanduser())


# --- Mail ------------------------------------------------------------------------------------


def _attachments(values: list[str]) -> list[str]:
    paths = []
    for value in _items("attachments", values):
        path = Path(value).expanduser().absolute()
        if not path.exists():  # a directory is fine: Keynote and Pages files are packages
            raise ToolError(f"attachment not found: {path}")
        paths.append(str(path))
    return paths


def compose_new_email(
    ctx: ToolContext, recipients: list[str], cc: list[str], subject: str, context: str, attachments: list[str]
) -> str:
    to = _items("recipients", recipients)
    args = [_text("subject", subject), _text("context", context),
            *_counted(to), *_counted(_items("cc", cc)), *_counted(_attachments(attachments))]
    run_script(ctx, "mail_compose", args, app="Mail")
    return f"Opened a draft {subject!r} to {', '.join(to) or 'no one yet'} in Mail; it is not sent"


def _drafted(kind: str, out: str, text: str, to: list[str], cc: list[str], files: list[str]) -> str:
    """What mail_reply/mail_forward did, from their three lines: how the original was chosen,
    its sender, the draft's subject. The text is on the clipboard, never claimed to be in the draft."""
    how, sender, subject = (out.split("\n", 2) + ["", ""])[:3]
    original = "the newest message in the inbox" if how == "newest" else "the selected message"
    answer = f"Opened Mail's {kind} {subject!r} of {original}" + (f" (from {sender})" if sender else "")
    if to:
        answer += f", to {', '.join(to)}"
    if cc:
        answer += f", cc {', '.join(cc)}"
    if files:
        answer += f", attaching {', '.join(Path(f).name for f in files)}"
    answer += "; it is not sent"
    if text:
        answer += f"; your text is on the clipboard, not in the {kind}: paste it in (Cmd-V)"
    return answer


def reply_to_email(ctx: ToolContext, cc: list[str], context: str, attachments: list[str]) -> str:
    text, copies, files = _text("context", context), _items("cc", cc), _attachments(attachments)
    out = run_script(ctx, "mail_reply", [text, *_counted(copies), *_counted(files)], app="Mail")
    return _drafted("reply", out, text, [], copies, files)


def forward_email(
    ctx: ToolContext, recipients: list[str], cc: list[str], context: str, attachments: list[str]
) -> str:
    text, to = _text("context", context), _items("recipients", recipients)
    copies, files = _items("cc", cc), _attachments(attachments)
    out = run_script(ctx, "mail_forward", [text, *_counted(to), *_counted(copies), *_counted(files)], app="Mail")
    return _drafted("forward", out, text, to, copies, files)


# --- Maps ------------------------------------------------------------------------------------


def _maps_url(params: dict[str, str]) -> str:
    return MAPS_URL + "?" + urlencode(params, quote_via=quote)  # spaces as %20, "/" and "&" escaped


def maps_open_location(ctx: ToolContext, location: str) -> str:
    url = _maps_url({"q": _required("location", location)})
    _open(ctx, url, "Maps")  # a plain `open` hands maps.apple.com to the default browser
    return url


def maps_show_directions(ctx: ToolContext, start_location: str, end_location: str, transport: str) -> str:
    mode = _DIRFLG.get(_text("transport", transport) or "d")
    if mode is None:
        raise ToolError(f"Maps on macOS gives no directions for transport {transport!r}: d, w or r")
    params = {"daddr": _required("end_location", end_location), "dirflg": mode}
    start = _text("start_location", start_location).strip()
    if start:  # no saddr: Maps starts from the current location
        params = {"saddr": start, **params}
    url = _maps_url(params)
    _open(ctx, url, "Maps")
    return url


# --- Notes -----------------------------------------------------------------------------------


def _one_line(label: str, value: str) -> str:
    return " ".join(_required(label, value).split())


def _title_html(title: str) -> str:
    return f"<div><h1>{html.escape(title)}</h1></div>"


def _text_html(text: str) -> str:
    """Plain text as Notes HTML, escaped so that it reads as text, never as markup."""
    return "".join(f"<div>{html.escape(line)}</div>" if line else "<div><br></div>" for line in text.splitlines())


def _note_names(ctx: ToolContext, folder: str) -> Callable[[], list[str]]:
    return lambda: _lines(run_script(ctx, "notes_names", [folder], app="Notes"))


def create_note(ctx: ToolContext, name: str, content: str, folder: str) -> str:
    title = _one_line("name", name)
    folder = _text("folder", folder).strip()
    body = _title_html(title) + _text_html(_text("content", content))
    with _named("Notes", "folder", folder):
        used = run_script(ctx, "notes_create", [body, folder], app="Notes")
    return f"Created note {title!r} in Notes folder {used!r}"


def open_note(ctx: ToolContext, name: str, folder: str) -> str:
    title = _one_line("name", name)
    folder = _text("folder", folder).strip()

    def show(which: str) -> str:
        return run_script(ctx, "notes_open", [which, folder], app="Notes", what=f"note named {which!r}")

    with _named("Notes", "folder", folder):
        found = _exact_then_fuzzy(title, show, _note_names(ctx, folder))
    if found is None:
        raise ToolError(f"no note named {title!r} in Notes" + (f" folder {folder!r}" if folder else ""))
    return found[1].replace("\r\n", "\n").replace("\r", "\n").strip()


def append_note_content(ctx: ToolContext, name: str, content: str, folder: str) -> str:
    title = _one_line("name", name)
    folder = _text("folder", folder).strip()
    addition = _text_html(_text("content", content))

    def append(which: str, start: str = "") -> str:
        try:
            return run_script(ctx, "notes_append", [which, addition, folder, start], app="Notes",
                              what=f"note named {which!r}")
        except ScriptError as exc:
            if exc.number == HAS_ATTACHMENTS:
                raise ToolError(f"note {which!r} has images or attachments, which Notes drops when a script "
                                "appends to a note; nothing was changed: add the text in Notes") from None
            if exc.number == LOCKED:
                raise ToolError(f"note {which!r} is locked with a password, and a script cannot change it; "
                                "nothing was changed: add the text in Notes") from None
            raise

    with _named("Notes", "folder", folder):
        found = _exact_then_fuzzy(title, append, _note_names(ctx, folder))
        if found is None:
            append(title, _title_html(title))
            return f"Created note {title!r} in Notes with the text"
    return f"Appended to note {found[0]!r} in Notes"


# --- Reminders -------------------------------------------------------------------------------


def create_reminder(
    ctx: ToolContext, name: str, due_date: str, notes: str, list_name: str, priority: int, all_day: bool
) -> str:
    title = _required("name", name)
    due = _date(ctx, "due_date", due_date)
    try:
        level = int(priority)
    except (TypeError, ValueError):
        raise ToolError(f"priority must be a number from 0 to 9, not {priority!r}") from None
    if not 0 <= level <= 9:
        raise ToolError(f"priority must be from 0 (none) to 9 (low), not {level}")
    list_name = _text("list_name", list_name).strip()
    whole_day = bool(all_day) and due is not None
    args = [title, _text("notes", notes), list_name, str(level), "1" if due else "0", "1" if whole_day else "0",
            *(_date_parts(due) if due else ["0"] * 5)]
    with _named("Reminders", "list", list_name, creating=True):
        used = run_script(ctx, "reminders_create", args, app="Reminders")
    when = ""
    if due is not None:
        when = f", due {due:%a %Y-%m-%d}" + (" (all day)" if whole_day else f" {due:%H:%M}")
    return f"Created reminder {title!r} in list {used!r}{when}"


# --- Messages --------------------------------------------------------------------------------


def _address(value: str) -> str:
    """An iMessage address as is; a phone number as digits with its leading +."""
    if "@" in value:
        if "," in value:
            raise ToolError(f"not an address: {value!r}")
        return value
    digits = re.sub(r"[^\d+]", "", value)
    digits = digits[:1] + digits[1:].replace("+", "")
    if not re.search(r"\d", digits):
        raise ToolError(f"not a phone number: {value!r}")
    return digits


def send_sms(ctx: ToolContext, recipients: list[str], message: str) -> str:
    """Open a Messages composition with the recipients and text; the person presses send.

    Messages has no scriptable drafts, and scripting its "send" would send behind the
    person's back, so this opens an ``sms:`` URL, which needs no Automation or Accessibility
    permission.
    """
    to = [_address(r) for r in _items("recipients", recipients)]
    if not to:
        raise ToolError("recipients is empty: give at least one phone number")
    addresses = ",".join(quote(a, safe="@") for a in to)
    url = f"sms://open?addresses={addresses}&body={quote(_text('message', message), safe='')}"
    _open(ctx, url)
    return f"Opened a message to {', '.join(to)} in Messages; it is not sent"


# --- Zoom ------------------------------------------------------------------------------------


def get_zoom_meeting_link(
    ctx: ToolContext, topic: str, start_time: str, duration: int, meeting_invitees: list[str]
) -> str:
    from .zoom import create_meeting

    start = _date(ctx, "start_time", start_time)
    invitees = _items("meeting_invitees", meeting_invitees)
    return create_meeting(ctx.settings, _text("topic", topic), start, int(duration), invitees)
