"""Linux: what the agent writes is seen by the programs Linux people keep their PIM with.

khal, todoman and khard read the vdir the portable backend wrote (as subprocesses, with their
own configs, which the backend also reads to find the folders); every hostile string of the
suite survives each store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tinyagent_cli.tools import portable, vdir
from tinyagent_cli.tools.context import ToolContext

from .conftest import run_cli
from .test_kdeconnect import HOSTILE as TEXT_HOSTILE
from .test_macos import HOSTILE as SCRIPT_HOSTILE
from .test_portable import Env, make_env, read_items

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
