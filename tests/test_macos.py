"""The macos backend with fake osascript, mdfind and open (tests/fakebin) on PATH.

The fakes record the script (stdin) and argv they receive and answer what a test asks;
the AppleScript files are the real ones. Tools run through the real executor
(``run_plan``) with plans from the real parser, so dates arrive as the parser resolves them.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tinyagent_cli.errors import ToolError, ToolUnavailable
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.plan.tasks import Plan, Task, TaskResult
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools import macos
from tinyagent_cli.tools.context import ToolContext
from tinyagent_cli.tools.osascript import NoAnswer, parse_error
from tinyagent_cli.tools.spec import Catalog, load_catalog

from .conftest import run_plan

FAKEBIN = Path(__file__).resolve().parent / "fakebin"
SCRIPTS = Path(__file__).resolve().parent.parent / "toolpacks" / "tinyagent" / "macos"

HOSTILE = [
    'He said "hi" and \'bye\'',
    "back\\slash\\ and \\\" too",
    '" & do shell script "touch /tmp/x" & "',
    "end run\non run argv\ndo shell script \"id\"\r\nlast line",
    "\u202eRTL \u0645\u0631\u062d\u0628\u0627 emoji \U0001f44b\U0001f3fd \u00e9\u0301",
    "-e",
    "A" * 100_000,
]


class FakeMac:
    """Settings and catalog for the macos backend, and what the fake programs saw."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "fakebin.jsonl"
        self.answers: dict[str, list[dict[str, Any]]] = {}
        self.settings = Settings.load(backend="macos")
        self.catalog: Catalog = load_catalog(self.settings)

    def answer(self, prog: str, *answers: dict[str, Any]) -> None:
        self.answers[prog] = list(answers)
        path = self.root / "answers.json"
        path.write_text(json.dumps(self.answers), encoding="utf-8")
        os.environ["FAKEBIN_ANSWERS"] = str(path)

    def calls(self, prog: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [r for r in records if prog is None or r["prog"] == prog]

    def run(self, plan_text: str) -> dict[int, TaskResult]:
        return run_plan(parse_plan(plan_text, self.catalog), self.catalog, self.settings)

    def run_task(self, tool: str, *args: Any) -> TaskResult:
        return run_plan(Plan((Task(1, tool, args),)), self.catalog, self.settings)[1]

    def call(self, tool: str, *args: Any) -> str:
        ctx = ToolContext(self.settings, self.catalog.pack_of(tool).dir)
        return self.catalog.implementation(tool)(ctx, *args)


@pytest.fixture
def mac(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeMac:
    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    # the fakes' `#!/usr/bin/env python3` finds this Python first (a pyenv shim costs 0.2 s a call)
    path = os.pathsep.join([str(FAKEBIN), str(Path(sys.executable).parent), os.environ["PATH"]])
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("FAKEBIN_LOG", str(tmp_path / "fakebin.jsonl"))
    monkeypatch.delenv("FAKEBIN_ANSWERS", raising=False)
    for var in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    return FakeMac(tmp_path)


def script(name: str) -> str:
    return (SCRIPTS / f"{name}.applescript").read_bytes().decode("utf-8")


def ran(call: dict[str, Any], name: str) -> list[str]:
    """Assert a recorded osascript call ran script ``name`` verbatim; return its data argv."""
    assert call["argv"][0] == "-", "the script must come from stdin"
    assert call["stdin"] == script(name)
    return call["argv"][1:]


def failure(number: int, message: str = "something") -> dict[str, Any]:
    return {"err": f"0:123: execution error: {message} ({number})\n", "rc": 1}


def ok(result: TaskResult) -> str:
    assert result.status == "done", result.error
    assert result.output is not None
    return result.output


# --- the scripts themselves ------------------------------------------------------------------


def test_every_script_is_static_ascii_applescript_that_takes_data_only_from_argv() -> None:
    used = set(re.findall(r'"([a-z_]+)"', (Path(macos.__file__)).read_text())) | {"doctor_probe"}
    files = sorted(SCRIPTS.glob("*.applescript"))
    assert files
    for file in files:
        text = file.read_bytes().decode("ascii")  # plain ASCII: no encoding question for osascript
        assert text.startswith("-- tinyagent"), file.name
        assert "on run argv" in text, file.name
        assert "Run as: osascript - " in text, file.name  # the argv layout is documented at the top
        for forbidden in ("do shell script", "run script", "date \"", "load script", "osascript -e"):
            code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
            assert forbidden not in code, f"{file.name} uses {forbidden}"
        assert file.stem in used, f"{file.name} is not used"


def test_dates_are_built_from_numbers_with_day_one_first() -> None:
    for name in ("calendar_create_event", "reminders_create"):
        text = script(name)
        first = text.index("set day of theDate to 1")
        assert first < text.index("set month of theDate to") < text.index("set day of theDate to (item 3")


# --- error numbers ---------------------------------------------------------------------------


def test_error_number_is_read_whatever_the_language() -> None:
    french = "12:40: execution error: Non autorisé à envoyer des Apple Events à Contacts. (-1743)\n"
    assert parse_error(french) == (-1743, "Non autorisé à envoyer des Apple Events à Contacts.")
    multi = "0:9: execution error: Home\nWork (4103)\n"
    assert parse_error(multi) == (4103, "Home\nWork")
    prefixed = "1:2: execution error: Mail got an error: Can’t get message 1. (-1728)"
    assert parse_error(prefixed) == (-1728, "Can’t get message 1.")
    assert parse_error("osascript: bad thing\n") == (None, "osascript: bad thing")


def test_not_authorised_says_where_to_grant_access(mac: FakeMac) -> None:
    mac.answer("osascript", failure(-1743, "Not authorized to send Apple events to Contacts."))
    result = mac.run('1. get_email_address("Sarah Lin")\n2. join()\n')[1]
    assert result.status == "failed"
    assert "System Settings > Privacy & Security > Automation" in result.error
    assert "tccutil reset AppleEvents" in result.error and "Contacts" in result.error
    with pytest.raises(ToolUnavailable):
        mac.call("get_email_address", "Sarah Lin")


def test_cannot_get_names_what_was_looked_for(mac: FakeMac) -> None:
    mac.answer("osascript", failure(-1728, "Can’t get person \"x\"."))
    result = mac.run_task("get_phone_number", "Dana Cole")
    assert result.error == "Contacts has no contact named 'Dana Cole'"


def test_osascript_missing_means_use_the_portable_backend(mac: FakeMac, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolUnavailable, match="needs macOS.*--backend portable"):
        mac.call("get_email_address", "Sarah")


def test_osascript_has_its_own_timeout_and_a_late_answer_points_at_the_permission_dialog(
        mac: FakeMac, home: Path) -> None:
    assert mac.settings.config.osascript_timeout == 120  # a first call can wait on macOS's dialog
    (home / "config" / "config.yaml").write_text("osascript_timeout: 0.5\n", encoding="utf-8")
    mac = FakeMac(mac.root)
    assert mac.settings.config.timeout == 30  # the task's own limit is untouched
    mac.answer("osascript", {"sleep": 30, "out": "late"})
    started = time.monotonic()
    with pytest.raises(NoAnswer) as caught:
        mac.call("get_email_address", "Sarah")
    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        "Contacts did not answer within 0.5 s (osascript_timeout in config): macOS may be waiting for you to "
        "answer its permission dialog (the first request to each app asks), or a dialog is open in Contacts; "
        "answer it first")
    note = mac.run_task("create_note", "T", "c", "")  # the note may have been made: not "failed"
    assert note.status == "unknown" and "permission dialog" in note.error and "check before doing it again" in note.error


def test_apple_event_timeout_points_at_the_permission_dialog(mac: FakeMac) -> None:
    mac.answer("osascript", failure(-1712, "AppleEvent timed out."))
    assert mac.run_task("create_reminder", "x", "", "", "", 0, False).error == (
        "Reminders did not answer in time (-1712): macOS may be waiting for you to answer its permission dialog "
        "(the first request to each app asks), or a dialog is open in Reminders; answer it first; "
        "check before doing it again")


def test_cannot_get_outside_a_lookup_is_not_called_not_found(mac: FakeMac) -> None:
    mac.answer("osascript", failure(-1728, "Mail got an error: Can’t get item 1 of {}."))
    error = mac.run_task("reply_to_email", [], "ok", []).error
    assert error == "Mail could not get something the request needs: Can’t get item 1 of {}. (-1728)"
    assert "could not find what was asked" not in error


@pytest.mark.parametrize("number", [-10003, -10004])
def test_a_read_only_calendar_or_list_is_named(mac: FakeMac, number: int) -> None:
    mac.answer("osascript", failure(number, "Access not allowed."))
    assert mac.run_task("create_calendar_event", "X", "2026-03-01T10:00", "", "", [], "", "Holidays").error == (
        "the calendar 'Holidays' in Calendar is read-only (subscribed, or shared with you to read), so nothing "
        "was created; name a calendar you can edit")
    assert mac.run_task("create_reminder", "x", "", "", "", 0, False).error == (
        "the default list in Reminders is read-only (subscribed, or shared with you to read), so nothing "
        "was created; name a list you can edit")
    assert mac.run_task("open_note", "Ideas", "").error == (
        f"Notes did not allow the change: it is read-only there (Access not allowed., {number}); "
        "choose one you can edit")


def test_a_cancelled_call_is_killed(mac: FakeMac) -> None:
    mac.answer("osascript", {"sleep": 30, "out": "late"})
    ctx = ToolContext(mac.settings, mac.catalog.pack_of("create_note").dir)
    threading.Timer(0.3, ctx.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ToolError, match="stopped"):
        macos.create_note(ctx, "Title", "text", "")
    assert time.monotonic() - started < 5


def test_doctor_explains_the_permission_dialog_and_the_first_calls_wait(mac: FakeMac) -> None:
    from tinyagent_cli.commands.doctor import run_checks

    mac.answer("osascript", failure(-1712, "AppleEvent timed out."), {"out": "3\n"})
    checks = {c.name: c for c in run_checks(mac.settings, mac.catalog, model_rows=lambda _settings: [])}
    first = checks["first use"]
    assert first.status == "info"
    assert first.detail == ("the first request to each app makes macOS ask whether your terminal may control it, "
                            "and waits for your answer; a first Contacts or Reminders query can take 40 s. Each app "
                            "gets 120 s (osascript_timeout in config)")
    assert checks["Contacts"].status == "warn" and "permission dialog" in checks["Contacts"].detail
    assert checks["Contacts"].fix == (
        "answer the permission dialog (it may be behind other windows), then run doctor again")
    assert checks["Calendar"].status == "ok"


# --- Contacts --------------------------------------------------------------------------------


def test_email_by_exact_name(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "sarah@example.com\n"})
    assert ok(mac.run('1. get_email_address("Sarah Lin")\n2. join()\n')[1]) == "sarah@example.com"
    [call] = mac.calls("osascript")
    assert ran(call, "contact_value") == ["email", "Sarah Lin"]


