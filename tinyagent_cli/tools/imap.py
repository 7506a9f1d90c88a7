"""A real mail account over IMAP: drafts go into its Drafts folder, replies act on its INBOX.

Standard library only (``imaplib``). imaplib sends command arguments exactly as given, so
every folder name and search string is quoted here (``_quote``), and folder names travel
as modified UTF-7 (RFC 3501 5.1.3) both ways. Reading changes nothing: INBOX is opened with
EXAMINE and messages are fetched with BODY.PEEK, so nothing is marked \\Seen.

Every failure is one line naming the server and what to do: ToolUnavailable when the
account cannot be reached or logged in to, ToolError when the server refused or did not
answer a read (nothing changed), OutcomeUnknown when it stopped answering while a draft
was being saved (it may be there).
"""

from __future__ import annotations

import base64
import imaplib
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from types import TracebackType
from typing import Any

from ..errors import OutcomeUnknown, ToolError, ToolUnavailable
from ..settings import ImapConfig
from . import secrets
from .context import KEY_HEADER
from .matching import SENDERS_SCANNED, sender_words
from .matching import words as request_words

_DEFAULT_DRAFTS = "Drafts"
# Drafts whose task header is read when SEARCH finds none: a retry follows its first try
# within seconds, so its draft is among the newest.
DRAFTS_SCANNED = 200
_UID = re.compile(rb"\bUID (\d+)")
_EXISTS = re.compile(rb"^\d+$")
# A LIST answer: (attributes) delimiter name; the name may instead follow as a literal.
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$', re.S)
_MUTF7_RUN = re.compile(r"&([^-]*)-")


def connect(config: ImapConfig) -> Mailbox:
    """A logged-in Mailbox for ``config``; the password from imap.password_cmd or the keyring."""
    if not config.host.strip():
        raise ToolUnavailable("imap: no server: set imap.host (and imap.username) in the config")
    return Mailbox(config, secrets.password("imap", config.username, config.password_cmd))


