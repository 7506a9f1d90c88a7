"""The portable backend: the TinyAgent tools on real files and servers other programs read.

Where things go (``On Linux`` in README.md says how to set each up):

- contacts: vCard files in a vdir (``*.vcf`` in the folder and its address books), khard's
  folder by default, read with vobject;
- events and reminders: one VEVENT/VTODO per ``<uid>.ics`` in a vdir collection (``vdir.py``;
  khal's and todoman's folders by default), or on a CalDAV server (``caldav.py``);
- notes/<folder>/<title>.md, Markdown with ``# Title`` on the first line;
- drafts: into an IMAP account's Drafts (``imap.py``), else mail/drafts/*.eml (X-Unsent: 1)
  handed to the mail program through xdg-email; replies and forwards act on
  ``portable.reply_to``, else the newest INBOX message (IMAP) or ``mail/inbox/*.eml``;
- maps: Google, OpenStreetMap or geo: links; files: plocate, fd, else a walk.

Names from a plan become file names only through ``files.safe_name`` + ``files.inside``.
Writes are atomic; read-modify-write holds the folder's lock (``files.folder_lock``), across
processes too.
Texts (send_sms) go through KDE Connect's ``kdeconnect-cli`` to a paired phone; without
one, ``unavailable`` takes send_sms out of the catalog and says how to get it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..errors import OutcomeUnknown, ToolError, ToolUnavailable
from ..settings import Settings
from . import vdir
from .context import KEY_HEADER, ToolContext
from .dates import default_end, from_iso, resolve_date
from .files import (
    atomic_write_bytes,
    atomic_write_text,
    folder_lock,
    inside,
    safe_name,
    unique_path,
)
from .matching import SENDERS_SCANNED, best_match, normalise, sender_words, words

if TYPE_CHECKING:
    from . import imap

log = logging.getLogger(__name__)

DEFAULT_CALENDAR = "Calendar"
DEFAULT_REMINDERS = "Reminders"
DEFAULT_NOTES_FOLDER = "Notes"
PRODID = "-//tinyagent//tinyagent-cli//EN"
# A home folder can hold millions of files: the search stops at whichever comes first.
MAX_WALK_ENTRIES = 200_000
MAX_WALK_SECONDS = 5.0
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "Trash"})
_OPEN_TIMEOUT = 10.0
# xdg-email says at once when no mail program is set up; one it starts may run on for hours
_COMPOSE_WAIT = 2.0
_DRAFTS_CHECKED = 50  # a retry follows its first try within seconds: the newest drafts suffice
KDECONNECT = "kdeconnect-cli"
_KDECONNECT_TIMEOUT = 10.0  # the first call may start the KDE Connect daemon
_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+$")
# Google's travelmode for each transport of pack.yaml (the executor hands on its letter).
_TRAVELMODE = {"d": "driving", "w": "walking", "r": "transit", "b": "bicycling"}


# ---------------------------------------------------------------- shared pieces


STORES = {"calendars_dir": "calendars", "reminders_dir": "reminders", "contacts_dir": "contacts"}


def data_folder(settings: Settings, key: str) -> Path:
    """A ``portable.*_dir`` folder (relative to the data dir unless the config gives an
    absolute one; the vdir ones as ``store`` finds them)."""
    if key in STORES:
        return store(settings, STORES[key]).root
    return settings.paths.data_dir / Path(getattr(settings.config.portable, key)).expanduser()


def _date_arg(ctx: ToolContext, text: str, what: str) -> datetime | None:
    """A date argument: ISO from the plan parser, or a phrase when the tool is called directly."""
    try:
        return from_iso(text)
    except ValueError:
        pass
    try:
        return resolve_date(text, ctx.now)
    except ValueError as exc:
        raise ToolError(f"{what}: {exc}") from None


def _when(dt: datetime) -> str:
    return dt.strftime("%a %d %b %Y %H:%M")


def _addresses(values: Iterable[str], what: str) -> list[tuple[str, str]]:
    """(display name, address) pairs; ToolError naming every value that is no email address.

    One value may hold several, as a person writes them: "ana@x.org, Bo <bo@y.org>",
    "ana@x.org; bo@y.org", "ana@x.org bo@y.org". Nothing is dropped silently.
    """
    from email.utils import getaddresses

    found: list[tuple[str, str]] = []
    bad: list[str] = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        bare = [t for t in re.split(r"[,;\s]+", value) if t]
        if "<" not in value and '"' not in value and all(_ADDRESS.match(t) for t in bare):
            pairs = [("", t) for t in bare]
        else:
            pairs = [(n, a) for n, a in getaddresses([value]) if (n or a).strip()]
        if pairs and all(a and _ADDRESS.match(a) and "@" not in n for n, a in pairs):
            found.extend(pairs)
        else:
            bad.append(value)
    if bad:
        listed = ", ".join(repr(b) for b in bad)
        raise ToolError(f"{what}: not an email address: {listed} (look it up with get_email_address first)")
    return found


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_url(ctx: ToolContext, url: str) -> None:
    """Show a URL in the person's browser (a geo: URI in their map app), without waiting for
    it; silently not when headless."""
    if not ctx.settings.config.portable.open_files or not _has_display():
        return
    if not url.startswith("http"):
        _open_path(ctx, url)  # only the system opener knows which program takes geo:
        return
    import threading
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return
    # A text-mode browser would take over the terminal and block; a thread keeps the plan going.
    threading.Thread(target=browser.open, args=(url,), daemon=True).start()


def _open_path(ctx: ToolContext, path: Path | str) -> None:
    """Open a file (or URI) with the system opener; failing to show it does not fail finding it."""
    if not ctx.settings.config.portable.open_files or not _has_display():
        return
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # the only opener Windows has
        return
    argv = ["open", str(path)] if sys.platform == "darwin" else ["xdg-open", str(path)]
    try:
        done = ctx.run(argv, timeout=_OPEN_TIMEOUT)
    except ToolError as exc:
        log.warning("could not open %s: %s", path, exc)
        return
    if done.returncode != 0:
        log.warning("could not open %s: %s", path, done.stderr.strip() or f"exit {done.returncode}")


# ---------------------------------------------------------------- contacts (vCard)


@dataclass(frozen=True)
class Contact:
    name: str
    emails: tuple[str, ...]  # preferred first
    phones: tuple[str, ...]  # preferred first
    nicknames: tuple[str, ...]
    file: Path


def _preferred_first(lines: Sequence[Any]) -> tuple[str, ...]:
    """Values of EMAIL/TEL lines, those marked preferred (vCard 3 TYPE=pref, vCard 4 PREF=n) first."""

    def rank(line: Any) -> int:
        params = {k.upper(): [str(v).lower() for v in vs] for k, vs in line.params.items()}
        if "pref" in params.get("TYPE", []):
            return 1
        if "PREF" in params:
            try:
                return int(params["PREF"][0])
            except ValueError:
                return 1
        return 101

    ordered = sorted(enumerate(lines), key=lambda item: (rank(item[1]), item[0]))
    return tuple(str(line.value).strip() for _, line in ordered if str(line.value).strip())


def card_name(card: Any) -> str:
    """FN, or the N property's given and family names."""
    if "fn" in card.contents and str(card.fn.value).strip():
        return " ".join(str(card.fn.value).split())
    if "n" in card.contents:
        n = card.n.value
        return " ".join(f"{n.prefix} {n.given} {n.additional} {n.family} {n.suffix}".split())
    return ""


