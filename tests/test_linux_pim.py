"""Linux: what the agent writes is seen by the programs Linux people keep their PIM with.

khal, todoman and khard read the vdir the portable backend wrote (as subprocesses, with their
own configs, which the backend also reads to find the folders); every hostile string of the
suite survives each store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tinyagent_cli.settings import CaldavConfig, Settings
from tinyagent_cli.tools import portable, vdir
from tinyagent_cli.tools.caldav import CalDAV
from tinyagent_cli.tools.context import ToolContext

from .conftest import run_cli, write_config
from .test_caldav import free_port, radicale_server
from .test_imap import DOVECOT, Dovecot, add_user, deliver, dovecot_server, folder_contents, mail, parse, text
from .test_kdeconnect import HOSTILE as TEXT_HOSTILE
from .test_macos import HOSTILE as SCRIPT_HOSTILE
from .test_portable import Env, make_env, read_eml, read_items

BIN = Path(sys.executable).parent
HOSTILE = list(dict.fromkeys([*SCRIPT_HOSTILE, *TEXT_HOSTILE]))
AIKO = "BEGIN:VCARD\nVERSION:3.0\nFN:Aiko Tanaka\nN:Tanaka;Aiko;;;\nEMAIL:aiko@example.jp\nTEL:+1 415 555 0101\nEND:VCARD\n"
PLAN = (
    '1. get_email_address("Aiko")\n'
    '2. create_calendar_event("Lunch with Aiko", "2026-12-11T13:00:00", "", "Nopa", ["$1", "Sam <sam@example.org>"], '
    '"", "")\n'
    '3. create_reminder("Book a table at Nopa", "2026-12-10T18:00:00", "", "", 1, False)\n'
    '4. create_reminder("Buy flowers", "2026-12-11", "", "", 9, True)\n'
    "5. join()\n"
)


@dataclass(frozen=True)
class Pim:
    home: Path
    calendars: Path
    contacts: Path
    env: dict[str, str]

    def program(self, *argv: str, timezone: str = "America/New_York") -> str:
        done = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60,
                              env={**self.env, "TZ": timezone})
        assert done.returncode == 0, done.stderr
        return done.stdout


def khal_config(xdg: Path, calendars: Path, zone: str) -> None:
    (xdg / "khal").mkdir(parents=True, exist_ok=True)
    (xdg / "khal" / "config").write_text(
        f"[calendars]\n[[mine]]\npath = {calendars}/*\ntype = discover\n"
        f"[locale]\nlocal_timezone = {zone}\ndefault_timezone = {zone}\ntimeformat = %H:%M\n"
        "dateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\ndatetimeformat = %Y-%m-%d %H:%M\n"
        "longdatetimeformat = %Y-%m-%d %H:%M\n[default]\ndefault_calendar = personal\n",
        encoding="utf-8",
    )


@pytest.fixture
def pim(home: Path, tmp_path: Path) -> Pim:
    """A person with khal, todoman and khard set up on ~/.calendars and ~/.contacts (no
    tinyagent config at all): the agent must find their folders by itself."""
    xdg = home / "xdg"
    calendars, contacts = tmp_path / "calendars", tmp_path / "contacts"
    for folder in (calendars / "personal", calendars / "tasks", contacts / "friends"):
        folder.mkdir(parents=True)
    khal_config(xdg, calendars, "America/New_York")
    (xdg / "todoman").mkdir()
    (xdg / "todoman" / "config.py").write_text(
        f'path = "{calendars}/*"\ndate_format = "%Y-%m-%d"\ntime_format = "%H:%M"\ndefault_list = "tasks"\n',
        encoding="utf-8")
    (xdg / "khard").mkdir()
    (xdg / "khard" / "khard.conf").write_text(
        f"[addressbooks]\n[[friends]]\npath = {contacts}/friends/\n[general]\ndefault_action = list\n", encoding="utf-8")
    return Pim(home, calendars, contacts, {**os.environ, "XDG_CONFIG_HOME": str(xdg)})


def test_khal_todoman_and_khard_show_what_the_agent_wrote(pim: Pim, tmp_path: Path) -> None:
    card = tmp_path / "aiko.vcf"
    card.write_text(AIKO, encoding="utf-8")
    imported = run_cli(pim.home, "contacts", "import", str(card), env={"TZ": "America/New_York"})
    assert imported.returncode == 0 and str(pim.contacts / "friends") in imported.stdout.replace("\n", "")
    done = run_cli(pim.home, "exec", "--yes", "-", input=PLAN, env={"TZ": "America/New_York"})
    assert done.returncode == 0, done.stdout + done.stderr

    # khal shows the time that was asked for, in New York, and the same instant in London
    listed = pim.program("khal", "list", "2026-12-11", "1d")
    assert "13:00-14:00 Lunch with Aiko" in listed
    khal_config(pim.home / "xdg", pim.calendars, "Europe/London")
    assert "18:00-19:00 Lunch with Aiko" in pim.program("khal", "list", "2026-12-11", "1d", timezone="Europe/London")
    (event,) = read_items(pim.calendars / "personal", "VEVENT")  # khal's default_calendar
    assert [str(a) for a in event.get("ATTENDEE")] == ["mailto:aiko@example.jp", "mailto:sam@example.org"]
    assert event["DTSTART"].params["TZID"] == "America/New_York"

    todos = {t["summary"]: t for t in json.loads(pim.program("todo", "--porcelain", "list"))}
    assert set(todos) == {"Book a table at Nopa", "Buy flowers"}
    assert todos["Book a table at Nopa"]["priority"] == 1 and todos["Buy flowers"]["priority"] == 9
    assert todos["Book a table at Nopa"]["list"] == "tasks"  # todoman's default_list
    due = datetime.fromtimestamp(todos["Book a table at Nopa"]["due"], ZoneInfo("America/New_York"))
    assert due == datetime(2026, 12, 10, 18, 0, tzinfo=ZoneInfo("America/New_York"))
    assert b"DUE;VALUE=DATE:20261211" in next(
        p.read_bytes() for p in (pim.calendars / "tasks").glob("*.ics") if b"Buy flowers" in p.read_bytes())

    assert "aiko@example.jp\tAiko Tanaka" in pim.program("khard", "email", "--parsable")


def test_a_second_run_of_the_same_call_adds_nothing_khal_would_show_twice(pim: Pim) -> None:
    settings = make_env(pim.home, pim.home.parent).settings
    ctx = ToolContext(settings, Path("."), key="run7-2")
    for _ in range(2):
        portable.create_calendar_event(ctx, "Standup", "2026-12-11T09:00:00", "", "", [], "", "")
    assert pim.program("khal", "list", "2026-12-11", "1d").count("Standup") == 1


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_string_survives_the_calendar_the_task_list_and_the_address_book(
    home: Path, tmp_path: Path, value: str
) -> None:
    env: Env = make_env(home, tmp_path)
    ctx = ToolContext(env.settings, Path("."), key="hostile-1")
    portable.create_calendar_event(ctx, value, "2026-12-11T09:00:00", "", value, [], value, value)
    portable.create_reminder(ctx, value, "", value, value, 0, False)
    (event,) = [e for c in vdir.collections(env.data / "calendars") for e in read_items(c.path, "VEVENT")]
    (todo,) = [t for c in vdir.collections(env.data / "reminders") for t in read_items(c.path, "VTODO")]
    # a text property cannot hold a bare CR (RFC 5545 folds lines on CRLF): it comes back as LF
    said = value.strip().replace("\r\n", "\n")
    assert str(event["SUMMARY"]) == said and str(event["LOCATION"]) == said and str(event["DESCRIPTION"]) == said
    assert str(todo["SUMMARY"]) == said and str(todo["DESCRIPTION"]) == said
    named = [c.name for c in vdir.collections(env.data / "calendars")]
    assert len(named) == 1 and named[0] == " ".join(value.split())  # the calendar's displayname

    card = tmp_path / "odd.vcf"
    card.write_text(f"BEGIN:VCARD\nVERSION:3.0\nFN:Odd Person\nNOTE:{_vcard_text(value)}\nEND:VCARD\n", encoding="utf-8")
    from rich.console import Console

    from tinyagent_cli.commands.contacts import import_command

    import_command(env.settings, card, Console(file=open(tmp_path / "out.txt", "w")))  # noqa: SIM115
    (stored,) = (env.data / "contacts" / "contacts").glob("*.vcf")
    (read,) = portable.read_vcards(stored)
    assert str(read.note.value) == value.replace("\r\n", "\n")


def _vcard_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\r\n", "\\n").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def test_doctor_says_which_folders_came_from_which_config(pim: Pim) -> None:
    done = run_cli(pim.home, "doctor", "--json", env={"XDG_CONFIG_HOME": pim.env["XDG_CONFIG_HOME"]})
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert str(pim.calendars) in checks["portable.calendars_dir"]["detail"]
    assert "khal" in checks["portable.calendars_dir"]["detail"]
    assert "todoman" in checks["portable.reminders_dir"]["detail"]
    assert str(pim.contacts) in checks["portable.contacts_dir"]["detail"]


# ---------------------------------------------------------------- CalDAV, and vdirsyncer to it


RADICALE_ROOTS: dict[str, Path] = {}  # home URL -> the server's folder


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    folder = tmp_path_factory.mktemp("radicale")
    with radicale_server(folder) as server:
        RADICALE_ROOTS[server[0]] = folder
        yield server


def caldav_config(home: Path, url: str, user: str, password: str, extra: str = "") -> None:
    secret = home / "secret.sh"
    secret.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n", encoding="utf-8")
    secret.chmod(0o700)
    write_config(home, f"backend: portable\ncaldav:\n  url: {url}\n  username: {user}\n  password_cmd: {secret}\n"
                       f"  reminders: Tasks\n{extra}")


def test_events_and_reminders_go_to_the_caldav_server_once(home: Path, radicale: tuple[str, str, str]) -> None:
    url, user, password = radicale
    caldav_config(home, url, user, password, "  calendar: Family Events\n")
    plan = ('1. create_calendar_event("Recital", "2026-12-12T18:30:00", "", "School hall", '
            '["ana@example.org", "Bo Li <bo@example.org>"], "", "")\n'
            '2. create_reminder("Buy \\"flowers\\" \\\\ card", "2026-12-12", "", "", 5, True)\n3. join()\n')
    done = run_cli(home, "exec", "--yes", "--json", "-", input=plan, env={"TZ": "Europe/Berlin"})
    assert done.returncode == 0, done.stdout + done.stderr
    with CalDAV(CaldavConfig(url=url, username=user), password) as server:
        family, tasks = server.pick("Family Events", "VEVENT"), server.pick("Tasks", "VTODO")
        (event_href,) = [h for h in os.listdir(radicale_items(radicale, "family")) if h.endswith(".ics")]
        event = Calendar.from_ical(server.get(family, event_href.removesuffix(".ics"))).walk("VEVENT")[0]
        (todo_href,) = [h for h in os.listdir(radicale_items(radicale, "tasks")) if h.endswith(".ics")]
        todo = Calendar.from_ical(server.get(tasks, todo_href.removesuffix(".ics"))).walk("VTODO")[0]
    assert [str(a) for a in event.get("ATTENDEE")] == ["mailto:ana@example.org", "mailto:bo@example.org"]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin" and event.decoded("DTSTART").hour == 18
    assert str(todo["SUMMARY"]) == 'Buy "flowers" \\ card' and int(todo["PRIORITY"]) == 5
    results = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    assert "calendar 'Family Events' on http://127.0.0.1" in results[1]["output"]

    # the same call again (a retry: same run and task) is refused by the server and said, not doubled
    settings = Settings.load()
    ctx = ToolContext(settings, Path("."), key="retry-1")
    first = portable.create_reminder(ctx, "Once", "", "", "", 0, False)
    again = portable.create_reminder(ctx, "Once", "", "", "", 0, False)
    assert "had already put it" not in first and "had already put it" in again
    assert sum(b"SUMMARY:Once" in (radicale_items(radicale, "tasks") / h).read_bytes()
               for h in os.listdir(radicale_items(radicale, "tasks")) if h.endswith(".ics")) == 1


def radicale_items(radicale: tuple[str, str, str], slug: str) -> Path:
    """The folder Radicale keeps a calendar's items in (see test_caldav.radicale_server)."""
    url, user, _ = radicale
    return RADICALE_ROOTS[url] / "storage" / "collection-root" / user / slug