def test_phone_by_fuzzy_name(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4101), {"out": "Bob Stone\nSarah Lin\nSara Linden\n"}, {"out": "+1 555 0100\n"})
    assert ok(mac.run_task("get_phone_number", "sarah lin.")) == "+1 555 0100"
    exact, names, value = mac.calls("osascript")
    assert ran(exact, "contact_value") == ["phone", "sarah lin."]
    assert ran(names, "contact_names") == []
    assert ran(value, "contact_value") == ["phone", "Sarah Lin"]


def test_unknown_contact_names_what_was_looked_for(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4101), {"out": "Bob Stone\nAlice Wu\n"})
    assert mac.run_task("get_email_address", "Zed Quux").error == "no contact named 'Zed Quux' in Contacts"


def test_contact_without_that_value(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4102))
    assert mac.run_task("get_email_address", "Bob Stone").error == "Bob Stone has no email address in Contacts"


# --- Calendar --------------------------------------------------------------------------------


def test_event_with_default_end_invitees_and_default_calendar(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "Home\n1\n2\n"})
    out = ok(mac.run('1. create_calendar_event("Review", "2026-01-31T15:30", "", "Room 1", '
                     '["a@example.com", "b@example.com"], "bring slides", "")\n2. join()\n')[1])
    assert out == ("Created event 'Review' on Sat 2026-01-31 15:30-16:30 in calendar 'Home'; added a@example.com, "
                   "b@example.com as attendees: open the event in Calendar to send the invitations")
    [call] = mac.calls("osascript")
    assert ran(call, "calendar_create_event") == [
        "Review", "", "Room 1", "bring slides",
        "2026", "1", "31", "15", "30",
        "2026", "1", "31", "16", "30",
        "2", "a@example.com", "b@example.com",
    ]