def read_vcards(path: Path) -> list[Any]:
    """Every card in a .vcf file; ValueError naming the file when it is not vCard."""
    import vobject

    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        cards = [c for c in vobject.readComponents(text) if c.name.upper() == "VCARD"]
    except (OSError, vobject.base.ParseError, ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path} is not a readable vCard file ({type(exc).__name__}: {exc})") from None
    return cards


def contact_folders(settings: Settings) -> list[Path]:
    """Where contacts are read: the folder in force, and the data dir's own when that is
    another (contacts imported before khard was set up are read where they are)."""
    folders = [data_folder(settings, "contacts_dir"), settings.paths.data_dir / "contacts"]
    return [f for f in dict.fromkeys(folders) if f == folders[0] or f.is_dir()]


def load_contacts(folders: Sequence[Path]) -> list[Contact]:
    """Every contact in the .vcf files of the folders and of their address books (a vdir's
    collections); unreadable files are logged and skipped."""
    contacts: list[Contact] = []
    files = [f for folder in folders for f in [*sorted(folder.glob("*.vcf")), *sorted(folder.glob("[!.]*/*.vcf"))]]
    for file in files:
        try:
            cards = read_vcards(file)
        except ValueError as exc:
            log.warning("%s", exc)
            continue
        for card in cards:
            name = card_name(card)
            if not name:
                continue
            nicknames = tuple(str(line.value).strip() for line in card.contents.get("nickname", []))
            contacts.append(
                Contact(
                    name=name,
                    emails=_preferred_first(card.contents.get("email", [])),
                    phones=_preferred_first(card.contents.get("tel", [])),
                    nicknames=tuple(n for n in nicknames if n),
                    file=file,
                )
            )
    return contacts


def _find_contact(ctx: ToolContext, name: str) -> Contact:
    if not name.strip():
        raise ToolError("no contact name given")
    folders = contact_folders(ctx.settings)
    contacts = load_contacts(folders)
    folder = " or ".join(str(f) for f in folders)
    if not contacts:
        raise ToolError(f"no contacts in {folder}: import a vCard file with `tinyagent contacts import FILE.vcf`")
    by_name: dict[str, Contact] = {}
    for contact in contacts:
        for label in (contact.name, *contact.nicknames):
            by_name.setdefault(label, contact)
    match = best_match(name, list(by_name))
    if match is None:
        raise ToolError(f"no contact named {name!r} among {len(contacts)} in {folder}")
    return by_name[match]


def get_phone_number(ctx: ToolContext, name: str) -> str:
    contact = _find_contact(ctx, name)
    if not contact.phones:
        raise ToolError(f"{contact.name} has no phone number in {contact.file.name}")
    return contact.phones[0]


def get_email_address(ctx: ToolContext, name: str) -> str:
    contact = _find_contact(ctx, name)
    if not contact.emails:
        raise ToolError(f"{contact.name} has no email address in {contact.file.name}")
    return contact.emails[0]


# ---------------------------------------------------------------- calendar and reminders (iCalendar)


def _ics_time(dt: datetime) -> datetime:
    """A time as calendars read it back as said: in its named zone (a VTIMEZONE is added).

    A bare offset (what the date parser gives for "3pm") is put in the system's zone when
    that zone has this offset then, so khal shows 15:00 and the event moves with daylight
    saving; otherwise UTC, the same instant, which every program reads (icalendar would
    write a fixed offset as TZID="UTC+01:00" with no VTIMEZONE).
    """
    if hasattr(dt.tzinfo, "key"):
        return dt
    try:
        import tzlocal

        zone = tzlocal.get_localzone()
    except Exception:  # noqa: BLE001 - no zone configured at all: UTC is still right
        zone = None
    if zone is not None and hasattr(zone, "key") and dt.astimezone(zone).utcoffset() == dt.utcoffset():
        return dt.astimezone(zone)
    return dt.astimezone(timezone.utc)


