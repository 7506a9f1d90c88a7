"""IMAP drafts and replies against a real dovecot on loopback (skipped where dovecot is missing).

``dovecot_server()`` is a plain context manager other test files import (``from .test_imap
import dovecot_server, add_user, deliver``): it starts dovecot in the foreground as an
unprivileged user (nobody when the tests run as root) with its own config in a folder under
/tmp (pytest's tmp dirs are 0700, too closed for nobody), plain IMAP on 127.0.0.1, a
passwd-file account and maildir storage, and stops it afterwards.
"""

from __future__ import annotations

import grp
import imaplib
import itertools
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tinyagent_cli.errors import OutcomeUnknown, ToolError, ToolUnavailable
from tinyagent_cli.settings import ImapConfig
from tinyagent_cli.tools import imap as imap_tool
from tinyagent_cli.tools.imap import Mailbox, connect, mutf7_decode, mutf7_encode

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
HOST = "127.0.0.1"
START_SECONDS = 10.0


class Dovecot(NamedTuple):
    """A running dovecot and one account on it; tuple-unpackable."""

    host: str
    port: int
    user: str
    password: str
    maildir_root: Path  # <maildir_root>/<user>/ is the user's Maildir (INBOX; .Drafts/ and so on)

    @property
    def root(self) -> Path:
        return self.maildir_root.parent

    def config(self, **changes: Any) -> ImapConfig:
        """ImapConfig for this account: plain IMAP (loopback only), a short timeout."""
        values = {"host": self.host, "port": self.port, "security": "none", "username": self.user,
                  "timeout": 5.0, **changes}
        assert set(values) <= {f.name for f in fields(ImapConfig)}
        return ImapConfig(**values)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _identity() -> tuple[str, str]:
    """The user and group dovecot runs as: nobody under root, else whoever runs the tests."""
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no user 'nobody' to run dovecot as")
        return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def _config_text(root: Path, port: int, user: str, group: str, drafts: str) -> str:
    drafts = drafts.replace("\\", "\\\\").replace('"', '\\"')
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Failed logins answer at once: the tests try wrong passwords on purpose.
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_fsync = never
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  # One passwd-file per user: a new file is read at once (a changed one only a second later).
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox "{drafts}" {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # No growing delay after failed logins (dovecot's brute-force penalty).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def add_user(server: Dovecot, user: str, password: str) -> Dovecot:
    """Another account on the same server, usable at once; the same server as that user."""
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", user), user
    assert ":" not in password and "\n" not in password
    passwd = server.root / "users" / user
    assert not passwd.exists(), f"{user} exists already"
    passwd.write_text(f"{user}:{{PLAIN}}{password}::::::\n", "utf-8")
    passwd.chmod(0o644)
    return server._replace(user=user, password=password)


@contextmanager
def dovecot_server(user: str = "alice", password: str = 'correct horse "battery" \\ staple',
                   drafts: str = "Drafts") -> Iterator[Dovecot]:
    """Start dovecot on a free loopback port with one account; ``drafts`` names the folder
    marked \\Drafts. Yields (host, port, user, password, maildir_root); stops it after."""
    if not os.access(DOVECOT, os.X_OK):
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    run_user, run_group = _identity()
    root = Path(tempfile.mkdtemp(prefix="tinyagent-dovecot-", dir="/tmp"))
    process: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)  # dovecot's own processes run as run_user and must get in
        for name in ("run", "state", "mail", "home", "users"):
            (root / name).mkdir(mode=0o755)
        if os.geteuid() == 0:
            for path in (root, *root.iterdir()):
                shutil.chown(path, run_user, run_group)
        server = add_user(Dovecot(HOST, 0, user, password, root / "mail"), user, password)
        for _ in range(3):  # another program may take the free port before dovecot binds it
            port = _free_port()
            (root / "dovecot.conf").write_text(_config_text(root, port, run_user, run_group, drafts), "utf-8")
            as_user: dict[str, Any] = (
                {"user": run_user, "group": run_group, "extra_groups": []} if os.geteuid() == 0 else {}
            )
            with (root / "stderr.log").open("ab") as stderr:
                process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                                           stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                           start_new_session=True, **as_user)
            if _wait_listening(process, port):
                break
            _stop(process)
            process = None
        if process is None:
            logs = [p.read_text("utf-8", "replace")[-2000:] for p in (root / "stderr.log", root / "dovecot.log")
                    if p.exists()]
            raise RuntimeError(f"dovecot did not start:\n{''.join(logs)}")
        yield server._replace(port=port)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether dovecot greets on ``port``: the port opens before dovecot is fully up (a
    SIGTERM in that moment is lost), its greeting comes once it is."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=1.0) as probe:
                if probe.makefile("rb").readline().startswith(b"* OK"):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (dovecot's master takes about a second), then SIGKILL to its whole group."""
    process.terminate()
    try:
        process.wait(3)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(3)


@contextmanager
def raw_imap(server: Dovecot) -> Iterator[imaplib.IMAP4]:
    """A plain imaplib session as the account, to look at what the code under test did."""
    client = imaplib.IMAP4(server.host, server.port, timeout=5)
    try:
        client.login(f'"{server.user}"', server.password)
        yield client
    finally:
        client.logout()


def deliver(server: Dovecot, message: bytes | EmailMessage, folder: str = "INBOX") -> int:
    """Put ``message`` into ``folder`` (unseen) as another mail program would; its UID.

    ``folder`` goes to the server as written: quote it and use modified UTF-7 yourself."""
    raw = message.as_bytes() if isinstance(message, EmailMessage) else message
    with raw_imap(server) as client:
        typ, data = client.append(folder, "()", imaplib.Time2Internaldate(time.time()), raw)
    assert typ == "OK", data
    found = re.search(rb"APPENDUID \d+ (\d+)", data[-1])
    assert found, data
    return int(found.group(1))


def folder_contents(server: Dovecot, folder: str) -> list[tuple[bytes, bytes]]:
    """(FLAGS, whole message) of each message in ``folder`` (sent as written), read-only."""
    with raw_imap(server) as client:
        typ, data = client.select(folder, readonly=True)
        assert typ == "OK", data
        if int(data[-1]) == 0:
            return []
        typ, data = client.fetch("1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    return [(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1), item[1])  # type: ignore[union-attr]
            for item in data if isinstance(item, tuple)]


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def text(part: Any) -> str:
    """A text part's content; a message read back over IMAP has CRLF line ends."""
    return str(part.get_content()).replace("\r\n", "\n")


def mail(sender: str, subject: str, body: str = "Hello.\n", key: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "me@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Thu, 04 Dec 2025 10:00:00 +0000"
    msg["Message-ID"] = f"<{abs(hash((sender, subject, key)))}@example.org>"
    if key:
        msg["X-TinyAgent-Task"] = key
    msg.set_content(body)
    return msg


_accounts = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def account(dovecot: Dovecot) -> Dovecot:
    """A fresh, empty account on the module's server."""
    return add_user(dovecot, f"user{next(_accounts)}", f"pw-{os.urandom(6).hex()}")


# -- where drafts go --------------------------------------------------------------------


def test_drafts_folder_is_the_one_marked_drafts(account: Dovecot) -> None:
    with Mailbox(account.config(), account.password) as box:
        assert box.drafts_folder() == "Drafts"


def test_drafts_folder_is_found_by_its_flag_not_its_name() -> None:
    with dovecot_server(drafts="Brouillons à moi") as server:
        with Mailbox(server.config(), server.password) as box:
            assert box.drafts_folder() == "Brouillons à moi"
            assert box.save_draft(mail("me@example.org", "Salut").as_bytes(), "k-1") is True
        # On the wire the name is quoted modified UTF-7 (RFC 3501 5.1.3): à is &AOA-.
        assert len(folder_contents(server, '"Brouillons &AOA- moi"')) == 1
        with raw_imap(server) as client:
            assert client.select('"Drafts"', readonly=True)[0] == "NO"  # nothing named Drafts was made


def test_configured_drafts_folder_with_quotes_and_accents(account: Dovecot) -> None:
    with raw_imap(account) as client:
        assert client.create('"Mes brouillons \\"&AOk-t&AOk-\\""')[0] == "OK"  # Mes brouillons "été"
    config = account.config(drafts='Mes brouillons "été"')
    with Mailbox(config, account.password) as box:
        assert box.drafts_folder() == 'Mes brouillons "été"'
        assert box.save_draft(mail("me@example.org", "Hi").as_bytes(), "k-2") is True
        assert box.check() == (f"logged in to {HOST} as {account.user}; drafts go to 'Mes brouillons \"été\"' "
                               "(0 messages in INBOX)")
    assert len(folder_contents(account, '"Mes brouillons \\"&AOk-t&AOk-\\""')) == 1
    assert folder_contents(account, '"Drafts"') == []


def test_a_drafts_folder_that_does_not_exist_is_named(account: Dovecot) -> None:
    with Mailbox(account.config(drafts="Nope"), account.password) as box:
        with pytest.raises(ToolError) as saving:
            box.save_draft(mail("me@example.org", "Hi").as_bytes(), "k-3")
        with pytest.raises(ToolError) as checking:
            box.check()
    for error in (saving.value, checking.value):
        assert "'Nope'" in str(error) and "imap.drafts" in str(error) and "\n" not in str(error)
        assert "Mailbox doesn't exist" in str(error)  # the server's own words
        assert not isinstance(error, OutcomeUnknown)


# -- saving drafts ------------------------------------------------------------------------


def test_a_draft_with_an_attachment_lands_in_drafts_flagged_and_intact(account: Dovecot) -> None:
    data = bytes(range(256)) * 40  # every byte value: the attachment must survive base64 both ways
    msg = mail("Me <me@example.org>", "Quarterly report", "The report is attached.\n", key="0a1b-2c3d")
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="report Q3.pdf")
    with Mailbox(account.config(), account.password) as box:
        assert box.save_draft(msg.as_bytes(), "0a1b-2c3d") is True
    [(flags, raw)] = folder_contents(account, '"Drafts"')
    assert b"\\Draft" in flags.split() and b"\\Deleted" not in flags.split()
    assert raw.replace(b"\r\n", b"\n") == msg.as_bytes()  # stored as sent (IMAP lines end in CRLF)
    saved = parse(raw)
    [attachment] = list(saved.iter_attachments())
    assert attachment.get_filename() == "report Q3.pdf"
    assert attachment.get_content() == data
    assert saved["X-TinyAgent-Task"] == "0a1b-2c3d"
    assert text(saved.get_body(("plain",))) == "The report is attached.\n"


def test_a_retried_save_finds_its_draft_and_saves_nothing(account: Dovecot) -> None:
    key = "5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f60"
    raw = mail("me@example.org", "Once", key=key).as_bytes()
    with Mailbox(account.config(), account.password) as box:
        assert box.save_draft(raw, key) is True
    with Mailbox(account.config(), account.password) as box:  # a retry is a new connection
        assert box.save_draft(raw, key) is False
    assert len(folder_contents(account, '"Drafts"')) == 1


def test_a_key_that_is_part_of_another_key_is_a_different_draft(account: Dovecot) -> None:
    # IMAP's HEADER search matches substrings: "abc" must not find the draft saved as "abc-1".
    with Mailbox(account.config(), account.password) as box:
        assert box.save_draft(mail("me@example.org", "First", key="abc-1").as_bytes(), "abc-1") is True
        assert box.save_draft(mail("me@example.org", "Second", key="abc").as_bytes(), "abc") is True
        assert box.save_draft(mail("me@example.org", "Second", key="abc").as_bytes(), "abc") is False
    assert len(folder_contents(account, '"Drafts"')) == 2


def test_hostile_text_round_trips_intact(account: Dovecot) -> None:
    subject = 'Re: "quoted" \\back\\slash\\ ") LOGOUT A1 LOGOUT {5} Ünïcødé ✓ 😀'
    body = 'line one\r\nA1 LOGOUT\r\n") LOGOUT\r\n\\"\\\\ ü 😀\r\n.\r\n{3}\r\nend\r\n'
    key = 'x" ) LOGOUT \\'  # never a real key, but quoted like any other
    msg = mail('"Omar \\"the\\" O\'Brien" <omar@example.org>', subject, body, key=key)
    with Mailbox(account.config(), account.password) as box:
        assert box.save_draft(msg.as_bytes(), key) is True
        assert box.save_draft(msg.as_bytes(), key) is False
        with pytest.raises(ToolError, match="cannot send"):
            box.save_draft(msg.as_bytes(), "two\r\nlines")  # never interpolated into a command
    [(_, raw)] = folder_contents(account, '"Drafts"')
    saved = parse(raw)
    assert saved["Subject"] == subject
    assert text(saved) == body.replace("\r\n", "\n")
    assert "LOGOUT" not in saved.keys()
    deliver(account, msg)
    with Mailbox(account.config(), account.password) as box:
        label, message = box.newest("reply to O'Brien")
    assert message["Subject"] == subject and text(message) == body.replace("\r\n", "\n")
    assert message["From"].addresses[0].display_name == 'Omar "the" O\'Brien'


# -- the message a reply acts on -------------------------------------------------------------


def test_newest_is_the_highest_uid(account: Dovecot) -> None:
    deliver(account, mail("Omar Haddad <omar@example.org>", "Older"))
    deliver(account, mail("Priya Nair <priya@example.org>", "Middle"))
    uid = deliver(account, mail("Bob Stone <bob@example.org>", "Newest"))
    with Mailbox(account.config(), account.password) as box:
        label, message = box.newest("reply to that email saying yes")
    assert label == f"INBOX UID {uid}" and message["Subject"] == "Newest"


def test_newest_from_the_sender_the_request_names_and_still_unseen(account: Dovecot) -> None:
    deliver(account, mail("Omar Haddad <omar@example.org>", "Omar's first"))
    omar = deliver(account, mail("Omar Haddad <o.haddad@example.org>", "Omar's second"))
    deliver(account, mail("=?utf-8?q?Zo=C3=AB_Martin?= <zm@example.org>", "From Zoë"))
    deliver(account, mail("Priya Nair <priya@example.org>", "Newest, not Omar"))
    with Mailbox(account.config(), account.password) as box:
        label, message = box.newest("reply to Omar saying I'll be there")
        assert (label, message["Subject"]) == (f"INBOX UID {omar}", "Omar's second")
        assert box.newest("forward Zoë's message to Bob")[1]["Subject"] == "From Zoë"  # decoded name
        assert box.newest("reply to priya@example.org")[1]["Subject"] == "Newest, not Omar"
    flags = [flag for flag, _ in folder_contents(account, "INBOX")]
    assert len(flags) == 4 and not any(b"\\Seen" in f.split() for f in flags)


def test_an_empty_inbox_says_so(account: Dovecot) -> None:
    with Mailbox(account.config(), account.password) as box:
        with pytest.raises(ToolError, match=f"^no message in INBOX on {re.escape(HOST)} to reply to$"):
            box.newest("reply to Omar")


# -- logging in, and what goes wrong ------------------------------------------------------------


def test_password_cmd_through_connect(account: Dovecot, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(account.password + "\n", "utf-8")
    config = account.config(password_cmd=f"cat {shlex.quote(str(secret))}")
    deliver(account, mail("a@example.org", "One"))
    with connect(config) as box:
        assert box.check() == f"logged in to {HOST} as {account.user}; drafts go to 'Drafts' (1 message in INBOX)"


def test_a_password_with_quotes_backslashes_and_unicode(dovecot: Dovecot) -> None:
    for user, password in (("quoted", 'a "b" \\ c'), ("accented", "pässwörd ✓")):
        server = add_user(dovecot, user, password)
        with Mailbox(server.config(), password) as box:
            assert box.drafts_folder() == "Drafts"


def test_a_wrong_password_names_the_settings(account: Dovecot) -> None:
    with pytest.raises(ToolUnavailable) as caught:
        Mailbox(account.config(), "not the password")
    message = str(caught.value)
    assert "\n" not in message and HOST in message and repr(account.user) in message
    assert "imap.username" in message and "imap.password_cmd" in message
    assert "AUTHENTICATIONFAILED" in message  # the server's own words


def test_a_port_nobody_listens_on() -> None:
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(ToolError) as caught:
        Mailbox(ImapConfig(host=HOST, port=port, security="none", username="x"), "pw")
    assert time.monotonic() - started < 2
    assert "\n" not in str(caught.value) and f"{HOST}:{port}" in str(caught.value)
    assert "refused the connection" in str(caught.value)


def test_an_unknown_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:  # offline resolvers can take long to say so
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(ToolUnavailable) as caught:
        Mailbox(ImapConfig(host="nosuchhost.invalid", username="x", timeout=3), "pw")
    assert str(caught.value) == ("imap: cannot reach nosuchhost.invalid:993 (Name or service not known); "
                                 "check imap.host and the network")


def test_a_server_that_never_greets_times_out_and_changed_nothing() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind((HOST, 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ToolError) as caught:
            Mailbox(ImapConfig(host=HOST, port=port, security="none", username="x", timeout=0.3), "pw")
    assert time.monotonic() - started < 2
    assert not isinstance(caught.value, OutcomeUnknown)
    assert "did not answer within 0.3 s; nothing was changed" in str(caught.value)


def test_tls_settings_that_do_not_fit_the_server(dovecot: Dovecot) -> None:
    with pytest.raises(ToolUnavailable, match="TLS with .* failed .*imap.security"):
        Mailbox(dovecot.config(security="ssl"), dovecot.password)  # a TLS hello to a plain port
    with pytest.raises(ToolUnavailable, match="does not offer STARTTLS"):
        Mailbox(dovecot.config(security="starttls"), dovecot.password)


def test_no_host_configured() -> None:
    with pytest.raises(ToolUnavailable, match="imap.host"):
        connect(ImapConfig())


def test_a_dropped_connection_while_saving_may_have_saved(account: Dovecot,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    append = imaplib.IMAP4.append

    def drop_then_append(self: imaplib.IMAP4, *args: Any) -> Any:
        self.sock.shutdown(socket.SHUT_RDWR)
        return append(self, *args)

    monkeypatch.setattr(imaplib.IMAP4, "append", drop_then_append)
    with Mailbox(account.config(), account.password) as box:
        with pytest.raises(OutcomeUnknown, match="the draft may be in 'Drafts' already"):
            box.save_draft(mail("me@example.org", "Lost?").as_bytes(), "k-9")
        with pytest.raises(ToolError, match="closed"):
            box.newest("")  # the session is over, and says so


def test_a_timeout_while_saving_may_have_saved(account: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    def stalls(self: imaplib.IMAP4, *args: Any) -> Any:
        raise TimeoutError("timed out")

    monkeypatch.setattr(imaplib.IMAP4, "append", stalls)
    with Mailbox(account.config(), account.password) as box:
        with pytest.raises(OutcomeUnknown, match="did not answer within 5 s while saving"):
            box.save_draft(mail("me@example.org", "Lost?").as_bytes(), "k-10")


def test_a_timeout_while_reading_changed_nothing(account: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(account, mail("a@example.org", "One"))

    def stalls(self: imaplib.IMAP4, *args: Any) -> Any:
        raise TimeoutError("timed out")

    with Mailbox(account.config(), account.password) as box:
        monkeypatch.setattr(imaplib.IMAP4, "fetch", stalls)
        with pytest.raises(ToolError, match="nothing was changed") as caught:
            box.newest("reply to it")
    assert not isinstance(caught.value, OutcomeUnknown)


def test_close_is_safe_twice(account: Dovecot) -> None:
    box = Mailbox(account.config(), account.password)
    box.close()
    box.close()
    with pytest.raises(ToolError, match="closed"):
        box.check()


# -- IMAP syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "wire"), [
    ("Drafts", "Drafts"),
    ("Entwürfe", "Entw&APw-rfe"),
    ("R&D", "R&-D"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's example
    ("😀 a", "&2D3eAA- a"),
])
def test_modified_utf7(name: str, wire: str) -> None:
    assert mutf7_encode(name) == wire
    assert mutf7_decode(wire) == name


def test_quoting_refuses_what_a_quoted_string_cannot_hold() -> None:
    assert imap_tool._quote('a "b" \\') == '"a \\"b\\" \\\\"'
    for bad in ("a\r\nb", "é", "\0"):
        with pytest.raises(ToolError):
            imap_tool._quote(bad)


def test_a_retried_save_finds_its_draft_where_search_cannot_see_the_header(
        account: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some servers search only the headers they index, and answer none for ours."""
    uid = imaplib.IMAP4.uid

    def blind_search(self: imaplib.IMAP4, command: str, *args: Any) -> Any:
        return ("OK", [b""]) if command == "SEARCH" else uid(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", blind_search)
    key = "9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b"
    with Mailbox(account.config(), account.password) as box:
        assert box.save_draft(mail("me@example.org", "Another").as_bytes(), "other-key") is True
        assert box.save_draft(mail("me@example.org", "Once", key=key).as_bytes(), key) is True
    with Mailbox(account.config(), account.password) as box:
        assert box.save_draft(mail("me@example.org", "Once", key=key).as_bytes(), key) is False
    assert len(folder_contents(account, '"Drafts"')) == 2
