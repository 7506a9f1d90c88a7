"""A small CalDAV client (RFC 4791) on httpx: find a person's calendars on their server
(Radicale, Nextcloud, Fastmail, iCloud) and add one event (VEVENT) or reminder (VTODO).

Only what adding needs: PROPFIND to list calendar collections, PUT with ``If-None-Match: *``
to create an item without ever overwriting one, GET to read an item back. Every failure is
one ToolError line naming the server and what to do; a PUT that got no answer is
OutcomeUnknown, because the server may have saved it. httpx is imported on first use so
the CLI starts fast.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urljoin, urlsplit

from ..errors import OutcomeUnknown, ToolError, ToolUnavailable
from ..settings import CaldavConfig
from . import secrets

if TYPE_CHECKING:
    import httpx

DAV = "{DAV:}"
CAL = "{urn:ietf:params:xml:ns:caldav}"

# The last two props find the calendar home when caldav.url is a server root or a
# principal (iCloud's and Nextcloud's homes are not guessable); servers answer 404 for
# props a resource lacks, which costs nothing.
_PROPFIND = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:resourcetype/>
    <d:displayname/>
    <c:supported-calendar-component-set/>
    <d:current-user-privilege-set/>
    <d:current-user-principal/>
    <c:calendar-home-set/>
  </d:prop>
</d:propfind>
"""
_KINDS = {"VEVENT": "events", "VTODO": "reminders"}
# Privileges that let us add an item (RFC 3744: bind adds a member, write and all hold it).
_ADDING = {f"{DAV}bind", f"{DAV}write", f"{DAV}write-content", f"{DAV}all"}
_NOT_SET_UP = "CalDAV is not set up: set caldav.url (and caldav.username, caldav.password_cmd) in the config"


@dataclass(frozen=True)
class Collection:
    url: str  # absolute URL of the calendar collection, ending in "/"
    name: str  # its displayname, else the last path segment
    components: frozenset[str]  # e.g. {"VEVENT", "VTODO"}; empty: the server did not say (both)
    # False where the server says we may only read it (Nextcloud's birthdays, a shared
    # calendar); True where it does not say, and the PUT's answer will tell.
    writable: bool = True

    def takes(self, component: str) -> bool:
        return not self.components or component.upper() in self.components


@dataclass(frozen=True)
class _Resource:
    """One <response> of a multistatus: its absolute URL and its found (200) properties."""

    url: str
    props: dict[str, ET.Element]

    def href(self, prop: str) -> str | None:
        """The <href> inside property ``prop`` (current-user-principal, calendar-home-set)."""
        element = self.props.get(prop)
        found = element.findtext(f"{DAV}href") if element is not None else None
        return urljoin(self.url, found.strip()) if found and found.strip() else None

    def collection(self) -> Collection | None:
        kind = self.props.get(f"{DAV}resourcetype")
        if kind is None or kind.find(f"{CAL}calendar") is None:
            return None
        url = self.url if self.url.endswith("/") else self.url + "/"
        name_element = self.props.get(f"{DAV}displayname")
        # Whitespace collapsed: a name goes into one-line messages.
        name = " ".join((name_element.text or "").split()) if name_element is not None else ""
        comps = self.props.get(f"{CAL}supported-calendar-component-set")
        listed = comps.findall(f"{CAL}comp") if comps is not None else []
        components = frozenset((comp.get("name") or "").upper() for comp in listed) - {""}
        granted = self.props.get(f"{DAV}current-user-privilege-set")
        writable = granted is None or any(
            child.tag in _ADDING for privilege in granted.findall(f"{DAV}privilege") for child in privilege)
        return Collection(url, name or _last_segment(url), components, writable)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _last_segment(url: str) -> str:
    return unquote(url.rstrip("/").rsplit("/", 1)[-1])


def _normal(name: str) -> str:
    """Names compare case- and space-insensitively: "family events" finds "Family Events"."""
    return "".join(name.split()).casefold()