def store(settings: Settings, kind: str) -> vdir.Found:
    """Where ``kind`` (calendars, reminders, contacts) is kept: the config's folder, else
    (``auto``) the one khal, todoman or khard is set up with, else the data dir's."""
    configured = getattr(settings.config.portable, f"{kind}_dir")
    if configured != "auto":
        return vdir.Found(settings.paths.data_dir / Path(configured).expanduser(), settings.paths.config_file)
    return vdir.pim_root(kind) or vdir.Found(settings.paths.data_dir / kind, None)


def _collection(ctx: ToolContext, kind: str, name: str, component: str, default: str) -> tuple[vdir.Collection, str]:
    """The calendar or list to add to, and the words that say where it is."""
    where = store(ctx.settings, kind)
    # the old layout where it was: in the folder in force, or in the data dir before khal's was
    for source in dict.fromkeys([where.root, ctx.settings.paths.data_dir / kind]):
        moved = vdir.migrate(source, where.root, kind)
        if moved:
            log.warning("%s", moved)
    # the data dir's own folders (nobody configured them) keep tinyagent's default names
    collection, new = vdir.choose(where.root, name, component, where.default or default, own=where.source is None)
    if new and where.one_by_one:
        return collection, f" (new; {where.source} names its folders one by one: add this one there to see it)"
    return collection, (" (new)" if new else "")


def _with_zones(component: Any) -> bytes:
    """One item's file: a VCALENDAR holding the component and the VTIMEZONEs its times name."""
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(component)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _save_item(ctx: ToolContext, kind: str, name: str, component: Any, default: str, what: str) -> str:
    """Put one VEVENT/VTODO where the person's calendars are: their CalDAV server when
    one is configured, else the vdir. Returns where it went, for the answer."""
    uid = str(component["uid"])
    config = ctx.settings.config.caldav
    if config.url:
        from . import caldav

        configured = config.calendar if component.name == "VEVENT" else config.reminders
        with caldav.connect(config) as server:
            collection = server.pick(name.strip() or configured, component.name)
            created = server.put(collection, uid, _with_zones(component))
        place = f"{what} '{collection.name}' on {collection.url}"
    else:
        local, new = _collection(ctx, kind, name, component.name, default)
        path, created = vdir.add_item(local, uid, _with_zones(component), ".ics")
        place = f"{what} '{local.name}'{new} ({path})"
    return place if created else f"{place}, where this very request had already put it"


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
    from icalendar import Event, vCalAddress

    start = _date_arg(ctx, start_date, "start_date")
    if start is None:
        raise ToolError("an event needs a start date")
    end = _date_arg(ctx, end_date, "end_date") or default_end(start)
    if end <= start:
        raise ToolError(f"the event ends ({_when(end)}) before it starts ({_when(start)})")
    attendees = _addresses(invitees, "invitees")

    event = Event()
    event.add("uid", vdir.item_uid(ctx.key))
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", _ics_time(start))
    event.add("dtend", _ics_time(end))
    event.add("summary", title.strip() or "Event")
    if location.strip():
        event.add("location", location.strip())
    if notes.strip():
        event.add("description", notes.strip())
    for display, address in attendees:
        attendee = vCalAddress(f"mailto:{address}")
        if display:
            attendee.params["CN"] = display
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["PARTSTAT"] = "NEEDS-ACTION"
        attendee.params["RSVP"] = "TRUE"
        event.add("attendee", attendee, encode=0)
    place = _save_item(ctx, "calendars", calendar, event, DEFAULT_CALENDAR, "calendar")
    return f"Created event '{title.strip() or 'Event'}' on {_when(start)}-{end:%H:%M} in {place}"


def create_reminder(
    ctx: ToolContext, name: str, due_date: str, notes: str, list_name: str, priority: int, all_day: bool
) -> str:
    from icalendar import Todo

    if not name.strip():
        raise ToolError("a reminder needs a name")
    if not 0 <= priority <= 9:
        raise ToolError(f"priority must be 0 (none), 1 (high), 5 (medium) or 9 (low), not {priority}")
    due = _date_arg(ctx, due_date, "due_date")

    todo = Todo()
    todo.add("uid", vdir.item_uid(ctx.key))
    todo.add("dtstamp", datetime.now(timezone.utc))
    todo.add("summary", name.strip())
    todo.add("status", "NEEDS-ACTION")
    if due is not None:
        todo.add("due", due.date() if all_day else _ics_time(due))  # a date is written VALUE=DATE
    if priority:
        todo.add("priority", priority)
    if notes.strip():
        todo.add("description", notes.strip())
    place = _save_item(ctx, "reminders", list_name, todo, DEFAULT_REMINDERS, "list")
    when = "" if due is None else f" due {due:%a %d %b %Y}" if all_day else f" due {_when(due)}"
    return f"Created reminder '{name.strip()}'{when} in {place}"


# ---------------------------------------------------------------- notes (Markdown)