class Mailbox:
    """One logged-in IMAP session; close it (or use ``with``) when done."""

    def __init__(self, config: ImapConfig, password: str) -> None:
        self._config = config
        self._host = config.host.strip()
        self._port = config.port or (993 if config.security == "ssl" else 143)
        self._broken = False  # after a timeout or a dropped line only a shutdown is safe
        self._drafts: str | None = None
        self._imap: imaplib.IMAP4 | None = self._open_session()
        try:
            self._login(password)
            with self._talking("asking what it supports"):
                typ, data = self._client.capability()
            # imaplib keeps the capabilities from before LOGIN; servers add some after it.
            self._capabilities = set(_text(data[-1] if data else b"").upper().split()) if typ == "OK" else set()
        except BaseException:
            self._broken = True
            self.close()
            raise

    # -- connection ------------------------------------------------------------------

    def _open_session(self) -> imaplib.IMAP4:
        host, port, security, timeout = self._host, self._port, self._config.security, self._config.timeout
        where = f"{host}:{port}"
        try:
            if security == "ssl":
                return imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)
            if security not in ("starttls", "none"):
                raise ToolUnavailable(f"imap.security must be ssl, starttls or none, not {security!r}")
            imap = imaplib.IMAP4(host, port, timeout=timeout)
            if security == "starttls":
                try:
                    if "STARTTLS" not in imap.capabilities:
                        raise ToolUnavailable(f"imap: {where} does not offer STARTTLS; set imap.security to ssl "
                                              "(and imap.port, usually 993)")
                    imap.starttls(ssl_context=ssl.create_default_context())
                except BaseException:
                    imap.shutdown()
                    raise
            return imap
        except ssl.SSLCertVerificationError as exc:
            raise ToolUnavailable(
                f"imap: {where} sent a certificate that does not verify ({exc.verify_message}); "
                "check imap.host is the name on the certificate"
            ) from None
        except ssl.SSLError as exc:
            raise ToolUnavailable(
                f"imap: TLS with {where} failed ({exc.reason or exc}); check imap.security "
                "(ssl usually on port 993, starttls on 143) and imap.port"
            ) from None
        except TimeoutError:
            raise ToolError(
                f"imap: {where} did not answer within {timeout:g} s; nothing was changed "
                "(check imap.port and imap.security, or try again)"
            ) from None
        except ConnectionRefusedError:
            raise ToolUnavailable(
                f"imap: {where} refused the connection; is the mail server running, and are imap.host "
                "and imap.port right?"
            ) from None
        except OSError as exc:  # socket.gaierror (no such host), unreachable network, reset
            raise ToolUnavailable(f"imap: cannot reach {where} ({_oneline(exc.strerror or exc)}); check imap.host "
                                  "and the network") from None
        except imaplib.IMAP4.error as exc:  # a greeting that is no IMAP, BYE, or no STARTTLS
            raise ToolUnavailable(f"imap: {where} did not open an IMAP session ({_text(exc)}); check imap.port "
                                  "and imap.security") from None

    def _login(self, password: str) -> None:
        user = self._config.username
        with self._talking("logging in"):
            try:
                if _printable(user) and _printable(password):
                    self._client.login(_quote(user), password)  # imaplib quotes the password itself
                else:  # LOGIN takes ASCII here; SASL PLAIN carries UTF-8 (RFC 4616)
                    self._client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:  # NO: wrong name or password, or logins disabled
                raise ToolUnavailable(
                    f"imap: {self._host} refused the login for {user!r} ({_text(exc)}); check imap.username "
                    "and imap.password_cmd"
                ) from None

    def close(self) -> None:
        """Log out; never raises (the task's own outcome matters more than a goodbye)."""
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            if self._broken:
                imap.shutdown()  # a LOGOUT on a dead line would wait out the timeout again
            else:
                imap.logout()
        except Exception:  # noqa: BLE001 - closing must not hide the result or the error before it
            try:
                imap.shutdown()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def _client(self) -> imaplib.IMAP4:
        if self._imap is None or self._broken:
            raise ToolError(f"imap: the connection to {self._host} is closed; nothing was changed")
        return self._imap

    @contextmanager
    def _talking(self, what: str, *, maybe: str = "") -> Iterator[None]:
        """Turn imaplib's and the socket's errors into one-line ToolErrors about ``what``.

        ``maybe``: what may have happened when the server stops answering mid-command (the
        command changes something); then the error is OutcomeUnknown, never a plain failure.
        """
        host, timeout = self._host, self._config.timeout
        try:
            yield
            return
        except imaplib.IMAP4.abort as exc:  # the line dropped, or the server said BYE
            why = f"{host} dropped the connection while {what} ({_text(exc)})"
        except imaplib.IMAP4.error as exc:  # BAD, or a command imaplib will not send now
            raise ToolError(f"imap: {host} refused {what}: {_text(exc)}") from None
        except TimeoutError:
            why = f"{host} did not answer within {timeout:g} s while {what}"
        except OSError as exc:  # reset, broken pipe, a TLS error mid-session
            why = f"lost the connection to {host} while {what} ({_oneline(exc.strerror or exc)})"
        self._broken = True  # the session is in no known state: only a shutdown is safe now
        if maybe:
            raise OutcomeUnknown(f"imap: {why}; {maybe}")
        raise ToolError(f"imap: {why}; nothing was changed")

    def _ok(self, typ: str, data: list[Any], what: str) -> list[Any]:
        if typ != "OK":
            raise ToolError(f"imap: {self._host} refused {what}: {_text(data[-1] if data else typ)}")
        return data

    def _examine(self, folder: str, setting: str) -> int:
        """Open ``folder`` read-only (EXAMINE); how many messages it holds."""
        with self._talking(f"opening {folder!r}"):
            typ, data = self._client.select(_mailbox(folder), readonly=True)
        if typ != "OK":
            raise ToolError(
                f"imap: {self._host} cannot open folder {folder!r} ({_text(data[-1] if data else typ)}); "
                f"check {setting}, or create the folder in your mail program"
            )
        exists = [d for d in data if isinstance(d, bytes) and _EXISTS.match(d.strip())]
        return int(exists[-1]) if exists else 0

    # -- the public operations ---------------------------------------------------------

    def drafts_folder(self) -> str:
        """imap.drafts, else the folder the server marks \\Drafts (RFC 6154), else "Drafts"."""
        if self._drafts is None:
            self._drafts = self._config.drafts or self._special_use("\\Drafts") or _DEFAULT_DRAFTS
        return self._drafts

    def _special_use(self, flag: str) -> str | None:
        if "SPECIAL-USE" in self._capabilities and "LIST-EXTENDED" in self._capabilities:
            pattern = '"*" RETURN (SPECIAL-USE)'  # imaplib sends it as is: the RFC 6154 return option
        else:
            pattern = '"*"'  # servers marking special use without LIST-EXTENDED do so in plain LIST
        with self._talking("listing folders"):
            typ, data = self._client.list('""', pattern)
        for flags, name in _list_entries(self._ok(typ, data, "listing folders")):
            if flag.lower() in flags.lower().split():
                return name
        return None

    def save_draft(self, message: bytes, key: str) -> bool:
        """APPEND ``message`` to the drafts folder flagged \\Draft; False when the draft this
        ``key`` (its X-TinyAgent-Task) names is there already: a retried call saves once."""
        folder = self.drafts_folder()
        count = self._examine(folder, "imap.drafts")
        if key and self._uids_with_task(key, count):
            return False
        when = imaplib.Time2Internaldate(time.time())
        with self._talking(f"saving the draft in {folder!r}", maybe=f"the draft may be in {folder!r} already"):
            typ, data = self._client.append(_mailbox(folder), "(\\Draft)", when, message)
        if typ != "OK":  # the server said no: the draft was not saved
            raise ToolError(f"imap: {self._host} did not save the draft in {folder!r}: "
                            f"{_text(data[-1] if data else typ)}")
        return True

    def _uids_with_task(self, key: str, count: int) -> list[int]:
        """The drafts whose task header is ``key``: those SEARCH finds, else (a server may not
        search a header of its own invention, and answers none) any of the newest
        ``DRAFTS_SCANNED``, read one by one."""
        with self._talking("searching the drafts"):
            typ, data = self._client.uid("SEARCH", "HEADER", KEY_HEADER, _quote(key))
        found = [int(n) for n in b" ".join(d for d in self._ok(typ, data, "searching the drafts") if d).split()]
        fields = f"(UID BODY.PEEK[HEADER.FIELDS ({KEY_HEADER})])"
        what = "reading the drafts' headers"
        with self._talking(what):
            if found:  # HEADER matches a substring: keep the drafts whose header is this key exactly
                typ, data = self._client.uid("FETCH", ",".join(map(str, found)), fields)
            elif count:
                typ, data = self._client.fetch(f"{max(1, count - DRAFTS_SCANNED + 1)}:{count}", fields)
            else:
                return []
        return [uid for uid, head in _fetched(self._ok(typ, data, what))
                if str(BytesHeaderParser().parsebytes(head).get(KEY_HEADER, "")).strip() == key]

    def newest(self, request: str) -> tuple[str, EmailMessage]:
        """The INBOX message a reply or forward acts on: the newest from a sender ``request``
        names ("reply to Omar"), else the newest; read without marking it \\Seen."""
        inbox = self._config.inbox
        count = self._examine(inbox, "imap.inbox")
        if count == 0:
            raise ToolError(f"no message in {inbox} on {self._host} to reply to")
        words = request_words(request)
        # Sequence numbers run in UID order (RFC 3501 2.3.1.2): the last ones are the newest.
        first = max(1, count - SENDERS_SCANNED + 1) if words else count
        what = f"reading the senders in {inbox!r}"
        with self._talking(what):
            typ, data = self._client.fetch(f"{first}:{count}", "(UID BODY.PEEK[HEADER.FIELDS (FROM)])")
        senders = sorted(_fetched(self._ok(typ, data, what)), reverse=True)
        if not senders:
            raise ToolError(f"no message in {inbox} on {self._host} to reply to")
        uid = next((u for u, head in senders if words & _sender_words(head)), senders[0][0])
        what = f"reading message UID {uid} in {inbox!r}"
        with self._talking(what):
            typ, data = self._client.uid("FETCH", str(uid), "(BODY.PEEK[])")
        whole = _fetched(self._ok(typ, data, what))
        if not whole:
            raise ToolError(f"imap: message UID {uid} left {inbox!r} on {self._host} while it was read; try again")
        message = BytesParser(policy=policy.default).parsebytes(whole[0][1])
        return f"{inbox} UID {uid}", message  # type: ignore[return-value]  # policy.default: EmailMessage

    def check(self) -> str:
        """One line for `doctor`: logged in, where drafts go, how full INBOX is."""
        folder = self.drafts_folder()
        self._status(folder, "imap.drafts")  # a missing drafts folder is the error to report now
        count = self._status(self._config.inbox, "imap.inbox")
        return (f"logged in to {self._host} as {self._config.username}; drafts go to {folder!r} "
                f"({count} message{'' if count == 1 else 's'} in {self._config.inbox})")

    def _status(self, folder: str, setting: str) -> int:
        with self._talking(f"asking about {folder!r}"):
            typ, data = self._client.status(_mailbox(folder), "(MESSAGES)")
        if typ != "OK":
            raise ToolError(f"imap: {self._host} has no folder {folder!r} ({_text(data[-1] if data else typ)}); "
                            f"check {setting}, or create the folder in your mail program")
        # The name may come first as a literal; the counts are the last parenthesised part.
        tail = next((d for d in reversed(data) if isinstance(d, bytes)), b"")
        found = re.search(rb"MESSAGES (\d+)", tail.rpartition(b"(")[2])
        return int(found.group(1)) if found else 0