def test_event_across_midnight_in_a_named_calendar(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "Work\n"})
    out = ok(mac.run_task("create_calendar_event", "Launch", "2026-12-31T23:00", "2027-01-01T01:15",
                          "", [], "", "Work"))
    assert out == "Created event 'Launch' on Thu 2026-12-31 23:00-Fri 2027-01-01 01:15 in calendar 'Work'"
    assert ran(mac.calls("osascript")[0], "calendar_create_event")[4:] == [
        "2026", "12", "31", "23", "0", "2027", "1", "1", "1", "15", "0"]


def test_invitees_the_event_does_not_hold_are_reported_and_the_event_still_stands(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "Work\n2\n"}, {"out": "Work\n"})
    invitees = ["a@example.com", "b@example.com", "c@example.com"]
    some = mac.run_task("create_calendar_event", "Sync", "2026-03-02T10:00", "", "", invitees, "", "Work")
    assert ok(some) == ("Created event 'Sync' on Mon 2026-03-02 10:00-11:00 in calendar 'Work'; added b@example.com "
                        "as attendees: open the event in Calendar to send the invitations; could not add "
                        "a@example.com, c@example.com as attendees: add them to the event in Calendar")
    none = mac.run_task("create_calendar_event", "Sync", "2026-03-02T10:00", "", "", invitees[:1], "", "Work")
    assert ok(none) == ("Created event 'Sync' on Mon 2026-03-02 10:00-11:00 in calendar 'Work'; could not add "
                        "a@example.com as attendees: add them to the event in Calendar")