def _note_folders(ctx: ToolContext, folder: str) -> list[Path]:
    """The folder named, or every notes folder when none is (default folder first)."""
    root = data_folder(ctx.settings, "notes_dir")
    if folder.strip():
        return [inside(root, safe_name(folder))]
    default = inside(root, DEFAULT_NOTES_FOLDER)
    base = root.resolve()
    others = sorted(
        p for p in (root.iterdir() if root.is_dir() else []) if p.is_dir() and p.resolve() != default and p.resolve().parent == base
    )  # a linked folder that leads out of the notes folder is not searched
    return [default, *others]


def _find_note(folders: Sequence[Path], name: str, cutoff: float = 80.0) -> Path | None:
    """The note titled ``name``: its exact file first, then the best fuzzy title."""
    if not name.strip():
        raise ToolError("no note title given")
    exact = f"{safe_name(name)}.md"
    found = next((folder / exact for folder in folders if (folder / exact).is_file()), None)
    if found is None:
        notes = [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.md"))]
        match = best_match(name, [p.stem for p in notes], cutoff)
        found = next(p for p in notes if p.stem == match) if match is not None else None
    # A note that is a link to somewhere else is not read or written through.
    return None if found is None else inside(found.parent, found.name)


def create_note(ctx: ToolContext, name: str, content: str, folder: str) -> str:
    title = " ".join(name.split())
    if not title:
        raise ToolError("a note needs a title")
    folder_path = inside(data_folder(ctx.settings, "notes_dir"), safe_name(folder, DEFAULT_NOTES_FOLDER))
    body = content.strip("\n")
    if body.startswith(f"# {title}"):  # the model often repeats the title as a heading
        text = body + "\n"
    else:
        text = f"# {title}\n\n{body}\n" if body.strip() else f"# {title}\n"
    with folder_lock(folder_path):
        # A second note with the same title gets "Title (2).md"; nothing is overwritten.
        path = unique_path(inside(folder_path, f"{safe_name(title)}.md"))
        atomic_write_text(path, text)
    return f"Created note '{title}' in {folder_path.name} ({path})"


def open_note(ctx: ToolContext, name: str, folder: str) -> str:
    folders = _note_folders(ctx, folder)
    path = _find_note(folders, name)
    if path is None:
        where = f"folder '{folders[0].name}'" if folder.strip() else "any notes folder"
        titles = sorted(p.stem for f in folders if f.is_dir() for p in f.glob("*.md"))
        known = f" (notes there: {', '.join(titles[:8])}{', ...' if len(titles) > 8 else ''})" if titles else ""
        raise ToolError(f"no note named {name!r} in {where}{known}")
    return _read_note(path).replace("\r\n", "\n")


def _read_note(path: Path) -> str:
    """A note's text, line endings as they are; ToolError when it is not UTF-8 text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ToolError(f"{path} is not UTF-8 text; it was left untouched (save it as UTF-8 to use it)") from None


def append_note_content(ctx: ToolContext, name: str, content: str, folder: str) -> str:
    folders = _note_folders(ctx, folder)
    # Appending to the wrong note is worse than making a new one: a stricter fuzzy cut-off.
    path = _find_note(folders, name, cutoff=90.0)
    if path is None:
        created = create_note(ctx, name, content, folder)
        return created.replace("Created note", "Created missing note", 1)
    with folder_lock(path.parent):
        old = _read_note(path)
        newline = "\r\n" if "\r\n" in old else "\n"  # a note written on Windows stays CRLF
        added = "\n".join(content.strip().splitlines())
        atomic_write_text(path, f"{old.rstrip()}\n\n{added}\n".replace("\r\n", "\n").replace("\n", newline))
    return f"Appended to note '{path.stem}' ({path})"


# ---------------------------------------------------------------- mail (.eml drafts)


def _from_address(settings: Settings) -> str:
    """The sender for drafts: portable.mail_from, TINYAGENT_MAIL_FROM, EMAIL, else a local placeholder."""
    configured = (settings.config.portable.mail_from or os.environ.get("TINYAGENT_MAIL_FROM")
                  or os.environ.get("EMAIL"))
    if configured:
        return configured
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "me"
    return f"{user}@localhost"


def _format(pairs: Sequence[tuple[str, str]]) -> str:
    from email.utils import formataddr

    return ", ".join(formataddr(pair) for pair in pairs)


def _draft(ctx: ToolContext, to: Sequence[tuple[str, str]], cc: Sequence[tuple[str, str]], subject: str,
           body: str) -> EmailMessage:
    from email.utils import formatdate, make_msgid

    sender = _from_address(ctx.settings)
    msg = EmailMessage()  # policy=email.policy.default: RFC 5322 headers, UTF-8 where needed
    msg["From"] = sender
    if to:
        msg["To"] = _format(to)
    if cc:
        msg["Cc"] = _format(cc)
    msg["Subject"] = " ".join(subject.split())  # one line: a header cannot hold a line break
    msg["Date"] = formatdate(localtime=True)
    # The domain is given so make_msgid does not ask DNS for this host's name.
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    msg["X-Unsent"] = "1"  # mail programs open the file as an editable draft
    msg[KEY_HEADER] = ctx.key
    msg.set_content(body.strip() + "\n")
    return msg


def _attach(msg: EmailMessage, attachments: Sequence[str]) -> None:
    import mimetypes

    for raw in attachments:
        if not raw.strip():
            continue
        path = Path(raw.strip()).expanduser()
        if not path.is_file():
            raise ToolError(f"attachment not found: {path}")
        kind, encoding = mimetypes.guess_type(path.name)
        if kind is None or encoding is not None:  # unknown, or compressed (.gz): plain bytes
            kind = "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ToolError(f"cannot read attachment {path}: {exc.strerror or exc}") from None
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)


def _deliver(ctx: ToolContext, msg: EmailMessage, attachments: Sequence[str]) -> str:
    """Put a draft where the person's mail program shows it; the words saying where.

    With ``imap:`` settings, into the account's Drafts folder. Otherwise a .eml file in the
    drafts folder, handed to the mail program's compose window as well (``xdg-email``).
    """
    config = ctx.settings.config.imap
    if config.host:
        from . import imap

        with imap.connect(config) as mailbox:
            folder = mailbox.drafts_folder()
            saved = mailbox.save_draft(msg.as_bytes(), ctx.key)
            _move_old_drafts(ctx, mailbox, folder)
        where = f"in {folder!r} on {config.host}"
        return where if saved else f"{where}, where this very request had already saved it"
    path, new = _save_draft(ctx, msg)
    return f"as {path}" + (_compose_window(ctx, msg, path, attachments) if new else "")


def _move_old_drafts(ctx: ToolContext, mailbox: imap.Mailbox, folder: str) -> None:
    """Drafts saved as files before IMAP was set up go to the account too, once: each is
    found there by its key if a move was cut short, and its file kept in ``.moved-to-imap``."""
    from email.parser import BytesHeaderParser

    drafts = data_folder(ctx.settings, "drafts_dir")
    if not drafts.is_dir() or not any(drafts.glob("*.eml")):
        return
    kept = inside(drafts, ".moved-to-imap")
    with folder_lock(drafts):
        old = sorted(drafts.glob("*.eml"))  # listed under the lock: a run at once may have moved them
        for path in old:
            data = path.read_bytes()
            key = str(BytesHeaderParser().parsebytes(data).get(KEY_HEADER) or f"file:{path.name}")
            mailbox.save_draft(data, key)
            kept.mkdir(exist_ok=True)
            os.replace(path, kept / path.name)
    if old:
        log.warning("moved %d draft(s) from %s into %r on %s; the files are kept in %s",
                    len(old), drafts, folder, ctx.settings.config.imap.host, kept)


def _save_draft(ctx: ToolContext, msg: EmailMessage) -> tuple[Path, bool]:
    """The draft as a .eml file; (path, False) when this very call saved it before."""
    folder = data_folder(ctx.settings, "drafts_dir")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    subject = str(msg["Subject"] or "")
    name = safe_name(f"{stamp} {subject}"[:80], stamp)
    with folder_lock(folder):
        path = _draft_of(folder, ctx.key)
        if path is not None:
            return path, False
        path = unique_path(inside(folder, f"{name}.eml"))
        atomic_write_bytes(path, msg.as_bytes())
    return path, True


def _compose_window(ctx: ToolContext, msg: EmailMessage, path: Path, attachments: Sequence[str]) -> str:
    """Open the draft in the person's mail program; the words saying whether it did and what
    it could not carry. Linux: ``xdg-email``, everything as argv; elsewhere the .eml itself."""
    program = shutil.which("xdg-email")
    if program is None or not ctx.settings.config.portable.open_files:
        _open_path(ctx, path)
        return ""
    # Without a desktop, xdg-email would start a text-mode browser: only when MAILER says which
    if not _has_display() and not os.environ.get("MAILER"):
        return ""
    from email.utils import getaddresses

    argv = [program, "--utf8", "--subject", str(msg["Subject"] or ""), "--body", _plain_text(msg)]
    for _, address in getaddresses(msg.get_all("Cc", [])):
        argv += ["--cc", address]
    files = [str(Path(a.strip()).expanduser()) for a in attachments if a.strip()]
    for file in files:
        argv += ["--attach", file]
    argv += [address for _, address in getaddresses(msg.get_all("To", []))]
    try:
        # Not ctx.run: a mail program started here may live on; it must not be killed with the task.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return f"; xdg-email could not be started ({exc.strerror or exc})"
    try:
        code = process.wait(_COMPOSE_WAIT)
    except subprocess.TimeoutExpired:
        code = 0  # still running: the mail program has it
    if code == 3:
        return "; no mail program is set up to open it (xdg-email: exit 3)"
    if code != 0:
        return f"; xdg-email could not open it (exit {code})"
    carried = []
    if files:
        carried.append("attachments reach it only in Thunderbird")
    if any(part.get_content_type() == "message/rfc822" for part in msg.iter_attachments()):
        carried.append("the forwarded message is only in the .eml")
    return "; opened in your mail program" + (f" ({'; '.join(carried)})" if carried else "")


def _draft_of(folder: Path, key: str) -> Path | None:
    """The draft this very call saved before (its KEY_HEADER), newest first; headers only."""
    from email.parser import BytesHeaderParser

    drafts = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in drafts[:_DRAFTS_CHECKED]:
        try:
            with path.open("rb") as handle:
                if BytesHeaderParser().parse(handle).get(KEY_HEADER) == key:
                    return path
        except OSError:
            continue
    return None


def _newest_from_named(newest_first: Sequence[Path], request: str) -> Path:
    """The newest message whose sender the request names ("reply to Omar"), else the newest.

    A sender is named by a word of their display name or address of three letters or more.
    """
    from email import policy
    from email.parser import BytesHeaderParser

    named = words(request)
    for path in newest_first[:SENDERS_SCANNED] if named else ():
        try:
            with path.open("rb") as handle:
                sender = str(BytesHeaderParser(policy=policy.default).parse(handle).get("From") or "")
        except (OSError, ValueError):
            continue
        if named & sender_words(sender):
            return path
    return newest_first[0]


def _source_message(ctx: ToolContext) -> tuple[str, EmailMessage]:
    """The message to reply to or forward, and where it was found: portable.reply_to, else
    the newest in the inbox (the IMAP account's, else the inbox folder's) from a sender the
    request names, else the newest."""
    from email import policy
    from email.parser import BytesParser

    settings = ctx.settings
    configured = settings.config.portable.reply_to.strip()
    if not configured and settings.config.imap.host:
        from . import imap

        with imap.connect(settings.config.imap) as mailbox:
            return mailbox.newest(ctx.request)
    if configured:
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else settings.paths.data_dir / path
        if not path.is_file():
            raise ToolError(f"portable.reply_to names {path}, which does not exist")
    else:
        inbox = data_folder(ctx.settings, "inbox_dir")
        messages = [p for p in inbox.glob("*.eml") if p.is_file()] if inbox.is_dir() else []
        if not messages:
            raise ToolError(
                f"no email to act on: save one as a .eml file in {inbox} or set portable.reply_to in "
                f"{settings.paths.config_file}"
            )
        path = _newest_from_named(sorted(messages, key=lambda p: p.stat().st_mtime, reverse=True), ctx.request)
    try:
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not message.keys():
        raise ToolError(f"{path} is not an email message")
    chosen = "portable.reply_to" if configured else "from the inbox"
    return f"{chosen}: {path.name}", message  # type: ignore[return-value]  # policy.default: EmailMessage


def reply_to_email_target(ctx: ToolContext) -> str:
    """The message a reply (or forward) acts on, as the plan shows it before it is confirmed."""
    where, message = _source_message(ctx)
    subject = " ".join(str(message.get("Subject") or "(no subject)").split())
    return f"the message from {message.get('From', 'an unknown sender')}, {subject!r} ({where})"


forward_email_target = reply_to_email_target  # both act on _source_message


def _prefixed(prefix: str, subject: str, already: tuple[str, ...]) -> str:
    subject = " ".join(subject.split())
    return subject if subject.lower().startswith(already) else f"{prefix} {subject}".strip()


def _plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset
        return ""


def compose_new_email(
    ctx: ToolContext, recipients: list[str], cc: list[str], subject: str, context: str, attachments: list[str]
) -> str:
    msg = _draft(ctx, _addresses(recipients, "recipients"), _addresses(cc, "cc"), subject.strip(), context)
    _attach(msg, attachments)
    return f"Saved draft '{subject.strip()}' to {msg['To'] or 'no one yet'} {_deliver(ctx, msg, attachments)}"


def reply_to_email(ctx: ToolContext, cc: list[str], context: str, attachments: list[str]) -> str:
    source, original = _source_message(ctx)
    reply_to = _addresses([str(original.get("Reply-To") or original.get("From") or "")], f"sender of {source}")
    if not reply_to:
        raise ToolError(f"the message ({source}) has no From or Reply-To address to reply to")
    subject = _prefixed("Re:", str(original.get("Subject") or ""), ("re:",))
    quoted = "\n".join(f"> {line}" if line else ">" for line in _plain_text(original).rstrip().splitlines())
    body = context.strip()
    if quoted:
        body += f"\n\nOn {original.get('Date', 'an earlier date')}, {original.get('From', 'the sender')} wrote:\n{quoted}"
    msg = _draft(ctx, reply_to, _addresses(cc, "cc"), subject, body)
    message_id = str(original.get("Message-ID") or "").strip()
    if message_id:
        msg["In-Reply-To"] = message_id
        msg["References"] = " ".join([*str(original.get("References") or "").split(), message_id])
    _attach(msg, attachments)
    return f"Saved reply '{subject}' to {msg['To']} {_deliver(ctx, msg, attachments)}"


def forward_email(
    ctx: ToolContext, recipients: list[str], cc: list[str], context: str, attachments: list[str]
) -> str:
    _, original = _source_message(ctx)
    subject = _prefixed("Fwd:", str(original.get("Subject") or ""), ("fwd:", "fw:"))
    msg = _draft(ctx, _addresses(recipients, "recipients"), _addresses(cc, "cc"), subject, context)
    msg.add_attachment(original)  # message/rfc822: the original whole, with its own attachments
    _attach(msg, attachments)
    return f"Saved forward '{subject}' to {msg['To'] or 'no one yet'} {_deliver(ctx, msg, attachments)}"


# ---------------------------------------------------------------- texts (KDE Connect)


@dataclass(frozen=True)
class Texting:
    """Whether send_sms can text from here: the KDE Connect device it uses, or why not and the fix."""

    device: str = ""  # the first paired, reachable device's id
    program: str = ""
    problem: str = ""
    fix: str = ""


def texting(ctx: ToolContext | None = None) -> Texting:
    """Ask KDE Connect for a paired, reachable device (through ``ctx`` when a task asks, so
    the executor can kill it)."""
    program = shutil.which(KDECONNECT)
    if program is None:
        return Texting(problem=f"{KDECONNECT} is not on PATH",
                       fix="install KDE Connect and pair your phone to send texts from this machine")
    argv = [program, "--list-available", "--id-only"]
    if ctx is not None:
        try:
            done = ctx.run(argv, timeout=_KDECONNECT_TIMEOUT)
        except OutcomeUnknown as exc:  # only asked which phones are there: nothing was sent
            raise ToolError(str(exc)) from None
    else:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=_KDECONNECT_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Texting(program=program, problem=f"{KDECONNECT} --list-available failed ({exc})",
                           fix="start KDE Connect (kdeconnectd), then run `tinyagent doctor`")
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return Texting(program=program,
                       problem=f"{KDECONNECT} --list-available failed ({detail[-1] if detail else f'exit {done.returncode}'})",
                       fix="start KDE Connect (kdeconnectd), then run `tinyagent doctor`")
    devices = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if not devices:
        return Texting(program=program, problem="KDE Connect has no paired phone within reach",
                       fix=f"pair your phone (`{KDECONNECT} --pair --device ID`) and keep it on the same network")
    return Texting(device=devices[0], program=program)


def unavailable() -> dict[str, str]:
    """The catalog's hook (``Catalog.missing``): send_sms only with a phone to text through."""
    found = texting()
    return {} if found.device else {"send_sms": f"{found.problem}; {found.fix}"}


def _phone(value: str) -> str:
    """A phone number as digits with its leading +; anything else (a name, an option) is refused."""
    text = value.strip()
    if not re.fullmatch(r"\+?[\d\s().\-/]+", text) or len(re.sub(r"\D", "", text)) < 3:
        raise ToolError(f"not a phone number: {value!r} (look it up with get_phone_number first)")
    return ("+" if text.startswith("+") else "") + re.sub(r"\D", "", text)


def send_sms(ctx: ToolContext, recipients: list[str], message: str) -> str:
    """Send a text through the phone KDE Connect reaches: it really sends (the plan's
    confirmation is the person's say), the message one argv element, never shell text."""
    numbers = [_phone(r) for r in recipients if r.strip()]
    if not numbers:
        raise ToolError("recipients is empty: give at least one phone number")
    if not message.strip():
        raise ToolError("the message is empty")
    if "\0" in message:
        raise ToolError("the message contains a NUL character, which cannot be sent")
    found = texting(ctx)
    if not found.device:
        raise ToolUnavailable(f"{found.problem}; {found.fix}")
    sent: list[str] = []
    for number in numbers:
        try:
            done = ctx.run([found.program, "--send-sms", message, "--destination", number, "--device", found.device],
                           timeout=_KDECONNECT_TIMEOUT)
        except OutcomeUnknown as exc:
            went = f"sent to {', '.join(sent)}; " if sent else ""
            raise OutcomeUnknown(f"{went}the text to {number} may have gone ({exc})") from None
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
            if not sent:
                raise ToolError(f"{KDECONNECT} could not send to {number}: {reason}")
            # Some texts went: failing the task could bring a replan that texts them again.
            return f"Sent to {', '.join(sent)} through KDE Connect; NOT sent to {number} ({reason}) or later numbers"
        sent.append(number)
    return f"Sent to {', '.join(sent)} through KDE Connect (device {found.device})"


# ---------------------------------------------------------------- maps (URLs for the browser or map app)

_OSM_ENGINE = {"driving": "fossgis_osrm_car", "walking": "fossgis_osrm_foot", "bicycling": "fossgis_osrm_bike"}


def maps_open_location(ctx: ToolContext, location: str) -> str:
    place = " ".join(location.split())
    if not place:
        raise ToolError("no location given")
    provider = ctx.settings.config.maps.provider
    if provider == "osm":
        url = "https://www.openstreetmap.org/search?" + urlencode({"query": place})
    elif provider == "geo":  # RFC 5870 with the "q" search most map apps read (GNOME Maps, Android)
        url = "geo:0,0?" + urlencode({"q": place})
    else:
        url = "https://www.google.com/maps/search/?" + urlencode({"api": "1", "query": place})
    _open_url(ctx, url)
    return url


def maps_show_directions(ctx: ToolContext, start_location: str, end_location: str, transport: str) -> str:
    destination = " ".join(end_location.split())
    if not destination:
        raise ToolError("no destination given")
    mode = _TRAVELMODE.get(transport.strip() or "d")
    if mode is None:
        raise ToolError(f"transport must be d, w, r or b, not {transport!r}")
    origin = " ".join(start_location.split())
    provider = ctx.settings.config.maps.provider
    if provider != "google" and mode in _OSM_ENGINE:  # a geo: URI cannot ask for a route: OSM can
        url = "https://www.openstreetmap.org/directions?" + urlencode(
            {"engine": _OSM_ENGINE[mode], "from": origin, "to": destination})
    else:
        if provider != "google":
            # The URL is the task's result (it may be texted on): the why goes to the person apart.
            log.warning("OpenStreetMap has no public transit directions: a Google Maps link instead")
        params = {"api": "1", "destination": destination, "travelmode": mode}
        if origin:  # no origin: Google Maps starts from where the person is
            params["origin"] = origin
        url = "https://www.google.com/maps/dir/?" + urlencode(params)
    _open_url(ctx, url)
    return url


# ---------------------------------------------------------------- files and PDFs


def _file_key(name: str) -> str:
    """How a file name is compared: case, spaces, "_" and "-" do not matter."""
    return normalise(re.sub(r"[_\-]+", " ", name))


def find_file(roots: Sequence[Path], query: str) -> tuple[Path | None, int, bool]:
    """Breadth-first search for ``query`` (exact name, with or without extension, then fuzzy).

    Returns (path or None, entries looked at, whether the walk stopped at its limit).
    Hidden files and folders are skipped; shallower files win.
    """
    wanted = _file_key(query)
    suffix = Path(query).suffix
    with_extension = bool(suffix) and suffix[1:].isalnum() and len(suffix) <= 6
    queue = deque(roots)
    first_seen: dict[str, str] = {}
    seen = 0
    deadline = time.monotonic() + MAX_WALK_SECONDS
    while queue:
        folder = queue.popleft()
        try:
            entries = os.scandir(folder)
        except OSError:  # no permission, vanished: not ours to fail on
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                seen += 1
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if entry.name not in _SKIP_DIRS:
                        queue.append(Path(entry.path))
                    continue
                key = _file_key(entry.name if with_extension else Path(entry.name).stem)
                if key == wanted:
                    return Path(entry.path), seen, False
                first_seen.setdefault(key, entry.path)
        if seen >= MAX_WALK_ENTRIES or time.monotonic() > deadline:
            break
    stopped = bool(queue)
    match = best_match(wanted, list(first_seen))
    return (Path(first_seen[match]) if match is not None else None), seen, stopped


def _ranked(candidates: Sequence[Path], query: str) -> Path | None:
    """``find_file``'s choice among the hits of an index: the name itself (with or without
    its extension), shallowest first, else the closest name."""
    wanted = _file_key(query)
    suffix = Path(query).suffix
    with_extension = bool(suffix) and suffix[1:].isalnum() and len(suffix) <= 6
    by_key: dict[str, Path] = {}
    for path in sorted(candidates, key=lambda p: (len(p.parts), str(p))):
        by_key.setdefault(_file_key(path.name if with_extension else path.stem), path)
    if wanted in by_key:
        return by_key[wanted]
    match = best_match(wanted, list(by_key))
    return by_key[match] if match is not None else None


def _indexed(ctx: ToolContext, roots: Sequence[Path], query: str) -> Path | None:
    """A file found through plocate's database (when there is one) or fd, in place of the walk:
    they answer in milliseconds where the walk may give up. None: ask the walk."""
    words = re.findall(r"\w+", query)
    if not words:
        return None
    database = Path(ctx.settings.config.portable.locate_db).expanduser()
    plocate, fd = shutil.which("plocate"), shutil.which("fd") or shutil.which("fdfind")
    if plocate and database.is_file():
        # every word must be in the name; the database may be older than the files: each hit is checked
        argv = [plocate, "--database", str(database), "--ignore-case", "--basename", "--limit", "2000", "--", *words]
    elif fd:
        # the longest word finds the candidates; ranking checks the rest
        argv = [fd, "--type", "f", "--ignore-case", "--fixed-strings", "--no-ignore", "--max-results", "2000",
                "--", max(words, key=len), *map(str, roots)]
    else:
        return None
    try:
        done = ctx.run(argv, timeout=MAX_WALK_SECONDS)
    except ToolError as exc:  # a lookup stopped or broken: the walk still can answer
        log.warning("%s: %s", Path(argv[0]).name, exc)
        return None
    if done.returncode not in (0, 1):  # plocate says 1 for "nothing found"
        return None
    bases = [r.resolve() for r in roots]
    hits = []
    for line in done.stdout.splitlines():
        path = Path(line)
        inner = next((path.relative_to(b) for b in bases if path.is_relative_to(b)), None)
        if inner is None or any(p.startswith(".") or p in _SKIP_DIRS for p in inner.parts) or not path.is_file():
            continue
        hits.append(path)
    return _ranked(hits, query)


def open_and_get_file_path(ctx: ToolContext, file_name: str) -> str:
    query = file_name.strip()
    if not query:
        raise ToolError("no file name given")
    direct = Path(query).expanduser()
    if (direct.is_absolute() or os.sep in query or query.startswith("~")) and direct.is_file():
        path = direct.resolve()
    else:
        roots = [Path(r).expanduser() for r in ctx.settings.config.portable.file_roots]
        roots = [r for r in roots if r.is_dir()]
        if not roots:
            raise ToolError(f"none of portable.file_roots exists ({', '.join(ctx.settings.config.portable.file_roots)})")
        found = _indexed(ctx, roots, query)
        seen, stopped = 0, False
        if found is None:
            found, seen, stopped = find_file(roots, query)
        if found is None:
            where = ", ".join(str(r) for r in roots)
            limit = f"; the search stopped after {seen} entries, add narrower folders to portable.file_roots" if stopped else ""
            raise ToolError(f"no file named {query!r} under {where}{limit}")
        path = found.resolve()
    if ctx.asks_to_show():
        ctx.after_confirmation(lambda: _open_path(ctx, path))
    return str(path)


def summarize_pdf(ctx: ToolContext, pdf_path: str) -> str:
    from .pdf import summarize_pdf_file

    if not pdf_path.strip():
        raise ToolError("no PDF path given (find it first with open_and_get_file_path)")
    return summarize_pdf_file(Path(pdf_path.strip()).expanduser())


# ---------------------------------------------------------------- Zoom


def get_zoom_meeting_link(
    ctx: ToolContext, topic: str, start_time: str, duration: int, meeting_invitees: list[str]
) -> str:
    from .zoom import create_meeting

    if duration < 0:
        raise ToolError(f"duration must be minutes, not {duration}")
    start = _date_arg(ctx, start_time, "start_time")
    invitees = [address for _, address in _addresses(meeting_invitees, "meeting_invitees")]
    return create_meeting(ctx.settings, topic.strip(), start, duration or 60, invitees)
