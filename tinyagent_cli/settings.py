"""Where tinyagent keeps its files, and the one config file that tunes it.

Paths come from platformdirs; ``TINYAGENT_HOME`` puts every path under one folder
(tests and portable installs use it). The config file is YAML, validated strictly so a
typo is an error naming the key rather than a setting silently ignored. Environment
variables override the file: ``TINYAGENT_MODEL``, ``TINYAGENT_BACKEND``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

APP_NAME = "tinyagent"
CONFIG_FILENAME = "config.yaml"
BACKENDS = ("macos", "portable")


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    home: Path | None = None  # TINYAGENT_HOME, when the three live under it

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILENAME

    @property
    def user_packs_dir(self) -> Path:
        return self.config_dir / "toolpacks"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @classmethod
    def discover(cls) -> Paths:
        home = os.environ.get("TINYAGENT_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root / "config", root / "data", root / "cache", home=root)
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir(APP_NAME)),
            Path(platformdirs.user_data_dir(APP_NAME)),
            Path(platformdirs.user_cache_dir(APP_NAME)),
        )


@dataclass(frozen=True)
class PortableConfig:
    """Where the portable backend finds and keeps its real files (relative to data_dir)."""

    # Each a vdir (one folder per calendar, list or address book, one item per file, as khal,
    # todoman, khard and vdirsyncer keep them). "auto": the folder khal's, todoman's or khard's
    # config names, else calendars/, reminders/, contacts/ in the data dir.
    contacts_dir: str = "auto"
    calendars_dir: str = "auto"
    reminders_dir: str = "auto"
    notes_dir: str = "notes"
    drafts_dir: str = "mail/drafts"
    inbox_dir: str = "mail/inbox"
    reply_to: str = ""  # a message file that reply/forward act on; default: newest in inbox
    mail_from: str = ""  # the From of drafts; default: TINYAGENT_MAIL_FROM, EMAIL, or user@localhost
    file_roots: tuple[str, ...] = ("~",)
    locate_db: str = "/var/lib/plocate/plocate.db"  # file search asks plocate when this exists, else fd
    open_files: bool = True  # open found files and URLs with the system opener


@dataclass(frozen=True)
class CaldavConfig:
    """A CalDAV server that events and reminders go to instead of the local vdir."""

    url: str = ""  # a calendar home (its calendars are found) or one calendar collection
    username: str = ""
    password_cmd: str = ""  # prints the password (e.g. "pass show caldav"); else the keyring
    calendar: str = ""  # where an event with no calendar named goes; empty: the first that takes events
    reminders: str = ""  # likewise for a reminder with no list named
    timeout: float = 15.0


@dataclass(frozen=True)
class ImapConfig:
    """A mail account whose Drafts folder drafts go to and whose INBOX replies act on."""

    host: str = ""
    port: int = 0  # 0: 993 with ssl, 143 otherwise
    security: str = "ssl"  # ssl | starttls | none (none only to this machine)
    username: str = ""
    password_cmd: str = ""  # prints the password; else the keyring
    drafts: str = ""  # the folder's name; empty: the one marked \Drafts (RFC 6154), else "Drafts"
    inbox: str = "INBOX"
    timeout: float = 15.0


@dataclass(frozen=True)
class MapsConfig:
    provider: str = "google"  # google | osm | geo (a geo: URI for the desktop's map app)


@dataclass(frozen=True)
class ZoomConfig:
    account_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    api_base: str = "https://api.zoom.us/v2"
    oauth_url: str = "https://zoom.us/oauth/token"


@dataclass(frozen=True)
class Config:
    """The config file's contents; every field has a default, so the file is optional."""

    model: str = "gemma3-270m-planner"  # the trained planner: README, "A planner trained for the job"
    speech_model: str = "whisper-tiny.en"
    backend: str = "auto"
    timeout: float = 30.0
    osascript_timeout: float = 120.0  # one macOS app's answer: a first call waits on the permission dialog
    confirm_read_only: bool = False
    replan_limit: int = 1
    examples_k: int = 2  # solved examples in a few-shot prompt; 2 planned best with Gemma 270M
    # A long errand needs up to 8 tools: fewer cut ToolRAG's recall on long requests (README, "Accuracy").
    max_tools: int = 8
    instructions: tuple[str, ...] = ()
    disabled_packs: tuple[str, ...] = ()
    disabled_tools: tuple[str, ...] = ()
    log_history: bool = True
    portable: PortableConfig = field(default_factory=PortableConfig)
    caldav: CaldavConfig = field(default_factory=CaldavConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    maps: MapsConfig = field(default_factory=MapsConfig)
    zoom: ZoomConfig = field(default_factory=ZoomConfig)


_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _coerce(where: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of ``default``; tuples come from YAML lists."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected {_TYPES[type(default)]}, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    raise AssertionError(f"unhandled config type for {where}")  # pragma: no cover


def _build(cls: type, data: Any, path: Path, prefix: str = "") -> Any:
    where = f"{path}: {prefix.rstrip('.')}" if prefix else str(path)
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    defaults = cls()
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        default = getattr(defaults, key)
        if is_dataclass(default):
            values[key] = _build(type(default), value, path, f"{prefix}{key}.")
        else:
            values[key] = _coerce(f"{path}: {prefix}{key}", value, default)
    return replace(defaults, **values)


def read_yaml(path: Path, error: type[ConfigError] = ConfigError, *, nodes: bool = False) -> Any:
    """A YAML file's data (with ``nodes``, its node tree, which knows each value's line);
    ``error`` naming the file, and the line, when it cannot be read or is not YAML."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot be read ({exc})") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader) if nodes else yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{mark.line + 1}:" if mark is not None else ""
        raise error(f"{path}:{at} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None


_POSITIVE = 1e-9  # a number that must be above 0
# The least each number of the config may be: "timeout: 0" would fail every task at once.
_LEAST = {"timeout": _POSITIVE, "osascript_timeout": _POSITIVE, "replan_limit": 0, "examples_k": 0, "max_tools": 1,
          "caldav.timeout": _POSITIVE, "imap.timeout": _POSITIVE, "imap.port": 0}
_CHOICES = {"imap.security": ("ssl", "starttls", "none"), "maps.provider": ("google", "osm", "geo")}


def load_config(path: Path) -> Config:
    """Read and validate the config file; a missing file means all defaults."""
    if not path.exists():
        return Config()
    config = _build(Config, read_yaml(path), path)
    if config.backend not in ("auto", *BACKENDS):
        raise ConfigError(f"{path}: backend must be auto, macos or portable, not {config.backend!r}")
    for key, least in _LEAST.items():
        section, _, name = key.rpartition(".")
        value = getattr(getattr(config, section) if section else config, name)
        if value < least:
            kind = "above 0" if least == _POSITIVE else f"at least {least}"
            raise ConfigError(f"{path}: {key} must be {kind}, not {value!r}")
    for key, allowed in _CHOICES.items():
        section, _, name = key.partition(".")
        value = getattr(getattr(config, section), name)
        if value not in allowed:
            raise ConfigError(f"{path}: {key} must be {' or '.join(allowed)}, not {value!r}")
    _check_plaintext(config, path)
    return config


_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    return host.strip().lower() in _LOOPBACK or host.startswith("127.")


def _check_plaintext(config: Config, path: Path) -> None:
    """A password crosses the network only encrypted: plain IMAP and http:// CalDAV go to
    this machine only (a local test server, a tunnel's end)."""
    from urllib.parse import urlsplit

    imap = config.imap
    if imap.host and imap.security == "none" and not is_loopback(imap.host):
        raise ConfigError(f"{path}: imap.security none sends the password unencrypted; use ssl or starttls for {imap.host}")
    url = urlsplit(config.caldav.url)
    if config.caldav.url and url.scheme not in ("http", "https"):
        raise ConfigError(f"{path}: caldav.url must start with https://, not {config.caldav.url!r}")
    if url.scheme == "http" and not is_loopback(url.hostname or ""):
        raise ConfigError(f"{path}: caldav.url must be https:// (http:// only to this machine), not {config.caldav.url!r}")



@dataclass(frozen=True)
class Settings:
    """Paths plus config, with environment and command-line overrides applied."""

    paths: Paths
    config: Config

    @property
    def backend(self) -> str:
        """The backend in force: the configured one, or the platform's own."""
        if self.config.backend != "auto":
            return self.config.backend
        return "macos" if sys.platform == "darwin" else "portable"

    @classmethod
    def load(cls, *, model: str | None = None, backend: str | None = None) -> Settings:
        paths = Paths.discover()
        config = load_config(paths.config_file)
        model = model or os.environ.get("TINYAGENT_MODEL") or None
        backend = backend or os.environ.get("TINYAGENT_BACKEND") or None
        if backend is not None and backend not in ("auto", *BACKENDS):
            raise ConfigError(f"unknown backend {backend!r}: use macos or portable")
        if model:
            config = replace(config, model=model)
        if backend:
            config = replace(config, backend=backend)
        return cls(paths, config)