def test_a_caldav_server_that_is_down_is_one_line_and_exit_1_with_nothing_written(home: Path) -> None:
    caldav_config(home, f"http://127.0.0.1:{free_port()}/alice/", "alice", "x")
    done = run_cli(home, "exec", "--yes", "-", input='1. create_reminder("X", "", "", "", 0, False)\n2. join()\n')
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = [l for l in done.stdout.splitlines() if l.startswith("✗ create_reminder")]
    assert "127.0.0.1" in line
    assert not (home / "data" / "reminders").exists()  # no local copy pretending it worked


def test_vdirsyncer_carries_our_vdir_to_the_server_with_attendees(
    home: Path, tmp_path: Path, radicale: tuple[str, str, str]
) -> None:
    url, user, password = radicale
    env = make_env(home, tmp_path)
    ctx = ToolContext(env.settings, Path("."), key="sync-1")
    portable.create_calendar_event(ctx, "Board meeting", "2026-12-14T10:00:00", "", "Room 2",
                                   ["Ana <ana@example.org>", "bo@example.org"], "", "personal")
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(
        f'[general]\nstatus_path = "{tmp_path / "status"}"\n'
        '[pair cal]\na = "mine"\nb = "server"\ncollections = [["personal", "personal", "personal"]]\n'
        f'[storage mine]\ntype = "filesystem"\npath = "{env.data / "calendars"}"\nfileext = ".ics"\n'
        f'[storage server]\ntype = "caldav"\nurl = "{url}"\nusername = "{user}"\npassword = "{password}"\n',
        encoding="utf-8")
    for step in (["discover", "cal"], ["sync"]):
        done = subprocess.run([str(BIN / "vdirsyncer"), "-c", str(config), *step], input="y\n" * 5,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    stored = [Calendar.from_ical(p.read_bytes()).walk("VEVENT")[0]
              for p in radicale_items(radicale, "personal").glob("*.ics")]
    (event,) = [e for e in stored if str(e["SUMMARY"]) == "Board meeting"]
    assert [str(a) for a in event.get("ATTENDEE")] == ["mailto:ana@example.org", "mailto:bo@example.org"]
    assert event.get("ATTENDEE")[0].params["CN"] == "Ana"


# ---------------------------------------------------------------- the mail program's compose window


def recording_mailer(tmp_path: Path, code: int = 0) -> tuple[str, Path]:
    """A MAILER for xdg-email that writes each argument it gets, NUL-ended, and exits ``code``."""
    log = tmp_path / "mailer.log"
    script = tmp_path / "mailer.sh"
    script.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\" >> '{log}'; done\nexit {code}\n",
                      encoding="utf-8")
    script.chmod(0o755)
    return str(script), log


