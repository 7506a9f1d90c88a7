"""Zoom through its REST API shape, against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tinyagent_cli.errors import ToolError, ToolUnavailable
from tinyagent_cli.settings import Config, Paths, Settings, ZoomConfig
from tinyagent_cli.tools.zoom import create_meeting

JOIN_URL = "https://zoom.example/j/123456789"


@dataclass
class FakeZoom:
    """What the server saw, and what it answers (status, body) per path."""

    base: str = ""
    requests: list[dict] = field(default_factory=list)
    token_reply: tuple[int, dict] = (200, {"access_token": "tok-123", "token_type": "bearer", "expires_in": 3599})
    meeting_reply: tuple[int, dict] = (201, {"id": 123456789, "join_url": JOIN_URL})


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    state = FakeZoom()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            url = urlsplit(self.path)
            state.requests.append(
                {"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers), "body": body}
            )
            status, payload = state.token_reply if url.path == "/oauth/token" else state.meeting_reply
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def settings_for(tmp_path: Path, base: str, **creds: str) -> Settings:
    paths = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache")
    zoom = ZoomConfig(api_base=f"{base}/v2", oauth_url=f"{base}/oauth/token", **creds)
    return Settings(paths, Config(zoom=zoom))


CREDS = {"account_id": "acc-1", "client_id": "cid", "client_secret": "s3cret"}


@pytest.fixture(autouse=True)
def _no_zoom_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)


def test_meeting_is_created_with_token_then_bearer_call(tmp_path: Path, zoom: FakeZoom) -> None:
    start = datetime(2026, 11, 21, 15, 0, tzinfo=timezone(timedelta(hours=1)))
    url = create_meeting(settings_for(tmp_path, zoom.base, **CREDS), "Q3 review", start, 45, ["sarah@lin.example"])
    assert url == JOIN_URL

    token, meeting = zoom.requests
    assert token["path"] == "/oauth/token"
    assert token["query"] == {"grant_type": ["account_credentials"], "account_id": ["acc-1"]}
    assert token["headers"]["Authorization"] == "Basic " + base64.b64encode(b"cid:s3cret").decode()

    assert meeting["path"] == "/v2/users/me/meetings"
    assert meeting["headers"]["Authorization"] == "Bearer tok-123"
    assert meeting["headers"]["Content-Type"] == "application/json"
    assert json.loads(meeting["body"]) == {
        "topic": "Q3 review",
        "type": 2,
        "start_time": "2026-11-21T14:00:00Z",  # UTC
        "duration": 45,
        "settings": {"meeting_invitees": [{"email": "sarah@lin.example"}]},
    }


def test_credentials_from_the_environment(tmp_path: Path, zoom: FakeZoom, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", "env-acc")
    monkeypatch.setenv("ZOOM_CLIENT_ID", "env-id")
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "env-secret")
    assert create_meeting(settings_for(tmp_path, zoom.base), "Standup", None, 15, []) == JOIN_URL
    assert zoom.requests[0]["query"]["account_id"] == ["env-acc"]
    body = json.loads(zoom.requests[1]["body"])
    assert body["settings"]["meeting_invitees"] == [] and body["start_time"].endswith("Z")


def test_without_credentials_says_how_to_add_them(tmp_path: Path, zoom: FakeZoom) -> None:
    with pytest.raises(ToolUnavailable, match="ZOOM_CLIENT_SECRET") as info:
        create_meeting(settings_for(tmp_path, zoom.base, account_id="acc-1"), "x", None, 30, [])
    assert "client_id" in str(info.value) and "config.yaml" in str(info.value)
    assert zoom.requests == []  # nothing was sent


def test_rejected_credentials(tmp_path: Path, zoom: FakeZoom) -> None:
    zoom.token_reply = (401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
    with pytest.raises(ToolError, match=r"rejected the credentials \(HTTP 401: Invalid client_id"):
        create_meeting(settings_for(tmp_path, zoom.base, **CREDS), "x", None, 30, [])
    assert len(zoom.requests) == 1  # no meeting call without a token


def test_meeting_call_refused(tmp_path: Path, zoom: FakeZoom) -> None:
    zoom.meeting_reply = (401, {"code": 124, "message": "Invalid access token."})
    with pytest.raises(ToolError, match="HTTP 401: Invalid access token"):
        create_meeting(settings_for(tmp_path, zoom.base, **CREDS), "x", None, 30, [])


def test_rate_limit_and_server_error(tmp_path: Path, zoom: FakeZoom) -> None:
    settings = settings_for(tmp_path, zoom.base, **CREDS)
    zoom.meeting_reply = (429, {"message": "Too many requests"})
    with pytest.raises(ToolError, match="rate limit"):
        create_meeting(settings, "x", None, 30, [])
    zoom.meeting_reply = (500, {"message": "boom"})
    with pytest.raises(ToolError, match="HTTP 500: boom"):
        create_meeting(settings, "x", None, 30, [])


def test_answer_without_join_url(tmp_path: Path, zoom: FakeZoom) -> None:
    zoom.meeting_reply = (201, {"id": 1})
    with pytest.raises(ToolError, match="join_url"):
        create_meeting(settings_for(tmp_path, zoom.base, **CREDS), "x", None, 30, [])


def test_unreachable_server(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolError, match="cannot reach Zoom"):
        create_meeting(settings_for(tmp_path, f"http://127.0.0.1:{port}", **CREDS), "x", None, 30, [])
