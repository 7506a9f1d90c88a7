"""vdir: the folder layout khal, todoman, khard and vdirsyncer share (pimutils' ``vdir.rst``).

A storage folder holds collections (a calendar, a task list, an address book), one folder
each, named by its ``displayname`` file or else by the folder. A collection holds one item per
file, ``<uid>.ics`` or ``<uid>.vcf``. Items are written under a temporary name and linked into
place, so a reader never sees half an item and an existing item is never overwritten.

Where the storage folders are comes from the person's khal, todoman and khard configs
(``pim_root``); an old single-file calendar (``calendars/Work.ics``) is split into a
collection once (``migrate``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

from ..errors import ToolError
from .files import atomic_write_bytes, folder_lock, inside, safe_name
from .matching import normalise

log = logging.getLogger(__name__)

OLD_LAYOUT = ".old-layout"  # where migrate() keeps the single-file calendars it split
_SNIFFED = 5  # items read to tell a calendar from a task list


@dataclass(frozen=True)
class Collection:
    path: Path
    name: str  # displayname, else the folder's name


def item_uid(key: str) -> str:
    """A UID for the item one tool call creates: 32 hex digits, the same for the same call
    (``ToolContext.key``), so a retried call finds its item; no "@", which vdirsyncer renames."""
    return uuid5(NAMESPACE_URL, f"tinyagent:{key}").hex


def collections(root: Path) -> list[Collection]:
    """The collections in a storage folder, by name; hidden folders are not collections."""
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found.append(Collection(folder, _displayname(folder)))
    return found


def _displayname(folder: Path) -> str:
    try:
        name = " ".join((folder / "displayname").read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError):
        name = ""
    return name or folder.name


def holds(collection: Collection, component: str) -> bool | None:
    """Whether the collection's items are ``component`` (VEVENT, VTODO, VCARD); None when it is empty."""
    marker = f"BEGIN:{component}".encode()
    seen = False
    for item in _items(collection.path, ".vcf" if component == "VCARD" else ".ics", _SNIFFED):
        seen = True
        try:
            if marker in item.read_bytes():
                return True
        except OSError:
            continue
    return False if seen else None


def _items(folder: Path, suffix: str, limit: int) -> Iterator[Path]:
    count = 0
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(suffix) and not entry.name.startswith(".") and entry.is_file():
            yield Path(entry.path)
            count += 1
            if count >= limit:
                return


def choose(root: Path, name: str, component: str, default: str, *, own: bool = False) -> tuple[Collection, bool]:
    """The collection ``name`` names (its displayname or folder, loosely); for no name the
    ``default`` one, else (in a folder that is not ``own``, where another program keeps its
    calendars) the first that holds ``component`` or nothing yet. Returns (collection,
    whether it was created now). A name that matches none makes a new one, as does the
    default in an ``own`` folder: there, where an unnamed item goes never depends on what
    else happens to exist.
    """
    existing = collections(root)
    wanted = normalise(name) if name.strip() else ""
    if wanted:
        for collection in existing:
            if wanted in (normalise(collection.name), normalise(collection.path.name)):
                return collection, False
        return create(root, name), True
    for collection in existing:
        if normalise(default) in (normalise(collection.name), normalise(collection.path.name)):
            return collection, False
    fitting = [] if own else [c for c in existing if holds(c, component) is not False]
    fitting.sort(key=lambda c: holds(c, component) is None)  # those holding the kind first
    if fitting:
        return fitting[0], False
    return create(root, default), True


def create(root: Path, name: str) -> Collection:
    """A new collection folder named after ``name``, with ``name`` as its displayname."""
    title = " ".join(name.split())
    folder = inside(root, safe_name(title))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "displayname").exists():  # two writers at once write the same name: no lock
        atomic_write_bytes(folder / "displayname", title.encode("utf-8"))
    return Collection(folder, _displayname(folder))