@pytest.mark.skipif(not shutil.which("xdg-email"), reason="xdg-utils is not installed")
@pytest.mark.parametrize("value", [HOSTILE[i] for i in (0, 1, 2, 3, 4)], ids=range(5))
def test_without_imap_the_draft_opens_in_the_mail_program_with_everything_as_argv(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    mailer, log = recording_mailer(tmp_path)
    monkeypatch.setenv("MAILER", mailer)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    env = make_env(home, tmp_path)
    write_config(home, (home / "config" / "config.yaml").read_text().replace("open_files: false", "open_files: true"))
    env = Env(env.home, env.data, env.files, Settings.load(), env.catalog)
    deck = env.files / "Q3 deck.pdf"
    deck.write_bytes(b"%PDF-1.4 deck")
    ctx = ToolContext(env.settings, Path("."), key="compose-1")
    said = portable.compose_new_email(ctx, ["sarah@example.org", "Bo <bo@example.org>"], ["cc@example.org"],
                                      value, value, [str(deck)])
    (url,) = log.read_bytes().decode().split("\0")[:-1]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.scheme == "mailto" and [unquote(parts.path), *query["to"]] == ["sarah@example.org", "bo@example.org"]
    assert query["subject"] == [" ".join(value.split())] and query["cc"] == ["cc@example.org"]
    # a mailto body's line breaks are CRLF (RFC 6068): the lines are what counts
    assert [b.replace("\r\n", "\n").rstrip("\n") for b in query["body"]] == [value.strip().replace("\r\n", "\n")]
    assert "opened in your mail program (attachments reach it only in Thunderbird)" in said
    (eml,) = (env.data / "mail" / "drafts").glob("*.eml")
    assert str(eml) in said  # the draft is kept as a file as well, attachment and all
    assert [p.get_filename() for p in read_eml(eml).iter_attachments()] == ["Q3 deck.pdf"]


@pytest.mark.skipif(not shutil.which("xdg-email"), reason="xdg-utils is not installed")
def test_no_mail_program_set_up_is_said_and_the_draft_is_kept(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailer, _ = recording_mailer(tmp_path, code=3)
    monkeypatch.setenv("MAILER", mailer)
    write_config(home, "backend: portable\n")
    ctx = ToolContext(Settings.load(), Path("."), key="compose-2")
    said = portable.compose_new_email(ctx, ["sarah@example.org"], [], "Hi", "Hello", [])
    assert said.startswith("Saved draft 'Hi' to sarah@example.org as ") and "could not open it" in said


def test_doctor_tries_the_caldav_server_and_says_where_things_go(home: Path, radicale: tuple[str, str, str]) -> None:
    url, user, password = radicale
    caldav_config(home, url, user, password)
    checks = {c["name"]: c for c in json.loads(run_cli(home, "doctor", "--json").stdout)["checks"]}
    assert checks["caldav"]["status"] == "ok" and "Family Events" in checks["caldav"]["detail"]
    assert checks["-> events and reminders"]["detail"] == f"go to the CalDAV server {url}"
    caldav_config(home, url, user, "wrong")
    done = run_cli(home, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1 and checks["caldav"]["status"] == "fail" and "401" in checks["caldav"]["detail"]


def test_doctor_offers_vdirsyncers_folders(home: Path, tmp_path: Path) -> None:
    (home / "xdg" / "vdirsyncer").mkdir(parents=True)
    (home / "xdg" / "vdirsyncer" / "config").write_text(
        f'[general]\nstatus_path = "/tmp/x"\n[storage local]\ntype = "filesystem"\npath = "{tmp_path}/cals/"\n'
        'fileext = ".ics"\n[storage remote]\ntype = "caldav"\nurl = "https://dav.example.org/"\n', encoding="utf-8")
    checks = {c["name"]: c for c in json.loads(run_cli(home, "doctor", "--json").stdout)["checks"]}
    assert checks["vdirsyncer"]["status"] == "info" and f"{tmp_path}/cals" in checks["vdirsyncer"]["detail"]
    write_config(home, f"portable:\n  calendars_dir: {tmp_path}/cals\n")
    checks = {c["name"]: c for c in json.loads(run_cli(home, "doctor", "--json").stdout)["checks"]}
    assert checks["vdirsyncer"]["status"] == "ok"


# ---------------------------------------------------------------- IMAP: the account's Drafts and INBOX


@pytest.fixture(scope="module")
def mail_server() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed")
    with dovecot_server() as server:
        yield server


@dataclass(frozen=True)
class Mailbox:
    env: Env
    account: Dovecot


@pytest.fixture
def mailbox(mail_server: Dovecot, home: Path, tmp_path: Path) -> Mailbox:
    """A fresh account, and a tinyagent set up for it (its password only through password_cmd)."""
    account = add_user(mail_server, f"u{os.urandom(4).hex()}", 'pa"ss\\word')
    secret = home / "imap-password.sh"
    secret.write_text(f"#!/bin/sh\nprintf '%s\\n' '{account.password}'\n", encoding="utf-8")
    secret.chmod(0o700)
    env = make_env(home, tmp_path, f"imap:\n  host: {account.host}\n  port: {account.port}\n  security: none\n"
                                   f"  username: {account.user}\n  password_cmd: {secret}\n")
    (env.data / "contacts").mkdir(parents=True)
    (env.data / "contacts" / "sarah.vcf").write_text(
        "BEGIN:VCARD\nVERSION:3.0\nFN:Sarah Chen\nEMAIL:sarah@example.org\nEND:VCARD\n", encoding="utf-8")
    return Mailbox(env, account)


def test_email_sarah_the_q3_deck_leaves_a_draft_with_the_file_in_the_accounts_drafts(mailbox: Mailbox) -> None:
    env, account = mailbox.env, mailbox.account
    deck = env.files / "Q3 deck.pdf"
    deck.write_bytes(b"%PDF-1.4\n" + os.urandom(2000))
    plan = ('1. get_email_address("Sarah")\n2. open_and_get_file_path("Q3 deck")\n'
            '3. compose_new_email(["$1"], [], "Q3 deck", "Hi Sarah, the deck is attached.", ["$2"])\n4. join()\n')
    done = run_cli(env.home, "exec", "--yes", "-", input=plan)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"in 'Drafts' on {account.host}" in done.stdout.replace("\n", "")
    ((flags, raw),) = folder_contents(account, "Drafts")
    draft = parse(raw)
    assert b"\\Draft" in flags and draft["To"] == "sarah@example.org" and draft["Subject"] == "Q3 deck"
    (attached,) = draft.iter_attachments()
    assert attached.get_filename() == "Q3 deck.pdf" and attached.get_content() == deck.read_bytes()
    assert not list((env.data / "mail" / "drafts").glob("*.eml"))  # not also a file: one draft, where it is seen


def test_a_reply_threads_on_the_named_senders_newest_message_and_marks_nothing_read(mailbox: Mailbox) -> None:
    env, account = mailbox.env, mailbox.account
    deliver(account, mail("Omar Haddad <omar@example.org>", "Budget", "Numbers attached.\n"))
    deliver(account, mail("Priya <priya@example.org>", "Lunch?", "Noon?\n"))
    ctx = ToolContext(env.settings, Path("."), key="reply-1", request="reply to Omar that the numbers look fine")
    assert "Omar Haddad" in portable.reply_to_email_target(ctx) and "INBOX UID 1" in portable.reply_to_email_target(ctx)
    said = portable.reply_to_email(ctx, [], "The numbers look fine.", [])
    assert said.startswith("Saved reply 'Re: Budget' to Omar Haddad <omar@example.org> in 'Drafts'")
    ((_, raw),) = folder_contents(account, "Drafts")
    reply = parse(raw)
    original = parse(folder_contents(account, "INBOX")[0][1])
    assert reply["In-Reply-To"] == original["Message-ID"] and reply["References"] == original["Message-ID"]
    assert "> Numbers attached." in text(reply.get_body(("plain",)))
    assert all(b"\\Seen" not in flags for flags, _ in folder_contents(account, "INBOX"))

    forward = ToolContext(env.settings, Path("."), key="fwd-1", request="forward Priya's mail to ana@example.org")
    portable.forward_email(forward, ["ana@example.org"], [], "FYI", [])
    forwarded = next(parse(r) for _, r in folder_contents(account, "Drafts") if parse(r)["Subject"] == "Fwd: Lunch?")
    (inner,) = forwarded.iter_attachments()
    assert inner.get_content_type() == "message/rfc822" and inner.get_content()["From"] == "Priya <priya@example.org>"
    assert all(b"\\Seen" not in flags for flags, _ in folder_contents(account, "INBOX"))


def test_a_mail_server_that_refuses_or_is_down_is_one_line_and_exit_1(mailbox: Mailbox, home: Path) -> None:
    env, account = mailbox.env, mailbox.account
    plan = '1. compose_new_email(["ana@example.org"], [], "Hi", "Hello", [])\n2. join()\n'
    config = (home / "config" / "config.yaml").read_text(encoding="utf-8")
    write_config(home, config.replace(f"port: {account.port}", f"port: {free_port()}"))
    down = run_cli(home, "exec", "--yes", "-", input=plan)
    write_config(home, config.replace(f"username: {account.user}", "username: nobody-here"))
    refused = run_cli(home, "exec", "--yes", "-", input=plan)
    for done in (down, refused):
        assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
        (line,) = [l for l in done.stdout.splitlines() if l.startswith("✗ compose_new_email")]
        assert "imap" in line.lower()
    assert "username" in refused.stdout and folder_contents(account, "Drafts") == []
    assert not (env.data / "mail" / "drafts").exists()  # no file pretending it went


def test_drafts_saved_as_files_before_imap_move_to_the_account_once(
    mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    env, account = mailbox.env, mailbox.account
    drafts = env.data / "mail" / "drafts"
    drafts.mkdir(parents=True)
    for i in (1, 2):
        (drafts / f"old{i}.eml").write_bytes(mail("me@example.org", f"Old draft {i}", key=f"old-{i}").as_bytes())
    deliver(account, mail("me@example.org", "Old draft 1", key="old-1"), folder="Drafts")  # a move cut short
    with caplog.at_level("WARNING"):
        portable.compose_new_email(ToolContext(env.settings, Path("."), key="new-1"), ["a@example.org"], [], "New",
                                   "Hi", [])
    subjects = sorted(parse(raw)["Subject"] for _, raw in folder_contents(account, "Drafts"))
    assert subjects == ["New", "Old draft 1", "Old draft 2"]
    assert not list(drafts.glob("*.eml")) and sorted(p.name for p in (drafts / ".moved-to-imap").iterdir()) == [
        "old1.eml", "old2.eml"]
    assert [r.getMessage() for r in caplog.records if "moved" in r.getMessage()][0].startswith(
        f"moved 2 draft(s) from {drafts} into 'Drafts' on {account.host}")


# ---------------------------------------------------------------- from the old layout


def test_an_old_users_calendars_and_contacts_come_along_when_khal_and_khard_are_set_up(
    pim: Pim, caplog: pytest.LogCaptureFixture
) -> None:
    old = pim.home / "data"
    (old / "calendars").mkdir(parents=True)
    (old / "calendars" / "Calendar.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tinyagent//tinyagent-cli//EN\r\nX-WR-CALNAME:Calendar\r\n"
        "BEGIN:VEVENT\r\nUID:run1-2@tinyagent\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261211T170000Z\r\n"
        "DTEND:20261211T180000Z\r\nSUMMARY:Yoga\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261211T190000Z\r\nSUMMARY:No UID one\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261211T200000Z\r\nSUMMARY:No UID two\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n", encoding="utf-8")
    (old / "contacts").mkdir()
    (old / "contacts" / "aiko.vcf").write_text(AIKO, encoding="utf-8")
    settings = make_env(pim.home, pim.home.parent).settings
    ctx = ToolContext(settings, Path("."), key="after-1")
    with caplog.at_level("WARNING"):
        said = portable.create_calendar_event(ctx, "Lunch", "2026-12-11T13:00:00", "", "", [], "", "")
    assert "calendar 'personal'" in said  # khal's default, not the old file's calendar
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("moved")]
    assert f"into the vdir {pim.calendars} (3 from Calendar.ics)" in line
    listed = pim.program("khal", "list", "2026-12-11", "1d")
    for summary in ("Yoga", "No UID one", "No UID two", "Lunch"):
        assert summary in listed
    assert (old / "calendars" / ".old-layout" / "Calendar.ics").is_file() and not (old / "calendars" / "Calendar.ics").exists()
    # contacts imported before khard was set up are still found
    assert portable.get_email_address(ctx, "Aiko") == "aiko@example.jp"


# ---------------------------------------------------------------- hostile strings through the servers


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_string_survives_the_caldav_server(home: Path, radicale: tuple[str, str, str], value: str) -> None:
    url, user, password = radicale
    caldav_config(home, url, user, password, "  calendar: Personal\n")
    key = f"hostile-{os.urandom(4).hex()}"
    portable.create_calendar_event(ToolContext(Settings.load(), Path("."), key=key), value, "2026-12-11T09:00:00",
                                   "", value, [], value, "")
    with CalDAV(CaldavConfig(url=url, username=user), password) as server:
        stored = server.get(server.pick("Personal", "VEVENT"), vdir.item_uid(key))
    event = Calendar.from_ical(stored).walk("VEVENT")[0]
    said = value.strip().replace("\r\n", "\n")  # RFC 5545 text holds line breaks as LF
    assert str(event["SUMMARY"]) == said and str(event["LOCATION"]) == said and str(event["DESCRIPTION"]) == said


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_string_survives_the_imap_drafts(mailbox: Mailbox, value: str) -> None:
    env, account = mailbox.env, mailbox.account
    ctx = ToolContext(env.settings, Path("."), key="hostile-mail")
    portable.compose_new_email(ctx, ["ana@example.org"], [], value, value, [])
    ((_, raw),) = folder_contents(account, "Drafts")
    draft = parse(raw)
    assert draft["Subject"] == " ".join(value.split())  # a header is one line
    assert text(draft.get_body(("plain",))) == value.strip().replace("\r\n", "\n") + "\n"


def test_a_new_calendar_khal_does_not_read_is_named_in_the_answer(pim: Pim) -> None:
    """khal set up with its one calendar folder named (no "*"): a calendar the request names that
    does not exist yet is made beside it, which khal does not show, and the answer says so."""
    config = pim.home / "xdg" / "khal" / "config"
    config.write_text(config.read_text(encoding="utf-8").replace(
        f"[[mine]]\npath = {pim.calendars}/*\ntype = discover", f"[[personal]]\npath = {pim.calendars}/personal/"),
        encoding="utf-8")
    settings = make_env(pim.home, pim.home.parent).settings
    said = portable.create_calendar_event(ToolContext(settings, Path("."), key="run8-1"), "Retro",
                                          "2026-12-11T09:00:00", "", "", [], "", "Work")
    assert f"calendar 'Work' (new; {config} names its folders one by one: add this one there to see it)" in said
    assert "Retro" not in pim.program("khal", "list", "2026-12-11", "1d")
    said = portable.create_calendar_event(ToolContext(settings, Path("."), key="run8-2"), "Standup",
                                          "2026-12-11T10:00:00", "", "", [], "", "")
    assert "calendar 'personal' (" in said and "(new" not in said
    assert "Standup" in pim.program("khal", "list", "2026-12-11", "1d")