class CalDAV:
    """One account on one CalDAV server; a context manager closing its connections."""

    def __init__(self, config: CaldavConfig, password: str) -> None:
        import httpx

        if not config.url.strip():
            raise ToolUnavailable(_NOT_SET_UP)
        self.config = config
        self.url = config.url.strip()
        self.host = urlsplit(self.url).netloc or self.url
        auth = httpx.BasicAuth(config.username, password) if config.username or password else None
        self._client = httpx.Client(auth=auth, timeout=config.timeout, follow_redirects=True)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CalDAV:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        """The calendar collections at caldav.url: its children, and itself when it is one.
        Found none there: the home its principal names (caldav.url was a server root)."""
        resources = self._propfind(self.url, depth="1")
        found = self._calendars(resources)
        if found:
            return found
        home = self._home(resources)
        return self._calendars(self._propfind(home, depth="1")) if home else []

    def _calendars(self, resources: list[_Resource]) -> list[Collection]:
        seen: dict[str, Collection] = {}
        for resource in resources:
            collection = resource.collection()
            if collection is not None and collection.url not in seen:
                seen[collection.url] = collection
        return list(seen.values())

    def _home(self, resources: list[_Resource]) -> str | None:
        """The calendar home named by the resource at caldav.url, or by its principal."""
        if not resources:
            return None
        own = min(resources, key=lambda r: len(r.url.rstrip("/")))  # a listing's parent prefixes its children
        home = own.href(f"{CAL}calendar-home-set")
        principal = own.href(f"{DAV}current-user-principal")
        if home is None and principal is not None:
            found = self._propfind(principal, depth="0")
            home = found[0].href(f"{CAL}calendar-home-set") if found else None
        return home if home and home.rstrip("/") != own.url.rstrip("/") else None

    def pick(self, name: str, component: str) -> Collection:
        """The calendar named ``name`` (displayname or last path segment); empty name: the
        first one we may write that takes ``component`` (VEVENT or VTODO)."""
        component = component.upper()
        kind = _KINDS.get(component, component)
        found = self.collections()
        if not found:
            raise ToolError(f"no calendars at {self.url}: check caldav.url (a calendar home or one calendar)")
        if not name.strip():
            taking = [c for c in found if c.takes(component)]
            for collection in taking:
                if collection.writable:
                    return collection
            if taking:
                raise ToolError(f"every calendar on {self.host} that takes {kind} is read-only for "
                                f"{self._who}: {', '.join(c.name for c in taking)}")
            raise ToolError(
                f"no calendar on {self.host} takes {kind} ({component}); calendars there: "
                + ", ".join(c.name for c in found)
            )
        wanted = _normal(name)
        matches = [c for c in found if wanted in (_normal(c.name), _normal(_last_segment(c.url)))]
        if not matches:
            names = ", ".join(c.name for c in found)
            raise ToolError(f"no calendar named {name.strip()!r} on {self.host} (calendars there: {names})")
        for collection in matches:
            if collection.takes(component):
                if not collection.writable:
                    raise ToolError(f"calendar {collection.name!r} on {self.host} is read-only for {self._who}; "
                                    "pick another")
                return collection
        raise ToolError(
            f"calendar {matches[0].name!r} on {self.host} does not take {kind} ({component}); pick another"
        )

    @property
    def _who(self) -> str:
        return repr(self.config.username) if self.config.username else "this account"

    def get(self, collection: Collection, uid: str) -> bytes:
        """The stored text of item ``uid`` (as put() named it)."""
        response = self._send("GET", self._item_url(collection, uid), doing=f"reading {uid}.ics")
        if response.status_code == 404:
            raise ToolError(f"calendar {collection.name!r} on {self.host} holds no item {uid}.ics (HTTP 404)")
        if response.status_code != 200:
            raise self._status_error(response, f"reading {uid}.ics from calendar {collection.name!r}")
        return response.content

    def check(self) -> str:
        """One line for `doctor`: how many calendars, where, and their names."""
        found = self.collections()
        if not found:
            raise ToolError(f"no calendars at {self.url}: check caldav.url (a calendar home or one calendar)")
        noun = "calendar" if len(found) == 1 else "calendars"
        names = ", ".join(c.name if c.writable else f"{c.name} read-only" for c in found)
        return f"{len(found)} {noun} at {self.url} ({names})"

    # -- writing -------------------------------------------------------------------------

    def put(self, collection: Collection, uid: str, ics: bytes) -> bool:
        """Create item ``uid``; True when created, False when an item with that UID is
        already there (nothing is overwritten: ``If-None-Match: *``)."""
        kind = "reminder" if b"BEGIN:VTODO" in ics else "event"
        url = self._item_url(collection, uid)
        headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
        response = self._send("PUT", url, doing=f"saving {uid}.ics", body=ics, headers=headers, write=kind)
        status = response.status_code
        if 200 <= status < 300:
            return True
        if status in (403, 409) and b"no-uid-conflict" in response.content:
            return False  # that UID is there under another file name (RFC 4791 5.3.2.1)
        if status == 412:
            # 412 also means other refusals on some servers (Radicale: too large); only an
            # item actually there is "already added".
            if self._exists(url):
                return False
            raise ToolError(
                f"{self.host} refused to save the {kind} in {collection.name!r} (HTTP 412 precondition failed)"
            )
        if status == 403:
            if b"supported-calendar-component" in response.content:
                raise ToolError(
                    f"calendar {collection.name!r} on {self.host} does not take {kind}s (HTTP 403); pick another"
                )
            raise ToolError(
                f"{self.host} does not let {self.config.username or 'this account'} write to calendar "
                f"{collection.name!r} (HTTP 403); pick another calendar or ask its owner"
            )
        if status == 404:
            path = urlsplit(collection.url).path
            raise ToolError(f"{self.host} has no calendar at {path} (HTTP 404): check caldav.url")
        raise self._status_error(response, f"saving the {kind} in calendar {collection.name!r}")

    def _exists(self, url: str) -> bool:
        return self._send("GET", url, doing="checking the existing item").status_code == 200

    # -- HTTP ----------------------------------------------------------------------------

    def _item_url(self, collection: Collection, uid: str) -> str:
        return collection.url + quote(uid, safe="@") + ".ics"

    def _send(self, method: str, url: str, *, doing: str, body: bytes | None = None,
              headers: dict[str, str] | None = None, write: str = "") -> httpx.Response:
        """One request; a transport failure becomes one line. ``write`` (event/reminder)
        marks a PUT: once it may have reached the server, silence is OutcomeUnknown."""
        import httpx

        try:
            return self._client.request(method, url, content=body, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ToolError(f"caldav.url {self.url!r} is not a usable URL ({_first_line(exc)})") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # no connection: nothing was sent
            raise ToolError(
                f"cannot reach the CalDAV server {self.host} ({_first_line(exc)}): "
                "is it running, and is caldav.url right?"
            ) from None
        except httpx.HTTPError as exc:
            if write:
                raise OutcomeUnknown(
                    f"{self.host} did not answer while {doing} ({_first_line(exc)}); the {write} may have been "
                    "saved — check the calendar before adding it again"
                ) from None
            if isinstance(exc, httpx.TimeoutException):
                raise ToolError(
                    f"{self.host} did not answer within {self.config.timeout:g} s while {doing} (nothing was "
                    "changed); try again, or raise caldav.timeout"
                ) from None
            raise ToolError(
                f"the connection to {self.host} failed while {doing} ({_first_line(exc)}); nothing was changed"
            ) from None

    def _status_error(self, response: httpx.Response, doing: str) -> ToolError:
        status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        if response.status_code == 401:
            return ToolError(
                f"{self.host} refused the login for {self.config.username!r} ({status}): "
                "check caldav.username and caldav.password_cmd"
            )
        if response.status_code == 403:
            return ToolError(
                f"{self.host} does not allow {doing} ({status}): check caldav.url and the account's rights"
            )
        if response.status_code == 404:
            path = urlsplit(str(response.url)).path
            return ToolError(f"{self.host} has nothing at {path} ({status}): check caldav.url")
        if response.status_code >= 500:
            return ToolError(f"{self.host} failed while {doing} ({status}); try again later")
        return ToolError(f"{self.host} refused {doing} ({status})")

    def _propfind(self, url: str, depth: str) -> list[_Resource]:
        path = urlsplit(url).path or "/"
        doing = f"listing calendars at {path}"
        headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
        response = self._send("PROPFIND", url, doing=doing, body=_PROPFIND, headers=headers)
        if response.status_code == 405 or 200 <= response.status_code < 300 and response.status_code != 207:
            # 405: no WebDAV there; 200: a web server that ignored the method and sent a page
            raise ToolError(
                f"{self.host} does not speak CalDAV at {path} (HTTP {response.status_code} to PROPFIND): "
                "check caldav.url"
            )
        if response.status_code != 207:
            raise self._status_error(response, doing)
        return self._multistatus(response)

    def _multistatus(self, response: httpx.Response) -> list[_Resource]:
        body = response.content
        # The stdlib parser expands internal entities; a server has no reason to send any.
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise ToolError(f"{self.host} answered with XML declaring a DOCTYPE or entities; refusing to read it")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise ToolError(f"{self.host} answered PROPFIND with unreadable XML ({exc}): check caldav.url") from None
        if root.tag != f"{DAV}multistatus":
            raise ToolError(f"{self.host} answered PROPFIND with no WebDAV multistatus: check caldav.url")
        base = str(response.url)  # after redirects: relative hrefs are relative to it
        resources = []
        for item in root.findall(f"{DAV}response"):
            href = (item.findtext(f"{DAV}href") or "").strip()
            if not href:
                continue
            props: dict[str, ET.Element] = {}
            for propstat in item.findall(f"{DAV}propstat"):
                if (propstat.findtext(f"{DAV}status") or "").split()[1:2] != ["200"]:
                    continue
                for prop in propstat.findall(f"{DAV}prop"):
                    props.update((child.tag, child) for child in prop)
            resources.append(_Resource(urljoin(base, href), props))
        return resources


def connect(config: CaldavConfig) -> CalDAV:
    """A client for the configured server, its password from caldav.password_cmd or the keyring."""
    if not config.url.strip():
        raise ToolUnavailable(_NOT_SET_UP)
    return CalDAV(config, secrets.password("caldav", config.username, config.password_cmd))