def test_each_attendee_is_tried_alone_and_the_event_is_read_back() -> None:
    text = script("calendar_create_event")
    make_event = text.index("make new event")
    attempt = text.index("\t\ttry\n\t\t\ttell application \"Calendar\" to tell newEvent to make new attendee")
    read_back = text.index("set held to email of every attendee of newEvent")
    assert make_event < attempt < read_back
    assert "end try" in text[attempt:read_back]


def test_unknown_calendar_lists_the_real_ones(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4103, "Home\nWork\nBirthdays"))
    result = mac.run_task("create_calendar_event", "X", "2026-03-01T10:00", "", "", [], "", "Wrok")
    assert result.error == "Calendar has no calendar named 'Wrok'; it has: Home, Work, Birthdays"


def test_event_that_ends_before_it_starts_is_refused(mac: FakeMac) -> None:
    result = mac.run_task("create_calendar_event", "X", "2026-03-01T10:00", "2026-03-01T09:00", "", [], "", "")
    assert "before it starts" in result.error
    assert mac.calls() == []


# --- Mail ------------------------------------------------------------------------------------


def test_compose_opens_a_visible_unsent_draft(mac: FakeMac, tmp_path: Path) -> None:
    deck = tmp_path / "Q3 deck.pdf"
    deck.write_bytes(b"%PDF-1.4\n")
    mac.answer("osascript", {"out": "Q3 deck\n"})
    out = ok(mac.run(f'1. compose_new_email(["sarah@example.com"], ["bob@example.com", "cy@example.com"], '
                     f'"Q3 deck", "Here it is", [{json.dumps(str(deck))}])\n2. join()\n')[1])
    assert out == "Opened a draft 'Q3 deck' to sarah@example.com in Mail; it is not sent"
    [call] = mac.calls("osascript")
    assert ran(call, "mail_compose") == ["Q3 deck", "Here it is", "1", "sarah@example.com",
                                         "2", "bob@example.com", "cy@example.com", "1", str(deck)]
    assert "visible:true" in script("mail_compose") and " send " not in script("mail_compose")


def test_missing_attachment_is_refused_before_mail_is_touched(mac: FakeMac, tmp_path: Path) -> None:
    result = mac.run_task("compose_new_email", ["a@example.com"], [], "s", "b", [str(tmp_path / "nope.pdf")])
    assert result.error == f"attachment not found: {tmp_path / 'nope.pdf'}"
    assert mac.calls() == []


ANA = "Ana Diaz <ana@example.com>"


def test_reply_acts_on_the_selected_message_and_puts_the_text_on_the_clipboard(mac: FakeMac, tmp_path: Path) -> None:
    sheet = tmp_path / "budget.xlsx"
    sheet.write_bytes(b"PK")
    mac.answer("osascript", {"out": f"selected\n{ANA}\nRe: Budget\n"})
    out = ok(mac.run_task("reply_to_email", ["cc@example.com"], "Sounds good", [str(sheet)]))
    assert out == (f"Opened Mail's reply 'Re: Budget' of the selected message (from {ANA}), cc cc@example.com, "
                   "attaching budget.xlsx; it is not sent; your text is on the clipboard, not in the reply: "
                   "paste it in (Cmd-V)")
    assert ran(mac.calls("osascript")[0], "mail_reply") == ["Sounds good", "1", "cc@example.com", "1", str(sheet)]
    # with no text nothing is said to be on the clipboard
    assert "clipboard" not in ok(mac.run_task("reply_to_email", [], "", []))


