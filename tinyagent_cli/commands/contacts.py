"""`tinyagent contacts import FILE.vcf` and `tinyagent contacts list`: the portable address book.

The portable backend looks people up in the vCard files of its contacts folder, a vdir
khard reads too (see ``tools/vdir.py``). Import copies cards from an export (Google
Contacts, Apple Contacts, Thunderbird, ...) into its address book, one ``<uid>.vcf`` per new
person; a card for someone already there (same UID, else same
name) is merged into theirs: new addresses, numbers and missing fields are added, nothing
there is removed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from ..errors import ConfigError
from ..settings import Settings
from ..tools import vdir
from ..tools.files import atomic_write_text, folder_lock, inside, safe_name, unique_path
from ..tools.matching import normalise
from ..tools.portable import card_name, contact_folders, load_contacts, read_vcards, store

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_BOOK = "contacts"  # the address book made for new people when there is none
# Properties a person can have several of: incoming values are added when not there yet.
_MULTI = ("email", "tel", "nickname", "adr", "url", "impp")


def _value_key(name: str, line: Any) -> str:
    value = str(line.value)
    if name == "tel":
        return re.sub(r"[^\d+]", "", value)
    return normalise(value)


def _merge(existing: Any, incoming: Any) -> None:
    """Add to ``existing`` what ``incoming`` knows and it does not."""
    for name, lines in incoming.contents.items():
        if name in ("version", "prodid", "rev"):
            continue
        if name not in existing.contents:
            for line in lines:
                existing.add(line.duplicate(line))
        elif name in _MULTI:
            have = {_value_key(name, line) for line in existing.contents[name]}
            for line in lines:
                if _value_key(name, line) not in have:
                    existing.add(line.duplicate(line))
                    have.add(_value_key(name, line))


def _uid(card: Any) -> str:
    return str(card.uid.value).strip() if "uid" in card.contents else ""


def import_command(settings: Settings, path: Path, console: Console) -> None:
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"no vCard file at {path}")
    try:
        incoming = read_vcards(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not incoming:
        raise ConfigError(f"{path} holds no vCard (BEGIN:VCARD ... END:VCARD)")

    where = store(settings, "contacts")
    folder = where.root
    book: vdir.Collection | None = None  # the address book new people go to, once one is needed
    with folder_lock(folder):
        files: dict[Path, list[Any]] = {}
        by_uid: dict[str, tuple[Path, Any]] = {}
        by_name: dict[str, tuple[Path, Any]] = {}
        for file in [*sorted(folder.glob("*.vcf")), *sorted(folder.glob("[!.]*/*.vcf"))]:
            try:
                files[file] = read_vcards(file)
            except ValueError as exc:
                raise ConfigError(f"{exc}; fix or move it, then import again") from None
            for card in files[file]:
                if _uid(card):
                    by_uid.setdefault(_uid(card), (file, card))
                by_name.setdefault(normalise(card_name(card)), (file, card))

        changed: set[Path] = set()
        added = merged = skipped = 0
        for card in incoming:
            name = card_name(card)
            if not name:
                skipped += 1
                continue
            found = by_uid.get(_uid(card)) if _uid(card) else None
            found = found or by_name.get(normalise(name))
            if found is not None:
                _merge(found[1], card)
                changed.add(found[0])
                merged += 1
                continue
            if not _uid(card):
                card.add("uid").value = uuid4().hex
            book = book or vdir.choose(folder, "", "VCARD", where.default or DEFAULT_BOOK)[0]
            target = unique_path(inside(book.path, f"{safe_name(_uid(card), uuid4().hex)}.vcf"))
            files[target] = [card]
            changed.add(target)
            by_name[normalise(name)] = (target, card)
            if _uid(card):
                by_uid[_uid(card)] = (target, card)
            added += 1
        for file in sorted(changed):
            try:
                atomic_write_text(file, "".join(card.serialize() for card in files[file]))
            except OSError as exc:
                raise ConfigError(f"cannot write {file}: {exc.strerror or exc}") from None

    note = f"; {skipped} without a name skipped" if skipped else ""
    console.print(
        f"imported {added + merged} contact(s) from {path.name} into {book.path if book else folder}: {added} new, {merged} merged{note}",
        markup=False,
        highlight=False,
    )


def list_command(settings: Settings, console: Console, as_json: bool = False) -> None:
    folders = contact_folders(settings)
    folder = " and ".join(str(f) for f in folders)
    rows = [
        {"name": c.name, "emails": list(c.emails), "phones": list(c.phones), "file": str(c.file)}
        for c in sorted(load_contacts(folders), key=lambda c: normalise(c.name))
    ]
    if as_json:
        console.print(json.dumps(rows, indent=2, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return
    if not rows:
        console.print(f"no contacts in {folder}; add some with `tinyagent contacts import FILE.vcf`", markup=False)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"contacts in {folder}")
    for column in ("name", "email", "phone"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(v) for v in (row["name"], ", ".join(row["emails"]), ", ".join(row["phones"]))))
    console.print(table)
