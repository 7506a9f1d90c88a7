"""The CalDAV client against a real Radicale on loopback, and a tiny misbehaving server.

``radicale_server`` is a plain context manager so other test files can start their own:
``from .test_caldav import radicale_server``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import icalendar
import pytest

from tinyagent_cli.errors import OutcomeUnknown, ToolError, ToolUnavailable
from tinyagent_cli.settings import CaldavConfig
from tinyagent_cli.tools.caldav import CalDAV, Collection, connect

USER = "alice"
PASSWORD = "c0rrect-h0rse"
# slug: (displayname, supported components)
CALENDARS: Mapping[str, tuple[str, str]] = {
    "personal": ("Personal", "VEVENT,VTODO"),
    "family": ("Family Events", "VEVENT"),
    "tasks": ("Tasks", "VTODO"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def radicale_server(tmp_dir: Path, calendars: Mapping[str, tuple[str, str]] = CALENDARS,
                    user: str = USER, password: str = PASSWORD,
                    read_only: tuple[str, ...] = ()) -> Iterator[tuple[str, str, str]]:
    """A real Radicale on 127.0.0.1 with its storage under ``tmp_dir``; yields the user's
    calendar home URL (``http://127.0.0.1:PORT/USER/``), the user and the password.
    Each calendar is ``home + slug + "/"``; its items are files in
    ``tmp_dir/storage/collection-root/USER/SLUG/``. The slugs in ``read_only`` the user
    may read and not write (Radicale's rights file)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    root = tmp_dir / "storage" / "collection-root" / user
    for slug, (name, components) in calendars.items():
        (root / slug).mkdir(parents=True)
        props = {"tag": "VCALENDAR", "D:displayname": name, "C:supported-calendar-component-set": components}
        (root / slug / ".Radicale.props").write_text(json.dumps(props), encoding="utf-8")
    (tmp_dir / "users").write_text(f"{user}:{password}\n", encoding="utf-8")
    # Radicale takes the first section whose user and collection match.
    rules = [("root", "", "R"), ("home", "{user}", "RW")]
    rules[1:1] = [(f"ro-{slug}", f"{{user}}/{slug}", "r") for slug in read_only]
    rules.append(("calendars", "{user}/[^/]+", "rw"))
    (tmp_dir / "rights").write_text("".join(f"[{name}]\nuser: .+\ncollection: {pattern}\npermissions: {perms}\n"
                                            for name, pattern, perms in rules), encoding="utf-8")
    port = free_port()
    (tmp_dir / "config").write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
delay_on_error = 0
[auth]
type = htpasswd
htpasswd_filename = {tmp_dir / "users"}
htpasswd_encryption = plain
delay = 0
[rights]
type = from_file
file = {tmp_dir / "rights"}
[storage]
filesystem_folder = {tmp_dir / "storage"}
[web]
type = none
[logging]
level = warning
""",
        encoding="utf-8",
    )
    log = (tmp_dir / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(tmp_dir / "config")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"radicale exited: {(tmp_dir / 'radicale.log').read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("radicale did not start within 15 s") from None
                time.sleep(0.03)
        yield f"http://127.0.0.1:{port}/{user}/", user, password
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    with radicale_server(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def dav(radicale: tuple[str, str, str]) -> Iterator[CalDAV]:
    url, user, password = radicale
    with CalDAV(CaldavConfig(url=url, username=user, timeout=5), password) as client:
        yield client


def item_hrefs(collection: Collection, user: str, password: str) -> list[str]:
    """What the server itself lists in a collection (PROPFIND Depth 1), not via the client."""
    response = httpx.request("PROPFIND", collection.url, headers={"Depth": "1"}, auth=(user, password))
    assert response.status_code == 207
    hrefs = [h.text or "" for h in ET.fromstring(response.content).iter("{DAV:}href")]
    return sorted(h for h in hrefs if h.endswith(".ics"))


def event_ics(uid: str, summary: str) -> bytes:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    cal = icalendar.Calendar()
    cal.add("prodid", "-//tinyagent//tests//EN")
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime(2030, 1, 1, tzinfo=timezone.utc))
    event.add("dtstart", datetime(2030, 5, 6, 9, 30, tzinfo=berlin))
    event.add("dtend", datetime(2030, 5, 6, 10, 15, tzinfo=berlin))
    event.add("summary", summary)
    event.add("attendee", "mailto:sarah@lin.example")
    event.add("attendee", "mailto:tom@example.org")
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# -- Radicale ----------------------------------------------------------------------------


def test_collections_lists_the_calendars_with_names_and_components(dav: CalDAV, radicale: tuple[str, str, str]) -> None:
    home = radicale[0]
    found = {c.name: c for c in dav.collections()}
    assert found == {
        "Personal": Collection(home + "personal/", "Personal", frozenset({"VEVENT", "VTODO"})),
        "Family Events": Collection(home + "family/", "Family Events", frozenset({"VEVENT"})),
        "Tasks": Collection(home + "tasks/", "Tasks", frozenset({"VTODO"})),
    }
    line = dav.check()
    assert line.startswith(f"3 calendars at {home} (") and "Family Events" in line and "\n" not in line


def test_a_calendar_url_or_the_server_root_also_work(radicale: tuple[str, str, str]) -> None:
    home, user, password = radicale
    with CalDAV(CaldavConfig(url=home + "tasks/", username=user), password) as one:
        assert [c.name for c in one.collections()] == ["Tasks"]
        assert one.check() == f"1 calendar at {home}tasks/ (Tasks)"
    root = home.removesuffix(f"{user}/")  # found through current-user-principal
    with CalDAV(CaldavConfig(url=root, username=user), password) as server:
        assert sorted(c.url for c in server.collections()) == [home + "family/", home + "personal/", home + "tasks/"]


def test_pick_by_name_ignores_case_and_spaces(dav: CalDAV) -> None:
    assert dav.pick("personal", "VEVENT").name == "Personal"
    assert dav.pick("  family   EVENTS ", "VEVENT").name == "Family Events"
    assert dav.pick("FamilyEvents", "vevent").name == "Family Events"
    assert dav.pick("family", "VEVENT").name == "Family Events"  # the last path segment
    assert dav.pick("TASKS", "VTODO").name == "Tasks"


def test_pick_without_a_name_takes_one_that_holds_the_component(dav: CalDAV) -> None:
    assert "VTODO" in dav.pick("", "VTODO").components
    assert "VEVENT" in dav.pick("  ", "VEVENT").components


def test_pick_with_no_match_names_the_calendars_there(dav: CalDAV) -> None:
    with pytest.raises(ToolError) as info:
        dav.pick("Work", "VEVENT")
    line = one_line(info)
    assert line.startswith("no calendar named 'Work' on 127.0.0.1:")
    assert "(calendars there: " in line and all(n in line for n in ("Personal", "Family Events", "Tasks"))
    with pytest.raises(ToolError, match="'Tasks' .* does not take events"):
        dav.pick("Tasks", "VEVENT")


def test_a_read_only_calendar_is_never_picked_for_a_new_item(tmp_path: Path) -> None:
    # "Birthdays" sorts first and takes events, as Nextcloud's does; the server lets alice only read it.
    calendars = {"birthdays": ("Birthdays", "VEVENT"), "personal": ("Personal", "VEVENT,VTODO")}
    with radicale_server(tmp_path / "both", calendars, read_only=("birthdays",)) as (home, user, password), \
            CalDAV(CaldavConfig(url=home, username=user, timeout=5), password) as client:
        listed = {c.name: c.writable for c in client.collections()}
        assert listed == {"Birthdays": False, "Personal": True}
        assert client.pick("", "VEVENT").name == "Personal"
        assert client.check().endswith("(Birthdays read-only, Personal)") or \
            client.check().endswith("(Personal, Birthdays read-only)")
        with pytest.raises(ToolError) as info:
            client.pick("birthdays", "VEVENT")
        assert one_line(info).endswith("calendar 'Birthdays' on " + client.host + " is read-only for 'alice'; pick another")
        birthdays = next(c for c in client.collections() if c.name == "Birthdays")
        with pytest.raises(ToolError, match="HTTP 403"):  # the server means it: a PUT is refused
            client.put(birthdays, "bday", event_ics("bday", "x"))
    with radicale_server(tmp_path / "only", {"birthdays": ("Birthdays", "VEVENT")}, read_only=("birthdays",)) as (
            home, user, password), CalDAV(CaldavConfig(url=home, username=user, timeout=5), password) as client:
        with pytest.raises(ToolError) as info:
            client.pick("", "VEVENT")
        assert one_line(info) == f"every calendar on {client.host} that takes events is read-only for 'alice': Birthdays"


def test_put_an_event_and_read_it_back_from_the_server(dav: CalDAV, radicale: tuple[str, str, str]) -> None:
    uid = f"{uuid.uuid4()}@tinyagent"
    personal = dav.pick("Personal", "VEVENT")
    assert dav.put(personal, uid, event_ics(uid, "Q3 review")) is True

    # Straight from the server, not through the client.
    _, user, password = radicale
    raw = httpx.get(personal.url + uid + ".ics", auth=(user, password))
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/calendar")
    assert dav.get(personal, uid) == raw.content

    cal = icalendar.Calendar.from_ical(raw.content)
    (event,) = cal.walk("VEVENT")
    assert str(event["UID"]) == uid and str(event["SUMMARY"]) == "Q3 review"
    assert sorted(str(a) for a in event.get("ATTENDEE")) == ["mailto:sarah@lin.example", "mailto:tom@example.org"]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    start = event.decoded("DTSTART")
    assert (start.replace(tzinfo=None), start.utcoffset()) == (datetime(2030, 5, 6, 9, 30), timedelta(hours=2))
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_the_same_uid_twice_is_reported_and_not_added_again(dav: CalDAV, radicale: tuple[str, str, str]) -> None:
    _, user, password = radicale
    uid = f"dup-{uuid.uuid4()}"
    family = dav.pick("Family Events", "VEVENT")
    assert dav.put(family, uid, event_ics(uid, "first")) is True
    before = item_hrefs(family, user, password)
    assert dav.put(family, uid, event_ics(uid, "second")) is False
    assert item_hrefs(family, user, password) == before
    assert [h for h in before if uid in h] == [f"/{user}/family/{uid}.ics"]
    assert str(icalendar.Calendar.from_ical(dav.get(family, uid)).walk("VEVENT")[0]["SUMMARY"]) == "first"


def test_a_reminder_goes_to_a_task_list(dav: CalDAV) -> None:
    uid = f"todo-{uuid.uuid4()}"
    cal = icalendar.Calendar()
    cal.add("prodid", "-//tinyagent//tests//EN")
    cal.add("version", "2.0")
    todo = icalendar.Todo()
    todo.add("uid", uid)
    todo.add("dtstamp", datetime(2030, 1, 1, tzinfo=timezone.utc))
    todo.add("summary", "buy milk")
    cal.add_component(todo)
    tasks = dav.pick("tasks", "VTODO")
    assert dav.put(tasks, uid, cal.to_ical()) is True
    assert icalendar.Calendar.from_ical(dav.get(tasks, uid)).walk("VTODO")[0]["SUMMARY"] == "buy milk"


def test_a_hostile_summary_survives_the_round_trip(dav: CalDAV) -> None:
    summary = 'He said "hi"; \\ back\\slash, comma;\nsecond line \\n Grüße 日本 🎉 "; DROP TABLE events; --'
    uid = f"hostile-{uuid.uuid4()}"
    personal = dav.pick("Personal", "VEVENT")
    assert dav.put(personal, uid, event_ics(uid, summary)) is True
    back = icalendar.Calendar.from_ical(dav.get(personal, uid)).walk("VEVENT")[0]["SUMMARY"]
    assert str(back).encode("utf-8") == summary.encode("utf-8")


def test_an_odd_uid_is_quoted_in_the_item_url(dav: CalDAV) -> None:
    uid = f"team sync+{uuid.uuid4()}@example.org"
    personal = dav.pick("Personal", "VEVENT")
    assert dav.put(personal, uid, event_ics(uid, "odd uid")) is True
    assert str(icalendar.Calendar.from_ical(dav.get(personal, uid)).walk("VEVENT")[0]["UID"]) == uid
    with pytest.raises(ToolError, match=r"holds no item missing\.ics \(HTTP 404\)"):
        dav.get(personal, "missing")


def test_wrong_password_says_to_check_the_username(radicale: tuple[str, str, str]) -> None:
    home, user, _ = radicale
    with CalDAV(CaldavConfig(url=home, username=user), "wrong") as client, pytest.raises(ToolError) as info:
        client.collections()
    line = one_line(info)
    assert "HTTP 401" in line and "caldav.username" in line and "caldav.password_cmd" in line


def test_a_missing_collection_is_404_and_names_the_setting(radicale: tuple[str, str, str]) -> None:
    home, user, password = radicale
    with CalDAV(CaldavConfig(url=home + "nope/", username=user), password) as client, pytest.raises(ToolError) as info:
        client.collections()
    line = one_line(info)
    assert "HTTP 404" in line and "/alice/nope/" in line and "caldav.url" in line


def test_nobody_listening_is_a_plain_tool_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/alice/"
    with CalDAV(CaldavConfig(url=url, username="alice", timeout=2), "pw") as client:
        with pytest.raises(ToolError) as info:
            client.collections()
        assert "cannot reach the CalDAV server 127.0.0.1:" in one_line(info)
        with pytest.raises(ToolError) as info:  # nothing was sent, so not OutcomeUnknown
            client.put(Collection(url + "personal/", "Personal", frozenset()), "x", event_ics("x", "x"))
        assert not isinstance(info.value, OutcomeUnknown)


def test_connect_runs_password_cmd(radicale: tuple[str, str, str], tmp_path: Path) -> None:
    home, user, password = radicale
    with connect(CaldavConfig(url=home, username=user, password_cmd=f"echo {password}")) as client:
        assert len(client.collections()) == 3
    with pytest.raises(ToolUnavailable, match="caldav.password_cmd gave no password"):
        connect(CaldavConfig(url=home, username=user, password_cmd="false"))
    with pytest.raises(ToolUnavailable, match="caldav.url"):
        connect(CaldavConfig(url="", username=user, password_cmd="echo x"))


def test_importing_the_module_does_not_import_httpx() -> None:
    code = "import sys, tinyagent_cli.tools.caldav; print('httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "False", done.stderr


# -- a server that misbehaves ------------------------------------------------------------


@dataclass
class Reply:
    status: int = 207
    body: bytes = b""
    sleep: float = 0.0
    drop: bool = False  # close the connection without an answer


@dataclass
class FakeDav:
    base: str = ""
    replies: dict[tuple[str, str], Reply] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def client(self, path: str = "/cal/", timeout: float = 0.3) -> CalDAV:
        return CalDAV(CaldavConfig(url=self.base + path, username="u", timeout=timeout), "p")


@pytest.fixture
def fake() -> Iterator[FakeDav]:
    state = FakeDav()

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.seen.append((self.command, self.path))
            reply = state.replies.get((self.command, self.path), Reply(404))
            if reply.sleep:
                state.release.wait(reply.sleep)
            if reply.drop:
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_PROPFIND = do_PUT = do_GET = answer

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that gave up on a slow answer: a broken pipe is expected

    server = Server(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def multistatus(*responses: tuple[str, str, str]) -> bytes:
    """(href, displayname, components) per calendar; an empty components string: not said."""
    parts = []
    for href, name, comps in responses:
        comp_xml = "".join(f'<C:comp name="{c}"/>' for c in comps.split(",") if c)
        comp_set = f"<C:supported-calendar-component-set>{comp_xml}</C:supported-calendar-component-set>" if comps else ""
        parts.append(
            f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>"
            f"<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
            f"<D:displayname>{name}</D:displayname>{comp_set}"
            f"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        )
    return (
        '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        '<D:response><D:href>/cal/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>'
        "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        + "".join(parts) + "</D:multistatus>"
    ).encode()


LISTING = multistatus(("work/", "", "VEVENT"), ("todo/", "Chores", "VTODO"), ("/cal/all/", "Everything", ""))


def test_relative_hrefs_and_the_server_order(fake: FakeDav) -> None:
    fake.replies[("PROPFIND", "/cal/")] = Reply(207, LISTING)
    with fake.client() as client:
        assert client.collections() == [
            Collection(fake.base + "/cal/work/", "work", frozenset({"VEVENT"})),
            Collection(fake.base + "/cal/todo/", "Chores", frozenset({"VTODO"})),
            Collection(fake.base + "/cal/all/", "Everything", frozenset()),
        ]
        assert client.pick("", "VTODO").name == "Chores"  # the first that takes reminders
        assert client.pick("", "VEVENT").name == "work"
        assert client.pick("everything", "VTODO").name == "Everything"  # not said: takes both


def test_a_slow_put_may_have_saved_the_event(fake: FakeDav) -> None:
    fake.replies[("PUT", "/cal/work/slow.ics")] = Reply(201, sleep=2.0)
    with fake.client() as client, pytest.raises(OutcomeUnknown) as info:
        client.put(Collection(fake.base + "/cal/work/", "work", frozenset()), "slow", event_ics("slow", "x"))
    line = one_line(info)
    assert "may have been saved" in line and "check" in line and "127.0.0.1:" in line


def test_a_dropped_connection_during_put_may_have_saved_it(fake: FakeDav) -> None:
    fake.replies[("PUT", "/cal/work/gone.ics")] = Reply(drop=True)
    with fake.client() as client, pytest.raises(OutcomeUnknown, match="may have been saved"):
        client.put(Collection(fake.base + "/cal/work/", "work", frozenset()), "gone", event_ics("gone", "x"))


def test_a_slow_propfind_changed_nothing(fake: FakeDav) -> None:
    fake.replies[("PROPFIND", "/cal/")] = Reply(207, LISTING, sleep=2.0)
    with fake.client() as client, pytest.raises(ToolError) as info:
        client.collections()
    assert not isinstance(info.value, OutcomeUnknown)
    line = one_line(info)
    assert "did not answer within 0.3 s" in line and "nothing was changed" in line


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, b"<html><body>Welcome</body></html>"), r"does not speak CalDAV at /cal/ \(HTTP 200"),
        (Reply(207, b"<html><body>Welcome</body></html>"), "no WebDAV multistatus"),
        (Reply(207, b"not xml at all"), "unreadable XML"),
        (Reply(207, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'), "DOCTYPE"),
        (Reply(500, b"boom"), r"HTTP 500 Internal Server Error\); try again later"),
        (Reply(403), "HTTP 403"),
        (Reply(405), "does not speak CalDAV at /cal/"),
    ],
)
def test_bad_answers_to_propfind_are_one_line(fake: FakeDav, reply: Reply, expected: str) -> None:
    fake.replies[("PROPFIND", "/cal/")] = reply
    with fake.client() as client, pytest.raises(ToolError, match=expected) as info:
        client.collections()
    one_line(info)


def test_put_refusals(fake: FakeDav) -> None:
    work = Collection(fake.base + "/cal/work/", "work", frozenset({"VEVENT"}))
    fake.replies[("PUT", "/cal/work/big.ics")] = Reply(412)  # 412, yet nothing is there (too large)
    fake.replies[("PUT", "/cal/work/other.ics")] = Reply(409, b"<D:error><C:no-uid-conflict/></D:error>")
    fake.replies[("PUT", "/cal/work/ro.ics")] = Reply(403)
    with fake.client() as client:
        with pytest.raises(ToolError, match=r"refused to save the event in 'work' \(HTTP 412"):
            client.put(work, "big", event_ics("big", "x"))
        assert client.put(work, "other", event_ics("other", "x")) is False  # that UID under another name
        with pytest.raises(ToolError, match="does not let u write to calendar 'work'"):
            client.put(work, "ro", event_ics("ro", "x"))
    assert ("PUT", "/cal/work/big.ics") in fake.seen and ("GET", "/cal/work/big.ics") in fake.seen