def test_reply_and_forward_never_claim_text_mail_could_have_dropped() -> None:
    for name in ("mail_reply", "mail_forward"):
        text = script(name)
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        assert "set content" not in code, name  # Mail ignores it with the window open, or drops its quote
        assert " with opening window" in code, name  # Mail's own draft: threading, quote, signature
        opened = code.index(" with opening window")
        assert code.index('if theText is not "" then set the clipboard to theText') > opened, name


def test_reply_falls_back_to_the_newest_message_in_the_inbox(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": f"newest\n{ANA}\nRe: Lunch\n"})
    assert ok(mac.run_task("reply_to_email", [], "", [])) == (
        f"Opened Mail's reply 'Re: Lunch' of the newest message in the inbox (from {ANA}); it is not sent")
    for name in ("mail_reply", "mail_forward"):
        text = script(name)
        selection = text.index("set theSelection to selection")
        assert selection < text.index("every message of inbox whose date received > cutoff"), name


def test_reply_with_nothing_selected(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4104, "no message selected"))
    assert mac.run_task("reply_to_email", [], "ok", []).error == (
        "no message is selected in Mail and its inbox has none from the last week: select one, then ask again")


def test_forward(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": f"selected\n{ANA}\nFwd: Budget\n"})
    out = ok(mac.run_task("forward_email", ["x@example.com"], [], "FYI", []))
    assert out == (f"Opened Mail's forward 'Fwd: Budget' of the selected message (from {ANA}), to x@example.com; "
                   "it is not sent; your text is on the clipboard, not in the forward: paste it in (Cmd-V)")
    assert ran(mac.calls("osascript")[0], "mail_forward") == ["FYI", "1", "x@example.com", "0", "0"]


# --- Notes -----------------------------------------------------------------------------------


def test_create_note_sends_escaped_html(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "Notes\n"})
    out = ok(mac.run_task("create_note", "Plan <b>", "Line 1 & <i>2</i>\n\nLine 3", ""))
    assert out == "Created note 'Plan <b>' in Notes folder 'Notes'"
    body, folder = ran(mac.calls("osascript")[0], "notes_create")
    assert body == ("<div><h1>Plan &lt;b&gt;</h1></div><div>Line 1 &amp; &lt;i&gt;2&lt;/i&gt;</div>"
                    "<div><br></div><div>Line 3</div>")
    assert folder == ""


def test_unknown_notes_folder_lists_the_real_ones(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4103, "Notes\nRecipes"))
    assert mac.run_task("create_note", "T", "c", "Work").error == (
        "Notes has no folder named 'Work'; it has: Notes, Recipes")


def test_open_note_exact_then_fuzzy(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4101), {"out": "Shopping list\nIdeas\n"},
               {"out": "Shopping list\r- milk\r- eggs\n"})
    assert ok(mac.run_task("open_note", "shopping", "")) == "Shopping list\n- milk\n- eggs"
    exact, names, found = mac.calls("osascript")
    assert ran(exact, "notes_open") == ["shopping", ""]
    assert ran(names, "notes_names") == [""]
    assert ran(found, "notes_open") == ["Shopping list", ""]


def test_open_missing_note(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4101), {"out": "Ideas\n"})
    assert mac.run_task("open_note", "Taxes", "Home").error == "no note named 'Taxes' in Notes folder 'Home'"


def test_append_creates_a_missing_note(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4101), {"out": "Ideas\n"}, {"out": "created\n"})
    out = ok(mac.run_task("append_note_content", "Groceries", "eggs", ""))
    assert out == "Created note 'Groceries' in Notes with the text"
    create = ran(mac.calls("osascript")[2], "notes_append")
    assert create == ["Groceries", "<div>eggs</div>", "", "<div><h1>Groceries</h1></div>"]
    assert ran(mac.calls("osascript")[0], "notes_append")[3] == ""  # the first try never creates


def test_append_to_an_existing_note(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "appended\n"})
    assert ok(mac.run_task("append_note_content", "Ideas", "more", "")) == "Appended to note 'Ideas' in Notes"


def test_append_refuses_a_note_with_attachments_or_a_password(mac: FakeMac) -> None:
    mac.answer("osascript", failure(4105, "attachments"))
    assert mac.run_task("append_note_content", "Trip", "more", "").error == (
        "note 'Trip' has images or attachments, which Notes drops when a script appends to a note; nothing was "
        "changed: add the text in Notes")
    mac.answer("osascript", failure(4106, "locked"))
    assert mac.run_task("append_note_content", "Bank", "more", "").error == (
        "note 'Bank' is locked with a password, and a script cannot change it; nothing was changed: add the "
        "text in Notes")
    text = script("notes_append")
    write = text.index("set body of theNote")
    assert text.index("if password protected of theNote then error") < write
    assert text.index("if (count of attachments of theNote) > 0 then error") < write


