"""The portable backend, run through the real plan parser and executor; effects read back
with the libraries other programs use (icalendar, vobject, email, plain files)."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from email import policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyagent_cli.errors import ConfigError, ToolError
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.plan.tasks import TaskResult
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools import portable
from tinyagent_cli.tools.files import inside, safe_name
from tinyagent_cli.tools.spec import Catalog, load_catalog

from .conftest import run_plan, write_config
from .test_pdf import REPORT, write_pdf

PLUS_ONE = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=PLUS_ONE)  # a Friday

CARDS = """BEGIN:VCARD
VERSION:3.0
FN:Sarah Lin
N:Lin;Sarah;;;
EMAIL;TYPE=INTERNET:sarah.old@lin.example
EMAIL;TYPE=INTERNET,pref:sarah@lin.example
TEL;TYPE=CELL:+1 555 0100
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:José Núñez
NICKNAME:Pepe
EMAIL;PREF=2:jose.work@example.org
EMAIL;PREF=1:jose@example.org
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Bob Noemail
N:Noemail;Bob;;;
END:VCARD
"""


@dataclass
class Env:
    home: Path
    data: Path
    files: Path
    settings: Settings
    catalog: Catalog

    def run(self, text: str) -> dict[int, TaskResult]:
        plan = parse_plan(text, self.catalog, now=NOW)
        return run_plan(plan, self.catalog, self.settings, now=NOW)

    def ok(self, text: str) -> list[str]:
        results = self.run(text)
        failed = {i: r.error for i, r in results.items() if r.status != "done"}
        assert not failed, failed
        return [results[i].output or "" for i in sorted(results)]

    def fails(self, text: str) -> str:
        results = self.run(text)
        assert results[1].status == "failed", results[1]
        return results[1].error or ""


def make_env(home: Path, tmp_path: Path, extra: str = "") -> Env:
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    write_config(
        home,
        f"backend: portable\nportable:\n  open_files: false\n  file_roots: [{json.dumps(str(files))}]\n{extra}",
    )
    settings = Settings.load()
    return Env(home, settings.paths.data_dir, files, settings, load_catalog(settings))


@pytest.fixture
def env(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    for var in ("TINYAGENT_MAIL_FROM", "EMAIL", "ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    return make_env(home, tmp_path)


def add_contacts(env: Env) -> None:
    folder = env.data / "contacts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.vcf").write_text(CARDS, encoding="utf-8")


def read_ics(path: Path):
    from icalendar import Calendar

    return Calendar.from_ical(path.read_bytes())


def read_items(folder: Path, component: str) -> list:
    """Every ``component`` of a vdir collection, one item per file, each file one item."""
    items = []
    for path in sorted(folder.glob("*.ics")):
        found = read_ics(path).walk(component)
        assert len(found) == 1 and path.stem == str(found[0]["UID"]), path
        items.append(found[0])
    return items


def read_eml(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def drafts(env: Env) -> list[Path]:
    return sorted((env.data / "mail" / "drafts").glob("*.eml"))


# ---------------------------------------------------------------- contacts


def test_contact_lookup_exact_fuzzy_and_preferred(env: Env) -> None:
    add_contacts(env)
    out = env.ok(
        '1. get_email_address("Sarah Lin")\n2. get_email_address("sarah")\n3. get_phone_number("Sara Lin")\n'
        '4. get_email_address("Jose Nunez")\n5. get_email_address("pepe")\n6. join()\n'
    )
    assert out == ["sarah@lin.example", "sarah@lin.example", "+1 555 0100", "jose@example.org", "jose@example.org"]


def test_contact_errors_name_the_problem(env: Env) -> None:
    assert "no contacts in" in env.fails('1. get_email_address("Sarah")\n2. join()')
    add_contacts(env)
    assert "no contact named 'Zed Quux'" in env.fails('1. get_email_address("Zed Quux")\n2. join()')
    assert "Bob Noemail has no email address" in env.fails('1. get_email_address("Bob Noemail")\n2. join()')
    assert "has no phone number" in env.fails('1. get_phone_number("José Núñez")\n2. join()')


def test_contacts_import_and_merge(env: Env, tmp_path: Path) -> None:
    from rich.console import Console

    from tinyagent_cli.commands.contacts import import_command, list_command

    export = tmp_path / "export.vcf"
    export.write_text(CARDS, encoding="utf-8")
    console = Console(record=True, width=200)
    import_command(env.settings, export, console)
    assert "3 new, 0 merged" in console.export_text()
    book = env.data / "contacts" / "contacts"  # an address book khard can be pointed at
    cards = {portable.card_name(c): (p, c) for p in book.glob("*.vcf") for c in portable.read_vcards(p)}
    assert sorted(cards) == ["Bob Noemail", "José Núñez", "Sarah Lin"]
    assert all(p.stem == str(c.uid.value) for p, c in cards.values())  # <uid>.vcf, one card each

    update = tmp_path / "update.vcf"
    update.write_text(
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Noemail\nN:Noemail;Bob;;;\nEMAIL:bob@new.example\nORG:Acme\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Sarah Lin\nN:Lin;Sarah;;;\nEMAIL:SARAH@lin.example\nEND:VCARD\n",
        encoding="utf-8",
    )
    import_command(env.settings, update, console)
    assert "0 new, 2 merged" in console.export_text()
    list_command(env.settings, console, as_json=True)
    rows = json.loads(console.export_text(clear=True).split("merged\n")[-1])
    by_name = {r["name"]: r for r in rows}
    assert by_name["Bob Noemail"]["emails"] == ["bob@new.example"]
    assert by_name["Sarah Lin"]["emails"] == ["sarah@lin.example", "sarah.old@lin.example"]  # no duplicate
    assert "ORG:Acme" in cards["Bob Noemail"][0].read_text(encoding="utf-8")
    assert env.ok('1. get_email_address("Bob")\n2. join()') == ["bob@new.example"]


def test_contacts_import_rejects_a_file_that_is_not_vcard(env: Env, tmp_path: Path) -> None:
    from rich.console import Console

    from tinyagent_cli.commands.contacts import import_command

    bad = tmp_path / "bad.vcf"
    bad.write_text("hello\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        import_command(env.settings, bad, Console())
    with pytest.raises(ConfigError, match="no vCard file"):
        import_command(env.settings, tmp_path / "missing.vcf", Console())


# ---------------------------------------------------------------- calendar and reminders


def test_calendar_event_with_invitees_from_contacts(env: Env) -> None:
    add_contacts(env)
    out = env.ok(
        '1. get_email_address("Sarah Lin")\n'
        '2. create_calendar_event("Q3 review", "tomorrow 3pm", "", "Room 4", ["$1", "Ann <ann@x.example>"], '
        '"Bring the deck", "")\n3. join()\n'
    )
    folder = env.data / "calendars" / "Calendar"
    (path,) = folder.glob("*.ics")
    assert str(path) in out[1] and "calendar 'Calendar' (new)" in out[1]
    assert (folder / "displayname").read_text(encoding="utf-8") == "Calendar"
    (event,) = read_items(folder, "VEVENT")
    assert str(event["SUMMARY"]) == "Q3 review"
    assert str(event["LOCATION"]) == "Room 4" and str(event["DESCRIPTION"]) == "Bring the deck"
    assert event.decoded("DTSTART") == datetime(2026, 11, 21, 15, 0, tzinfo=PLUS_ONE)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
    assert event.decoded("DTSTART").utcoffset() is not None
    attendees = [str(a) for a in event.get("ATTENDEE")]
    assert attendees == ["mailto:sarah@lin.example", "mailto:ann@x.example"]
    assert event.get("ATTENDEE")[1].params["CN"] == "Ann"
    assert event["DTSTAMP"] and len(str(event["UID"])) == 32 and "@" not in str(event["UID"])


def test_a_calendar_is_found_by_its_displayname_and_the_default_by_what_it_holds(home: Path, tmp_path: Path) -> None:
    env = make_env(home, tmp_path, "  calendars_dir: pim\n")  # a vdir of the person's, not tinyagent's own
    root = env.data / "pim"
    for folder, name, item in (("a1b2", "Work", "VEVENT"), ("tasks", "", "VTODO"), ("personal", "", "VEVENT")):
        (root / folder).mkdir(parents=True)
        if name:
            (root / folder / "displayname").write_text(name, encoding="utf-8")
        (root / folder / "x.ics").write_text(
            f"BEGIN:VCALENDAR\r\nBEGIN:{item}\r\nUID:x\r\nEND:{item}\r\nEND:VCALENDAR\r\n", encoding="utf-8")
    env.ok('1. create_calendar_event("Standup", "tomorrow 9am", "", "", [], "", "work")\n2. join()\n')
    assert [str(e["SUMMARY"]) for e in read_items_except(root / "a1b2", "x.ics", "VEVENT")] == ["Standup"]
    # no calendar named: not the task list (its items are VTODOs), the first of those with events
    env.ok('1. create_calendar_event("Lunch", "tomorrow 1pm", "", "", [], "", "")\n2. join()\n')
    assert [str(e["SUMMARY"]) for e in read_items_except(root / "a1b2", "x.ics", "VEVENT")] == ["Standup", "Lunch"]
    assert sorted(p.name for p in (root / "tasks").iterdir()) == ["x.ics"]


def test_in_tinyagents_own_folder_an_unnamed_reminder_goes_to_the_default_list_whatever_else_exists(env: Env) -> None:
    env.ok('1. create_reminder("Milk", "", "", "Errands", 0, False)\n2. join()\n')
    env.ok('1. create_reminder("Call Bob", "", "", "", 0, False)\n2. join()\n')
    assert [str(t["SUMMARY"]) for t in read_items(env.data / "reminders" / "Reminders", "VTODO")] == ["Call Bob"]
    assert [str(t["SUMMARY"]) for t in read_items(env.data / "reminders" / "Errands", "VTODO")] == ["Milk"]


def test_events_and_tasks_sharing_one_folder_each_go_where_their_kind_is(home: Path, tmp_path: Path) -> None:
    env = make_env(home, tmp_path, "  calendars_dir: pim\n  reminders_dir: pim\n")
    root = env.data / "pim"
    for folder, item in (("home", "VEVENT"), ("chores", "VTODO")):
        (root / folder).mkdir(parents=True)
        (root / folder / "x.ics").write_text(
            f"BEGIN:VCALENDAR\r\nBEGIN:{item}\r\nUID:x\r\nEND:{item}\r\nEND:VCALENDAR\r\n", encoding="utf-8")
    env.ok('1. create_reminder("Water plants", "", "", "", 0, False)\n'
           '2. create_calendar_event("Dentist", "tomorrow 9am", "", "", [], "", "")\n3. join()\n')
    assert [str(t["SUMMARY"]) for t in read_items_except(root / "chores", "x.ics", "VTODO")] == ["Water plants"]
    assert [str(e["SUMMARY"]) for e in read_items_except(root / "home", "x.ics", "VEVENT")] == ["Dentist"]
    assert sorted(p.name for p in root.iterdir()) == ["chores", "home"]


def read_items_except(folder: Path, skip: str, component: str) -> list:
    items = [read_ics(p).walk(component)[0] for p in folder.glob("*.ics") if p.name != skip]
    return sorted(items, key=lambda c: c.decoded("DTSTART")) if component == "VEVENT" else items


def test_the_old_single_file_calendar_is_split_into_a_collection_and_kept(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    path = env.data / "calendars" / "Work.ics"
    path.parent.mkdir(parents=True)
    old = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//App//EN\r\n"
        "BEGIN:VEVENT\r\nUID:keep-me@other\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\n"
        "SUMMARY:Old event\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:also@other\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260106T090000Z\r\n"
        "SUMMARY:Older event\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    path.write_bytes(old.encode())
    with caplog.at_level("WARNING"):
        env.ok('1. create_calendar_event("A", "2026-12-01T10:00:00+01:00", "2026-12-01T12:30:00+01:00", "", [], "", '
               '"Work")\n2. join()\n')
    (said,) = [r.getMessage() for r in caplog.records if "moved" in r.getMessage()]
    assert "2 from Work.ics" in said and ".old-layout" in said
    summaries = {str(read_ics(p).walk("VEVENT")[0]["SUMMARY"]): read_ics(p).walk("VEVENT")[0]
                 for p in (env.data / "calendars" / "Work").glob("*.ics")}
    assert sorted(summaries) == ["A", "Old event", "Older event"]
    assert str(summaries["Old event"]["UID"]) == "keep-me@other"  # UIDs are kept: others refer to them
    a = summaries["A"]
    assert a.decoded("DTEND") - a.decoded("DTSTART") == timedelta(hours=2, minutes=30)
    assert not path.exists()
    assert (env.data / "calendars" / ".old-layout" / "Work.ics").read_bytes() == old.encode()


def test_parallel_events_in_one_calendar_are_all_kept(env: Env) -> None:
    lines = [f'{i}. create_calendar_event("E{i}", "tomorrow {i}pm", "", "", [], "", "")' for i in range(1, 7)]
    env.ok("\n".join(lines) + "\n7. join()\n")
    events = read_items(env.data / "calendars" / "Calendar", "VEVENT")
    assert sorted(str(e["SUMMARY"]) for e in events) == [f"E{i}" for i in range(1, 7)]
    assert sorted(p.name for p in (env.data / "calendars").iterdir()) == ["Calendar"]


def test_calendar_event_errors(env: Env) -> None:
    assert "'Sarah'" in env.fails('1. create_calendar_event("X", "tomorrow 3pm", "", "", ["Sarah"], "", "")\n2. join()')
    assert "before it starts" in env.fails(
        '1. create_calendar_event("X", "tomorrow 3pm", "tomorrow 2pm", "", [], "", "")\n2. join()'
    )
    assert "start date" in env.fails('1. create_calendar_event("X", "", "", "", [], "", "")\n2. join()')
    assert not (env.data / "calendars").exists()  # nothing half-made by a refused event
    broken = env.data / "calendars" / "Broken.ics"
    broken.parent.mkdir(parents=True)
    broken.write_text("not a calendar", encoding="utf-8")
    env.ok('1. create_calendar_event("X", "tomorrow 3pm", "", "", [], "", "Broken")\n2. join()')
    assert broken.read_text(encoding="utf-8") == "not a calendar"  # an old file it cannot read stays put


def test_reminders_as_vtodo(env: Env) -> None:
    env.ok(
        '1. create_reminder("Pay rent", "Dec 1", "Landlord: Ann", "", 1, True)\n'
        '2. create_reminder("Call Bob", "tomorrow 5pm", "", "Errands", 5, False)\n'
        '3. create_reminder("Someday", "", "", "Errands", 0, False)\n4. join()\n'
    )
    (rent,) = read_items(env.data / "reminders" / "Reminders", "VTODO")
    assert str(rent["SUMMARY"]) == "Pay rent" and str(rent["DESCRIPTION"]) == "Landlord: Ann"
    assert rent.decoded("DUE") == date(2026, 12, 1)
    assert rent["DUE"].params.get("VALUE") == "DATE" or b"DUE;VALUE=DATE:20261201" in rent.to_ical()
    assert int(rent["PRIORITY"]) == 1 and str(rent["STATUS"]) == "NEEDS-ACTION"
    todos = {str(t["SUMMARY"]): t for t in read_items(env.data / "reminders" / "Errands", "VTODO")}
    call, someday = todos["Call Bob"], todos["Someday"]
    assert call.decoded("DUE") == datetime(2026, 11, 21, 17, 0, tzinfo=PLUS_ONE)
    assert int(call["PRIORITY"]) == 5
    assert "DUE" not in someday and "PRIORITY" not in someday
    assert "priority must be" in env.fails('1. create_reminder("X", "", "", "", 12, False)\n2. join()')


# ---------------------------------------------------------------- notes


def test_notes_create_open_append(env: Env) -> None:
    out = env.ok('1. create_note("Café – Zürich: plan", "Line one", "")\n2. join()\n')
    path = env.data / "notes" / "Notes" / "Café – Zürich- plan.md"
    assert str(path) in out[0]
    assert path.read_text(encoding="utf-8") == "# Café – Zürich: plan\n\nLine one\n"
    env.ok('1. append_note_content("Café – Zürich: plan", "Line two", "Notes")\n2. join()\n')
    assert path.read_text(encoding="utf-8") == "# Café – Zürich: plan\n\nLine one\n\nLine two\n"
    assert env.ok('1. open_note("cafe zurich plan", "")\n2. join()') == [path.read_text(encoding="utf-8")]


def test_same_title_twice_keeps_both(env: Env) -> None:
    env.ok('1. create_note("Ideas", "first", "Work")\n2. join()\n')
    env.ok('1. create_note("Ideas", "second", "Work")\n2. join()\n')
    folder = env.data / "notes" / "Work"
    assert (folder / "Ideas.md").read_text(encoding="utf-8").endswith("first\n")
    assert (folder / "Ideas (2).md").read_text(encoding="utf-8").endswith("second\n")


def test_parallel_appends_lose_nothing(env: Env) -> None:
    env.ok('1. create_note("Log", "start", "")\n2. join()\n')
    lines = [f'{i}. append_note_content("Log", "entry {i}", "")' for i in range(1, 9)]
    env.ok("\n".join(lines) + "\n9. join()\n")
    text = (env.data / "notes" / "Notes" / "Log.md").read_text(encoding="utf-8")
    assert all(f"entry {i}" in text for i in range(1, 9)) and text.startswith("# Log\n\nstart\n")


def test_append_creates_a_missing_note_and_open_reports_missing(env: Env) -> None:
    out = env.ok('1. append_note_content("Groceries", "milk", "Home")\n2. join()\n')
    assert "Created missing note" in out[0]
    assert (env.data / "notes" / "Home" / "Groceries.md").read_text(encoding="utf-8") == "# Groceries\n\nmilk\n"
    error = env.fails('1. open_note("Holiday plans", "Home")\n2. join()')
    assert "no note named 'Holiday plans' in folder 'Home'" in error and "Groceries" in error


def test_pdf_summary_chain_into_a_note(env: Env) -> None:
    (env.files / "reports").mkdir()
    write_pdf(env.files / "reports" / "Q3_report.pdf", REPORT)
    out = env.ok(
        '1. open_and_get_file_path("Q3 report")\n2. summarize_pdf("$1")\n'
        '3. create_note("Q3 summary", "$2", "")\n4. join()\n'
    )
    assert out[0] == str((env.files / "reports" / "Q3_report.pdf").resolve())
    assert "solar farm" in out[1] and "umbrella" not in out[1]
    note = (env.data / "notes" / "Notes" / "Q3 summary.md").read_text(encoding="utf-8")
    assert note == f"# Q3 summary\n\n{out[1]}\n"
    assert "not a PDF" in env.fails(f'1. summarize_pdf({json.dumps(str(env.home / "config" / "config.yaml"))})\n2. join()')


# ---------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ("/etc/shadow", "etc-shadow"),
        ("..\\..\\boot.ini", "boot.ini"),
        ('a:b*c?d"e<f>g|h', "a-b-c-d-e-f-g-h"),
        ("nul\x00byte", "nul-byte"),
        (".hidden", "hidden"),
        ("trailing. ", "trailing"),
        ("CON", "_CON"),
        ("com1.txt", "_com1.txt"),
        ("Zoë 日本", "Zoë 日本"),
        ("report\u202egpj.exe", "reportgpj.exe"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("  spaced   out ", "spaced out"),
    ],
)
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_safe_name_length_and_empty() -> None:
    assert len(safe_name("é" * 500).encode("utf-8")) <= 200
    assert safe_name("", "Notes") == "Notes"
    for hopeless in ("..", "/", "../..", "\\\\"):
        with pytest.raises(ToolError):
            safe_name(hopeless)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=300))
def test_any_text_becomes_a_safe_component_or_a_clear_error(raw: str) -> None:
    try:
        name = safe_name(raw)
    except ToolError:
        return
    assert name and not name.startswith((".", "-")) and not name.endswith((".", " "))
    assert not set(name) & set('/\\:*?"<>|\x00') and len(name.encode("utf-8")) <= 200
    assert Path(name).name == name and name not in (".", "..")


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    assert inside(root, "a.md") == (root / "a.md").resolve()
    for parts in (("..", "x"), ("/etc/passwd",), ("link", "x")):
        with pytest.raises(ToolError, match="outside"):
            inside(root, *parts)


@pytest.mark.parametrize(
    "plan",
    [
        '1. create_note("../../../escape", "x", "../../..")\n2. join()',
        '1. create_note("/tmp/escape", "x", "/tmp")\n2. join()',
        '1. append_note_content("..\\\\..\\\\escape", "x", "..")\n2. join()',
        '1. create_calendar_event("x", "tomorrow 3pm", "", "", [], "", "../../../escape")\n2. join()',
        '1. create_reminder("x", "", "", "/../../escape", 0, False)\n2. join()',
    ],
)
def test_hostile_names_never_leave_the_data_folder(env: Env, tmp_path: Path, plan: str) -> None:
    before = {p for p in tmp_path.rglob("*")}
    result = env.run(plan)[1]  # done (name made safe) or failed (nothing usable left), never outside
    assert result.status == "done" or "cannot be used as a name" in (result.error or "")
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p.resolve().is_relative_to(env.data.resolve()) for p in created), created


def test_a_note_linked_outside_is_not_read_or_written(env: Env, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    folder = env.data / "notes" / "Notes"
    folder.mkdir(parents=True)
    (folder / "secret.md").symlink_to(secret)
    assert "outside" in env.fails('1. open_note("secret", "")\n2. join()')
    assert "outside" in env.fails('1. append_note_content("secret", "more", "")\n2. join()')
    assert secret.read_text(encoding="utf-8") == "top secret"


# ---------------------------------------------------------------- mail


def test_compose_with_attachments_and_contacts(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYAGENT_MAIL_FROM", "Me <me@home.example>")
    add_contacts(env)
    write_pdf(env.files / "deck.pdf", REPORT)
    (env.files / "data.xyz123").write_bytes(b"\x00\x01binary")
    out = env.ok(
        '1. get_email_address("Sarah")\n2. open_and_get_file_path("deck")\n'
        f'3. compose_new_email(["$1"], ["jose@example.org"], "Q3 deck", "Here is the deck.\\nBest", '
        f'["$2", {json.dumps(str(env.files / "data.xyz123"))}])\n4. join()\n'
    )
    (path,) = drafts(env)
    assert str(path) in out[2]
    msg = read_eml(path)
    assert msg["To"] == "sarah@lin.example" and msg["Cc"] == "jose@example.org"
    assert msg["From"] == "Me <me@home.example>" and msg["Subject"] == "Q3 deck"
    assert msg["Message-ID"].endswith("@home.example>") and msg["Date"] and msg["X-Unsent"] == "1"
    assert msg.get_body(preferencelist=("plain",)).get_content() == "Here is the deck.\nBest\n"
    parts = {p.get_filename(): p for p in msg.iter_attachments()}
    assert parts["deck.pdf"].get_content_type() == "application/pdf"
    assert parts["deck.pdf"].get_content() == (env.files / "deck.pdf").read_bytes()
    assert parts["data.xyz123"].get_content_type() == "application/octet-stream"


def test_compose_errors(env: Env) -> None:
    error = env.fails('1. compose_new_email(["Sarah Lin", "ok@x.example"], [], "s", "b", [])\n2. join()')
    assert "'Sarah Lin'" in error and "get_email_address" in error
    assert "attachment not found" in env.fails('1. compose_new_email([], [], "s", "b", ["/no/such/file.pdf"])\n2. join()')
    assert drafts(env) == []


ORIGINAL = (
    "From: Sarah Lin <sarah@lin.example>\r\nTo: me@home.example\r\nSubject: Budget\r\n"
    "Date: Thu, 19 Nov 2026 09:00:00 +0100\r\nMessage-ID: <orig-1@lin.example>\r\n"
    "References: <older@lin.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Can you check the numbers?\r\nThanks\r\n"
)


def put_inbox(env: Env, name: str, text: str, age: float) -> Path:
    inbox = env.data / "mail" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_text(text, encoding="utf-8")
    stamp = NOW.timestamp() - age
    os.utime(path, (stamp, stamp))
    return path


def test_reply_to_the_newest_inbox_message(env: Env) -> None:
    assert "no email to act on" in env.fails('1. reply_to_email([], "Sure", [])\n2. join()')
    put_inbox(env, "old.eml", ORIGINAL.replace("Budget", "Old").replace("orig-1", "old-1"), 3600)
    put_inbox(env, "new.eml", ORIGINAL, 60)
    env.ok('1. reply_to_email(["boss@x.example"], "Looks right to me.", [])\n2. join()\n')
    (path,) = drafts(env)
    msg = read_eml(path)
    assert msg["Subject"] == "Re: Budget" and msg["To"] == "Sarah Lin <sarah@lin.example>"
    assert msg["Cc"] == "boss@x.example"
    assert msg["In-Reply-To"] == "<orig-1@lin.example>"
    assert msg["References"] == "<older@lin.example> <orig-1@lin.example>"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("Looks right to me.") and "> Can you check the numbers?" in body


def test_reply_and_forward_use_the_configured_message(home: Path, tmp_path: Path) -> None:
    message = tmp_path / "chosen.eml"
    message.write_text(ORIGINAL.replace("Subject: Budget", "Subject: Re: Budget"), encoding="utf-8")
    env = make_env(home, tmp_path, f"  reply_to: {json.dumps(str(message))}\n")
    env.ok('1. reply_to_email([], "ok", [])\n2. join()\n')
    assert read_eml(drafts(env)[0])["Subject"] == "Re: Budget"  # no "Re: Re:"
    env.ok('1. forward_email(["ann@x.example"], [], "FYI, see below.", [])\n2. join()\n')
    forward = next(read_eml(p) for p in drafts(env) if read_eml(p)["Subject"].startswith("Fwd:"))
    assert forward["Subject"] == "Fwd: Re: Budget" and forward["To"] == "ann@x.example"
    assert forward.get_body(preferencelist=("plain",)).get_content().startswith("FYI, see below.")
    (attached,) = [p for p in forward.iter_attachments() if p.get_content_type() == "message/rfc822"]
    inner = attached.get_content()
    assert inner["Message-ID"] == "<orig-1@lin.example>" and "check the numbers" in inner.get_content()

    missing = make_env(home, tmp_path, f"  reply_to: {json.dumps(str(tmp_path / 'gone.eml'))}\n")
    assert "does not exist" in missing.fails('1. forward_email(["a@b.example"], [], "x", [])\n2. join()')


# ---------------------------------------------------------------- maps


def test_maps_urls(env: Env) -> None:
    location, directions, walking = env.ok(
        '1. maps_open_location("Café de Flore, Paris")\n'
        '2. maps_show_directions("", "1 Main St & 2nd Ave", "r")\n'
        '3. maps_show_directions("Home", "Work", "w")\n4. join()\n'
    )
    url = urlsplit(location)
    assert url.netloc == "www.google.com" and url.path == "/maps/search/"
    assert parse_qs(url.query) == {"api": ["1"], "query": ["Café de Flore, Paris"]}
    query = parse_qs(urlsplit(directions).query)
    assert query == {"api": ["1"], "destination": ["1 Main St & 2nd Ave"], "travelmode": ["transit"]}
    assert parse_qs(urlsplit(walking).query)["origin"] == ["Home"]
    assert parse_qs(urlsplit(walking).query)["travelmode"] == ["walking"]
    assert "transport must be d (driving), w (walking), r (public transit), b (bicycling), not 'teleport'" in env.fails(
        '1. maps_show_directions("a", "b", "teleport")\n2. join()')
    on_foot, bike = env.ok('1. maps_show_directions("", "Zoo", "on foot")\n2. maps_show_directions("", "Zoo", "bike")\n'
                           '3. join()\n')
    assert parse_qs(urlsplit(on_foot).query)["travelmode"] == ["walking"]
    assert parse_qs(urlsplit(bike).query)["travelmode"] == ["bicycling"]
    assert "no location" in env.fails('1. maps_open_location("  ")\n2. join()')


@pytest.mark.parametrize("provider", ["osm", "geo"])
def test_maps_from_openstreetmap_or_the_map_app_and_transit_from_google_saying_so(
    home: Path, tmp_path: Path, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = make_env(home, tmp_path, f"maps:\n  provider: {provider}\n")
    with caplog.at_level("WARNING"):
        location, cycling, transit = env.ok(
            '1. maps_open_location("Café de Flore, Paris")\n'
            '2. maps_show_directions("Gare du Nord", "Café de Flore & Co", "b")\n'
            '3. maps_show_directions("", "Orsay", "r")\n4. join()\n'
        )
    if provider == "osm":
        assert location == "https://www.openstreetmap.org/search?query=Caf%C3%A9+de+Flore%2C+Paris"
    else:
        assert urlsplit(location).scheme == "geo" and parse_qs(urlsplit(location).query) == {"q": ["Café de Flore, Paris"]}
    route = urlsplit(cycling)
    assert route.netloc == "www.openstreetmap.org" and route.path == "/directions"
    assert parse_qs(route.query) == {"engine": ["fossgis_osrm_bike"], "from": ["Gare du Nord"], "to": ["Café de Flore & Co"]}
    assert urlsplit(transit).netloc == "www.google.com" and parse_qs(urlsplit(transit).query)["travelmode"] == ["transit"]
    assert [r.getMessage() for r in caplog.records] == [
        "OpenStreetMap has no public transit directions: a Google Maps link instead"]


def test_a_maps_provider_not_known_is_a_config_error(home: Path) -> None:
    write_config(home, "maps:\n  provider: bing\n")
    with pytest.raises(ConfigError, match="maps.provider must be google or osm or geo, not 'bing'"):
        Settings.load()


# ---------------------------------------------------------------- files


def test_file_search_exact_extension_fuzzy_hidden(env: Env) -> None:
    (env.files / "a" / "b").mkdir(parents=True)
    (env.files / ".hidden").mkdir()
    (env.files / ".hidden" / "secret plan.txt").write_text("x")
    (env.files / "a" / "b" / "Budget 2026.xlsx").write_text("x")
    (env.files / "a" / "budget 2026.txt").write_text("x")
    (env.files / "a" / "b" / "holiday-photos.zip").write_text("x")
    found = lambda q: env.ok(f"1. open_and_get_file_path({json.dumps(q)})\n2. join()")[0]
    assert found("budget 2026") == str((env.files / "a" / "budget 2026.txt").resolve())  # shallower wins
    assert found("Budget 2026.xlsx") == str((env.files / "a" / "b" / "Budget 2026.xlsx").resolve())
    assert found("holiday photos") == str((env.files / "a" / "b" / "holiday-photos.zip").resolve())
    assert found("holliday foto") == str((env.files / "a" / "b" / "holiday-photos.zip").resolve())
    assert found(str(env.files / "a" / "budget 2026.txt")) == str((env.files / "a" / "budget 2026.txt").resolve())
    assert "no file named 'secret plan'" in env.fails('1. open_and_get_file_path("secret plan")\n2. join()')


def test_file_search_stops_at_its_limit(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        (env.files / f"dir{i}").mkdir()
        (env.files / f"dir{i}" / f"file{i}.txt").write_text("x")
    monkeypatch.setattr(portable, "MAX_WALK_ENTRIES", 10)
    monkeypatch.setattr(portable, "_indexed", lambda *_: None)  # no plocate or fd: the walk alone
    error = env.fails('1. open_and_get_file_path("file29")\n2. join()')
    assert "stopped after" in error and "file_roots" in error


@pytest.mark.skipif(not shutil.which("fdfind") and not shutil.which("fd"), reason="fd is not installed")
def test_fd_finds_what_the_walk_gives_up_on(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        (env.files / f"dir{i}").mkdir()
        (env.files / f"dir{i}" / f"file{i}.txt").write_text("x")
    (env.files / "dir3" / "node_modules").mkdir()
    (env.files / "dir3" / "node_modules" / "Q3_deck.pdf").write_text("x")
    (env.files / "dir4" / "Q3 deck.pdf").write_text("x")
    monkeypatch.setattr(portable, "MAX_WALK_ENTRIES", 10)
    assert env.ok('1. open_and_get_file_path("file29")\n2. join()')[0] == str(env.files / "dir29" / "file29.txt")
    assert env.ok('1. open_and_get_file_path("q3 deck")\n2. join()')[0] == str(env.files / "dir4" / "Q3 deck.pdf")


@pytest.mark.skipif(not shutil.which("plocate") or not shutil.which("updatedb"), reason="plocate is not installed")
def test_plocate_is_asked_when_its_database_exists_and_each_hit_is_checked(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tmp_path / "files"
    (files / "deep" / "er").mkdir(parents=True)
    (files / "deep" / "er" / "Tax return 2025.pdf").write_text("x")
    (files / "gone tax return 2025.pdf").write_text("x")
    database = tmp_path / "files.db"
    subprocess.run(["updatedb", "--require-visibility", "0", "--database-root", str(files), "--output", str(database),
                    "--prunepaths", ""], check=True, capture_output=True)
    (files / "gone tax return 2025.pdf").unlink()  # the database is older than the files
    env = make_env(home, tmp_path, f"  locate_db: {json.dumps(str(database))}\n")
    monkeypatch.setattr(portable, "MAX_WALK_ENTRIES", 1)  # only plocate can find it
    only = tmp_path / "bin"
    only.mkdir()
    (only / "plocate").symlink_to(shutil.which("plocate"))
    monkeypatch.setenv("PATH", str(only))  # plocate and no fd
    assert env.ok('1. open_and_get_file_path("tax return 2025")\n2. join()')[0] == str(
        files / "deep" / "er" / "Tax return 2025.pdf")


@pytest.mark.skipif(sys.platform != "linux", reason="xdg-open is the Linux opener")
def fake_opener(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with an ``xdg-open`` that appends its arguments to a log; (folder, log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "opened.txt"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {log}\n', encoding="utf-8")
    opener.chmod(0o755)
    return bin_dir, log


def test_found_file_is_opened_with_the_system_opener(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, log = fake_opener(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":99")
    env = make_env(home, tmp_path)
    config = env.settings.config
    env.settings = replace(env.settings, config=replace(config, portable=replace(config.portable, open_files=True)))
    (env.files / "report.odt").write_text("x")
    out = env.ok('1. open_and_get_file_path("report")\n2. join()')
    assert log.read_text().splitlines() == [out[0]]


# ---------------------------------------------------------------- zoom


def test_zoom_without_credentials_fails_with_the_fix(env: Env) -> None:
    error = env.fails('1. get_zoom_meeting_link("Sync", "tomorrow 3pm", 30, [])\n2. join()')
    assert "Zoom is not set up" in error and "ZOOM_CLIENT_ID" in error