def add_item(collection: Collection, uid: str, data: bytes, suffix: str) -> tuple[Path, bool]:
    """Write ``<uid><suffix>`` into the collection; (path, False) when it is already there.

    The item is written under a hidden temporary name and hard-linked to its own: the link
    fails rather than replace a file of that name, and a reader sees all of the item or none.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", uid):
        raise ToolError(f"cannot store an item with UID {uid!r} as a file name")
    path = inside(collection.path, f"{uid}{suffix}")
    if path.exists():
        return path, False
    temporary = collection.path / f".{uid}{suffix}.tmp"
    atomic_write_bytes(temporary, data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return path, False
    except OSError:  # a file system without hard links: the folder's lock instead
        with folder_lock(collection.path):
            if path.exists():
                return path, False
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path, True


# ---------------------------------------------------------------- where the person's PIM lives


@dataclass(frozen=True)
class Found:
    """A storage folder another program's config names, and that config."""

    root: Path
    source: Path | None  # the config file; None: nobody configured it (the data dir's)
    default: str = ""  # the default calendar, list or address book it names
    # The config names its folders one by one (no "path = .../*"): a folder made beside
    # them is not one its program shows.
    one_by_one: bool = False


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def _paths_in(text: str) -> list[str]:
    """Every ``path = ...`` value of a khal/khard/todoman config, quotes removed."""
    values = re.findall(r"""^\s*path\s*=\s*(.+?)\s*$""", text, flags=re.MULTILINE)
    return [v.strip().strip("'\"") for v in values]


def _setting(text: str, key: str) -> str:
    match = re.search(rf"""^\s*{key}\s*=\s*(.+?)\s*$""", text, flags=re.MULTILINE)
    return match.group(1).strip().strip("'\"") if match else ""


def _is_glob(path: str) -> bool:
    """Whether a configured path means every folder in one (``~/.calendars/*``)."""
    return os.path.expandvars(path).rstrip("/").endswith("*")


def _root_of(path: str) -> Path:
    """The storage folder of a configured path: ``~/.calendars/*`` and ``~/.calendars/home/``
    both mean ``~/.calendars``."""
    text = os.path.expandvars(path).rstrip("/")
    if _is_glob(path):
        return Path(text.removesuffix("*").rstrip("/")).expanduser()
    return Path(text).expanduser().parent


def _read(config: Path) -> str:
    try:
        return config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


# Whose config names the folder of each kind, and the key of its default collection.
_PROGRAMS = {
    "calendars": (("khal", "config"), "default_calendar"),
    "reminders": (("todoman", "config.py"), "default_list"),
    "contacts": (("khard", "khard.conf"), "default_addressbook"),
}


def pim_root(kind: str) -> Found | None:
    """The storage folder the person's own program keeps ``kind`` in (``calendars``: khal,
    ``reminders``: todoman, ``contacts``: khard); None when its config names no path."""
    parts, default_key = _PROGRAMS[kind]
    config = config_home().joinpath(*parts)
    text = _read(config)
    paths = _paths_in(text)
    if not paths:
        return None
    return Found(_root_of(paths[0]), config, _setting(text, default_key), not any(map(_is_glob, paths)))


# ---------------------------------------------------------------- the old layout


def migrate(source: Path, root: Path, what: str) -> str:
    """Split single-file calendars (``source/Work.ics``, the layout before vdir) into
    collections of the storage folder ``root`` (the same folder, or khal's once it is set up);
    the old file is kept in ``source/.old-layout``. Returns the line saying what moved, or ""."""
    if not source.is_dir() or not any(p.is_file() for p in source.glob("*.ics")):
        return ""
    from icalendar import Calendar

    moved: list[str] = []
    with folder_lock(source):
        for old in sorted(p for p in source.glob("*.ics") if p.is_file()):
            try:
                calendar = Calendar.from_ical(old.read_bytes())
            except (OSError, ValueError) as exc:
                log.warning("%s is not a valid iCalendar file, left where it is (%s)", old, exc)
                continue
            collection = Collection(inside(root, safe_name(old.stem)), old.stem)
            collection.path.mkdir(parents=True, exist_ok=True)
            if not (collection.path / "displayname").exists():
                name = str(calendar.get("x-wr-calname") or old.stem)
                atomic_write_bytes(collection.path / "displayname", name.encode("utf-8"))
            zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
            items = [c for c in calendar.subcomponents if c.name in ("VEVENT", "VTODO", "VJOURNAL")]
            for number, component in enumerate(items):
                if not str(component.get("uid") or ""):  # a vdir item is known by its UID
                    component.add("uid", item_uid(f"{old}:{number}"))
                single = Calendar()
                for key in ("prodid", "version"):
                    single.add(key, calendar.get(key) or ("2.0" if key == "version" else "-//tinyagent//EN"))
                for zone in zones:
                    single.add_component(zone)
                single.add_component(component)
                add_item(collection, item_uid(str(component["uid"])), single.to_ical(), ".ics")
            keep = inside(source, OLD_LAYOUT)
            keep.mkdir(exist_ok=True)
            os.replace(old, keep / old.name)
            moved.append(f"{len(items)} from {old.name}")
    if not moved:
        return ""
    return f"moved {what} into the vdir {root} ({'; '.join(moved)}); the old files are in {source / OLD_LAYOUT}"