@pytest.mark.parametrize("name", ["notes_open", "notes_names", "notes_append", "notes_create"])
def test_notes_are_looked_up_folder_by_folder_skipping_the_trash(name: str) -> None:
    code = "\n".join(line for line in script(name).splitlines() if not line.lstrip().startswith("--"))
    # Asked for every note (or every folder) at once, Notes includes Recently Deleted.
    assert not re.search(r"every note whose|every note\)?$|every folder whose", code, re.MULTILINE), name
    assert "my foldersNamed(" in code and "on liveFolders()" in code, name
    trash = code[code.index("on liveFolders()"):code.index("end liveFolders")]
    # top level, not the default folder, and named as Notes names its trash in this language
    assert "if containerID is accountID then" in trash
    assert "(folderID is not defaultID) and (trashTitles contains folderName)" in trash
    assert 'localized string "Recently Deleted" in bundle' in code


# --- Reminders -------------------------------------------------------------------------------


def test_reminder_with_due_date_priority_and_list(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "Errands\n"})
    out = ok(mac.run('1. create_reminder("Buy milk", "2026-02-28T18:05", "2 litres", "Errands", 1, False)\n'
                     "2. join()\n")[1])
    assert out == "Created reminder 'Buy milk' in list 'Errands', due Sat 2026-02-28 18:05"
    assert ran(mac.calls("osascript")[0], "reminders_create") == [
        "Buy milk", "2 litres", "Errands", "1", "1", "0", "2026", "2", "28", "18", "5"]


def test_all_day_reminder_and_no_due_date(mac: FakeMac) -> None:
    mac.answer("osascript", {"out": "Reminders\n"})
    assert ok(mac.run_task("create_reminder", "Pay rent", "2026-03-01T09:00", "", "", 0, True)).endswith(
        "due Sun 2026-03-01 (all day)")
    assert ok(mac.run_task("create_reminder", "Someday", "", "", "", 9, True)) == (
        "Created reminder 'Someday' in list 'Reminders'")
    assert ran(mac.calls("osascript")[1], "reminders_create")[3:6] == ["9", "0", "0"]


def test_a_reminder_is_made_by_one_make_with_every_property() -> None:
    code = "\n".join(line for line in script("reminders_create").splitlines() if not line.lstrip().startswith("--"))
    assert code.count("make new reminder") == 1
    assert "make new reminder at end of reminders of theList with properties theProperties" in code
    for late in ("set body of", "set due date of", "set allday due date of", "set priority of"):
        assert late not in code  # a failure after the make would leave a half-made reminder
    for field in ("{name:theName, priority:thePriority}", "{body:theNotes}", "{allday due date:dueDate}",
                  "{due date:dueDate}"):
        assert field in code


def test_bad_priority_and_unknown_list(mac: FakeMac) -> None:
    assert "priority must be from 0" in mac.run_task("create_reminder", "x", "", "", "", 12, False).error
    mac.answer("osascript", failure(4103, "Reminders\nErrands"))
    assert mac.run_task("create_reminder", "x", "", "", "Shop", 0, False).error == (
        "Reminders has no list named 'Shop'; it has: Reminders, Errands")


# --- Maps, Messages, files -------------------------------------------------------------------


def test_maps_search_url_is_encoded_and_opened(mac: FakeMac) -> None:
    out = ok(mac.run_task("maps_open_location", "Café & Bar, 5/7 Rue #1"))
    assert out == "https://maps.apple.com/?q=Caf%C3%A9%20%26%20Bar%2C%205%2F7%20Rue%20%231"
    assert mac.calls("open")[0]["argv"] == ["-a", "Maps", out]  # the Maps app, not the default browser
    assert mac.calls("osascript") == []


def test_maps_directions(mac: FakeMac) -> None:
    walk = ok(mac.run_task("maps_show_directions", "Home", "Central Park", "walking"))
    assert walk == "https://maps.apple.com/?saddr=Home&daddr=Central%20Park&dirflg=w"
    here = ok(mac.run_task("maps_show_directions", "", "SFO", "r"))
    assert here == "https://maps.apple.com/?daddr=SFO&dirflg=r"
    assert [c["argv"] for c in mac.calls("open")] == [["-a", "Maps", walk], ["-a", "Maps", here]]
    assert "transport must be" in mac.run_task("maps_show_directions", "", "SFO", "rocket").error
    # pack.yaml's one vocabulary: "on foot" is walking here as on the portable backend; no cycling in Maps' URLs
    assert ok(mac.run_task("maps_show_directions", "", "SFO", "On  Foot")).endswith("dirflg=w")
    assert mac.run_task("maps_show_directions", "", "SFO", "bike").error == (
        "Maps on macOS gives no directions for transport 'b': d, w or r")