# -- IMAP syntax ----------------------------------------------------------------------

def _printable(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _quote(text: str) -> str:
    """``text`` as an IMAP quoted string; imaplib sends arguments exactly as given."""
    if not _printable(text):  # a quoted string cannot hold a line break or 8-bit text
        raise ToolError(f"imap: cannot send {text!r} to the server (only printable ASCII fits in a quoted string)")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox(name: str) -> str:
    return _quote(mutf7_encode(name))


def mutf7_encode(name: str) -> str:
    """A folder name as IMAP spells it: modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            packed = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + packed.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name: str) -> str:
    """The folder name a person reads; a name that is not valid modified UTF-7 stays as it is."""
    def run(found: re.Match[str]) -> str:
        if not found.group(1):
            return "&"
        packed = found.group(1).replace(",", "/")
        return base64.b64decode(packed + "=" * (-len(packed) % 4)).decode("utf-16-be")

    try:
        return _MUTF7_RUN.sub(run, name)
    except ValueError:  # binascii.Error, UnicodeDecodeError
        return name


def _unquote(raw: bytes) -> bytes:
    if raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2:
        return re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    return raw


def _list_entries(data: list[Any]) -> Iterator[tuple[str, str]]:
    """(attributes, decoded name) from a LIST answer as imaplib hands it over."""
    for item in data:
        head, literal = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
        if not isinstance(head, bytes):
            continue
        found = _LIST_LINE.match(head.strip())
        if found is None:
            continue
        raw = literal if literal is not None else _unquote(found.group("name").strip())
        yield found.group("flags").decode("ascii", "replace"), mutf7_decode(raw.decode("utf-8", "replace"))


def _fetched(data: list[Any]) -> list[tuple[int, bytes]]:
    """(UID, literal) pairs from a FETCH answer, wherever the server put the UID."""
    pairs: list[tuple[int, bytes]] = []
    for at, item in enumerate(data):
        if not isinstance(item, tuple):
            continue  # ")" closers and unsolicited FLAGS updates
        found = _UID.search(item[0])
        after = data[at + 1] if at + 1 < len(data) else None
        if found is None and isinstance(after, bytes):  # "... BODY[] {n}" literal " UID 7)"
            found = _UID.search(after)
        if found is not None:
            pairs.append((int(found.group(1)), item[1]))
    return pairs


def _sender_words(header: bytes) -> set[str]:
    """The words of a fetched From header (see matching.sender_words)."""
    try:
        sender = str(BytesHeaderParser(policy=policy.default).parsebytes(header).get("From") or "")
    except Exception:  # noqa: BLE001 - one malformed From among hundreds must not stop the reply
        return set()
    return sender_words(sender)


def _oneline(value: object) -> str:
    return " ".join(str(value).split())[:300]


def _text(value: object) -> str:
    """The server's words from an imaplib answer or error, on one line."""
    if isinstance(value, BaseException) and value.args:
        value = value.args[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    # imaplib's own messages embed reprs of bytes: "SELECT command error: BAD [b'...']"
    return _oneline(re.sub(r"\[?b(['\"])(.*?)\1\]?", r"\2", str(value)))
