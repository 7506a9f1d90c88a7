"""Zoom meetings through the real REST API, with Server-to-Server OAuth (both backends).

Credentials come from the config file (``zoom:`` account_id, client_id, client_secret)
or the environment (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET); a missing one is
ToolUnavailable when the tool runs, never an error at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import ToolError, ToolUnavailable
from ..settings import Settings

TIMEOUT_SECONDS = 15.0
_ENV = {"account_id": "ZOOM_ACCOUNT_ID", "client_id": "ZOOM_CLIENT_ID", "client_secret": "ZOOM_CLIENT_SECRET"}


@dataclass(frozen=True)
class ZoomCredentials:
    account_id: str
    client_id: str
    client_secret: str


def credentials(settings: Settings) -> ZoomCredentials:
    """The configured credentials, each from config or else the environment."""
    zoom = settings.config.zoom
    values = {key: getattr(zoom, key) or os.environ.get(env, "") for key, env in _ENV.items()}
    missing = [key for key, value in values.items() if not value.strip()]
    if missing:
        raise ToolUnavailable(
            f"Zoom is not set up (missing {', '.join(missing)}): create a Server-to-Server OAuth app at "
            f"marketplace.zoom.us and put its account_id, client_id and client_secret under 'zoom:' in "
            f"{settings.paths.config_file}, or set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET"
        )
    return ZoomCredentials(**{k: v.strip() for k, v in values.items()})


def _zoom_message(response: Any) -> str:
    """Zoom's own explanation from an error body ({"code":..., "message":...} or OAuth's "reason")."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or body.get("error") or "")
    return ""


def _fail(what: str, response: Any) -> ToolError:
    detail = _zoom_message(response)
    detail = f": {detail}" if detail else ""
    if response.status_code in (400, 401) and what == "token":
        return ToolError(
            f"Zoom rejected the credentials (HTTP {response.status_code}{detail}); "
            "check zoom account_id, client_id and client_secret"
        )
    if response.status_code in (401, 403):
        return ToolError(
            f"Zoom refused to create the meeting (HTTP {response.status_code}{detail}); "
            "the app needs the meeting:write scope"
        )
    if response.status_code == 429:
        return ToolError("Zoom's rate limit was reached (HTTP 429); try again in a minute")
    return ToolError(f"Zoom {what} request failed (HTTP {response.status_code}{detail})")


def _access_token(client: Any, settings: Settings, creds: ZoomCredentials) -> str:
    response = client.post(
        settings.config.zoom.oauth_url,
        params={"grant_type": "account_credentials", "account_id": creds.account_id},
        auth=(creds.client_id, creds.client_secret),
    )
    if response.status_code != 200:
        raise _fail("token", response)
    try:
        token = response.json()["access_token"]
    except (ValueError, KeyError, TypeError):
        raise ToolError("Zoom's token response had no access_token") from None
    return str(token)


def create_meeting(settings: Settings, topic: str, start: datetime | None, duration: int, invitees: list[str]) -> str:
    """Schedule a meeting and return its join URL. ``start`` None means now."""
    creds = credentials(settings)
    import httpx

    when = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
    body = {
        "topic": topic or "Meeting",
        "type": 2,  # scheduled
        "start_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": duration,
        "settings": {"meeting_invitees": [{"email": email} for email in invitees]},
    }
    url = settings.config.zoom.api_base.rstrip("/") + "/users/me/meetings"
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
            token = _access_token(client, settings, creds)
            response = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.TimeoutException:
        raise ToolError(f"Zoom did not answer within {TIMEOUT_SECONDS:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"cannot reach Zoom ({type(exc).__name__}: {exc})") from None
    if response.status_code not in (200, 201):
        raise _fail("meeting", response)
    try:
        join_url = response.json()["join_url"]
    except (ValueError, KeyError, TypeError):
        raise ToolError("Zoom's answer had no join_url") from None
    return str(join_url)