def test_sms_opens_a_composition_and_never_sends(mac: FakeMac) -> None:
    out = ok(mac.run_task("send_sms", ["+1 (555) 010-0100", "ann@example.com"], "On my way & late?"))
    assert out == "Opened a message to +15550100100, ann@example.com in Messages; it is not sent"
    [call] = mac.calls("open")
    url = urlsplit(call["argv"][0])
    assert url.scheme == "sms"
    query = parse_qs(url.query)
    assert query == {"addresses": ["+15550100100,ann@example.com"], "body": ["On my way & late?"]}
    assert mac.calls("osascript") == []
    assert "recipients is empty" in mac.run_task("send_sms", [], "hi").error


def test_file_found_exactly_by_spotlight_is_opened(mac: FakeMac) -> None:
    path = str(Path.home() / "Documents" / "Q3 deck.key")
    mac.answer("mdfind", {"out": f"{Path.home()}/Library/Caches/Q3 deck.key\0{path}\0"})
    assert ok(mac.run('1. open_and_get_file_path("Q3 deck")\n2. join()\n')[1]) == path
    [query] = mac.calls("mdfind")
    assert query["argv"] == ["-0", "-onlyin", str(Path.home()),
                             'kMDItemFSName == "Q3 deck"cd || kMDItemFSName == "Q3 deck.*"cd']
    assert mac.calls("open")[0]["argv"] == [path]


def test_file_found_by_fuzzy_name(mac: FakeMac) -> None:
    home = Path.home()
    mac.answer("mdfind", {"out": ""},
               {"out": f"{home}/taxes/tax-return-2025.pdf\0{home}/x/return policy.txt\0"},
               {"out": f"{home}/taxes/tax-return-2025.pdf\0"})
    assert ok(mac.run_task("open_and_get_file_path", "tax return 2025")) == f"{home}/taxes/tax-return-2025.pdf"
    calls = mac.calls("mdfind")
    assert [c["argv"][3:] for c in calls[1:]] == [["-name", "return"], ["-name", "2025"], ["-name", "tax"]]


def test_spotlight_query_escapes_quotes_backslashes_and_wildcards(mac: FakeMac) -> None:
    mac.answer("mdfind", {"out": ""})
    assert "Spotlight found no file" in mac.run_task("open_and_get_file_path", 'a"b\\c*').error
    assert mac.calls("mdfind")[0]["argv"][-1] == (
        'kMDItemFSName == "a\\"b\\\\c\\*"cd || kMDItemFSName == "a\\"b\\\\c\\*.*"cd')


def test_spotlight_query_escapes_an_apostrophe(mac: FakeMac) -> None:
    path = str(Path.home() / "Documents" / "Bob's notes.txt")
    mac.answer("mdfind", {"out": f"{path}\0"})
    assert ok(mac.run_task("open_and_get_file_path", "Bob's notes")) == path
    assert mac.calls("mdfind")[0]["argv"][-1] == (
        'kMDItemFSName == "Bob\\\'s notes"cd || kMDItemFSName == "Bob\\\'s notes.*"cd')


def test_summarize_pdf_uses_the_shared_summary(mac: FakeMac, tmp_path: Path) -> None:
    # the PDF writer of the pdf tests (tests/ is not a package, so load it by path)
    spec = importlib.util.spec_from_file_location("pdf_test_helpers", Path(__file__).with_name("test_pdf.py"))
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    pdf = helpers.write_pdf(tmp_path / "memo.pdf", ["The budget for the launch is approved. The team meets on Monday."])
    assert "budget for the launch is approved" in ok(mac.run_task("summarize_pdf", str(pdf)))
    assert "memo-missing.pdf" in mac.run_task("summarize_pdf", str(tmp_path / "memo-missing.pdf")).error


def test_zoom_without_credentials_is_unavailable(mac: FakeMac) -> None:
    with pytest.raises(ToolUnavailable, match="Zoom is not set up"):
        mac.call("get_zoom_meeting_link", "Sync", "2026-03-01T10:00:00+00:00", 30, [])


# --- hostile data ----------------------------------------------------------------------------

# Each tool with every text argument set to the hostile value ``v``; what the fakes must then
# have received is checked by ``arrived``.
CASES: dict[str, Any] = {
    "get_phone_number": lambda v: (v,),
    "get_email_address": lambda v: (v,),
    "create_calendar_event": lambda v: (v, "2026-03-01T10:00:00", "", v, [v, v], v, v),
    "compose_new_email": lambda v: ([v], [v], v, v, []),
    "reply_to_email": lambda v: ([v], v, []),
    "forward_email": lambda v: ([v], [v], v, []),
    "create_note": lambda v: (v, "text", v),  # hostile content: append_note_content, whose HTML is one item
    "open_note": lambda v: (v, v),
    "append_note_content": lambda v: (v, v, v),
    "create_reminder": lambda v: (v, "", v, v, 5, False),
    "maps_open_location": lambda v: (v,),
    "maps_show_directions": lambda v: (v, "SFO", "d"),  # one address: Linux caps one argv item at 128 kB
    "open_and_get_file_path": lambda v: (v,),
}
SCRIPT_OF = {
    "get_phone_number": "contact_value", "get_email_address": "contact_value",
    "create_calendar_event": "calendar_create_event", "compose_new_email": "mail_compose",
    "reply_to_email": "mail_reply", "forward_email": "mail_forward", "create_note": "notes_create",
    "open_note": "notes_open", "append_note_content": "notes_append", "create_reminder": "reminders_create",
}


def _note_lines(body: str) -> list[str]:
    """The text lines of a Notes HTML body, unescaped (a blank line is "")."""
    return [html.unescape(x.replace("<br>", "")) for x in re.findall(r"<div>(?:<h1>)?(.*?)(?:</h1>)?</div>", body)]


def _arrived(mac: FakeMac, tool: str, v: str) -> None:
    one_line = " ".join(v.split())
    if tool in SCRIPT_OF:
        [call] = mac.calls("osascript")
        argv = ran(call, SCRIPT_OF[tool])
        if tool == "create_note":
            body, folder = argv
            assert _note_lines(body) == [one_line, "text"] and folder == v
        elif tool == "open_note":
            assert argv == [one_line, v]
        elif tool == "append_note_content":
            assert argv[0] == one_line and _note_lines(argv[1]) == v.splitlines() and argv[2:] == [v, ""]
        else:
            assert argv.count(v) >= {"create_calendar_event": 6, "compose_new_email": 4, "forward_email": 3,
                                     "reply_to_email": 2, "create_reminder": 3}.get(tool, 1)
    elif tool.startswith("maps"):
        [call] = mac.calls("open")
        query = parse_qs(urlsplit(call["argv"][-1]).query)
        assert query.get("q", query.get("saddr")) == [v]
    else:
        [call] = mac.calls("mdfind")
        assert call["argv"][-1] == (f'kMDItemFSName == "{macos._spotlight_escape(Path(v).name)}"cd || '
                                    f'kMDItemFSName == "{macos._spotlight_escape(Path(v).name)}.*"cd')
        assert mac.calls("open")[0]["argv"] == [f"{Path.home()}/found.txt"]


@pytest.mark.parametrize("tool", sorted(CASES))
@pytest.mark.parametrize("value", HOSTILE, ids=["quotes", "backslashes", "injection", "newlines", "rtl-emoji",
                                               "dash-e", "100kB"])
def test_hostile_text_arrives_intact_as_data(mac: FakeMac, tool: str, value: str) -> None:
    mac.answer("osascript", {"out": "ok\n"})
    mac.answer("mdfind", {"out": f"{Path.home()}/found.txt\0"})
    result = mac.run_task(tool, *CASES[tool](value))
    if tool == "open_and_get_file_path" and len(value) > 255:
        assert result.error == "no file has a name that long (100,000 bytes; at most 255)"
        return
    assert result.status == "done", result.error
    _arrived(mac, tool, value)


def test_send_sms_hostile_message_arrives_intact(mac: FakeMac) -> None:
    for value in HOSTILE:
        ok(mac.run_task("send_sms", ["+15550100"], value))
        body = mac.calls("open")[-1]["argv"][0].split("&body=", 1)[1]
        assert unquote(body) == value


@pytest.mark.parametrize("tool", sorted(CASES))
def test_nul_is_refused_not_truncated(mac: FakeMac, tool: str) -> None:
    result = mac.run_task(tool, *CASES[tool]("before\x00after"))
    assert result.status == "failed"
    assert "NUL character" in result.error
    assert mac.calls() == []
