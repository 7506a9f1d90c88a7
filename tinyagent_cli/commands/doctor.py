"""`tinyagent doctor`: what works here, and how to fix what does not.

Each check is one row: the backend in force, the config file (and settings left at
TINYAGENT_HOME's top, where they are never read), the tools, on macOS
osascript and each app's automation permission (one harmless read through the same runner
the tools use, so a refusal reads -1743 exactly as a tool would see it), Spotlight and
``open``; on the portable backend its data folders (and which of khal's, todoman's or
khard's configs named them), the KDE Connect phone texts go through, one request to the
CalDAV and IMAP servers configured, vdirsyncer's folders, and where each kind of tool puts
what it makes; the models; each installed plugin, or why it was set aside; Zoom credentials.
Probing an app may start it, and the first probe of each makes macOS ask for access.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import EXIT_OK, EXIT_TASK_FAILED, ConfigError, TinyAgentError, ToolError
from ..llm.registry import user_models_file
from ..settings import PortableConfig, Settings, load_config

if TYPE_CHECKING:
    from rich.console import Console

    from ..tools.spec import Catalog

Status = Literal["ok", "info", "warn", "fail"]

PROBED_APPS = ("Contacts", "Calendar", "Reminders", "Notes", "Mail")
# Portable folders a person fills (the others are written by the tools and made on first use).
_INPUT_FOLDERS = {
    "contacts_dir": "import contacts with `tinyagent contacts import FILE.vcf`",
    "inbox_dir": "save the emails to reply to or forward as .eml files there",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


ModelRows = Callable[[Settings], list[Check]]


def _backend(settings: Settings) -> Check:
    how = "configured" if settings.config.backend != "auto" else f"auto: {sys.platform}"
    return Check("backend", "ok", f"{settings.backend} ({how})")


def _config(settings: Settings) -> Check:
    path = settings.paths.config_file
    if not path.exists():
        return Check("config file", "info", f"{path} does not exist; defaults in use")
    try:
        load_config(path)
    except ConfigError as exc:
        return Check("config file", "fail", str(exc), f"edit {path}")
    return Check("config file", "ok", f"{path} is valid")


def _unread_at_home(settings: Settings) -> list[Check]:
    """Settings put at TINYAGENT_HOME's top, where they look right and are never read (they belong in config/)."""
    root, where = settings.paths.home, settings.paths.config_dir
    if root is None:
        return []
    names = (settings.paths.config_file.name, user_models_file(settings).name, settings.paths.user_packs_dir.name)
    return [Check(f"{name} at TINYAGENT_HOME", "warn", f"{root / name} is not read: settings live in {where}",
                  f"move it there: mv {root / name} {where}/") for name in names if (root / name).exists()]


def _tools(settings: Settings, catalog: Catalog | None) -> Check:
    try:
        if catalog is None:
            from ..tools.spec import load_catalog

            catalog = load_catalog(settings)
    except ConfigError as exc:
        return Check("toolpacks", "fail", str(exc), "fix or remove the pack named")
    return Check("toolpacks", "ok", f"{len(catalog.tools)} tools on the {catalog.backend} backend "
                                    f"from {', '.join(p.name for p in catalog.packs) or 'no pack'}")


def _pack_dir(catalog: Catalog | None) -> Path:
    from ..tools.spec import shipped_packs_dir

    for pack in catalog.packs if catalog is not None else ():
        if pack.name == "tinyagent":
            return pack.dir
    return shipped_packs_dir() / "tinyagent"


def _macos(settings: Settings, catalog: Catalog | None) -> list[Check]:
    from ..tools.context import ToolContext
    from ..tools.osascript import NoAnswer, NotAuthorised, macos_program, run_script

    try:
        where = macos_program("osascript")
    except ToolError as exc:
        return [Check("osascript", "fail", str(exc), "run with --backend portable, or set backend: portable in config")]
    checks = [Check("osascript", "ok", where),
              Check("first use", "info", "the first request to each app makes macOS ask whether your terminal may "
                                        "control it, and waits for your answer; a first Contacts or Reminders "
                                        f"query can take 40 s. Each app gets {settings.config.osascript_timeout:g} s "
                                        "(osascript_timeout in config)")]
    ctx = ToolContext(settings, _pack_dir(catalog))
    for app in PROBED_APPS:
        try:
            run_script(ctx, "doctor_probe", [app], app=app)
        except NotAuthorised:
            checks.append(Check(app, "fail", "automation not allowed (-1743)",
                                f"System Settings > Privacy & Security > Automation: allow your terminal to "
                                f"control {app}; or `tccutil reset AppleEvents` and run doctor again to be asked"))
        except NoAnswer as exc:
            checks.append(Check(app, "warn", str(exc), "answer the permission dialog (it may be behind other "
                                                       "windows), then run doctor again"))
        except ToolError as exc:
            checks.append(Check(app, "warn", str(exc), f"open {app} once, then run doctor again"))
        else:
            checks.append(Check(app, "ok", "automation allowed"))
    for program, use in (("mdfind", "finding files (Spotlight)"), ("open", "Maps, Messages and opening files")):
        found = shutil.which(program)
        checks.append(Check(program, "ok", f"{found}: {use}") if found else
                      Check(program, "fail", f"not found; needed for {use}", "the macos backend needs macOS"))
    checks.append(Check("Messages", "info", "compositions open through sms: URLs; no permission needed"))
    return checks


def _folder(settings: Settings, key: str) -> Check:
    from ..tools.portable import STORES, data_folder, store

    path = data_folder(settings, key)
    name = f"portable.{key}"
    found = store(settings, STORES[key]) if key in STORES else None
    if found is not None and found.source is not None and found.source != settings.paths.config_file:
        program = found.source.parent.name  # ~/.config/khal/config: khal
        default = f", default {found.default!r}" if found.default else ""
        path_from = f"{path} (as {program} has it in {found.source}{default})"
    else:
        path_from = str(path)
    if path.is_dir():
        if os.access(path, os.W_OK | os.X_OK):
            return Check(name, "ok", f"{path_from} (writable)")
        return Check(name, "fail", f"{path} is not writable", f"chmod u+w {path}")
    if path.exists():
        return Check(name, "fail", f"{path} is not a folder", f"move it away or set {name} in config")
    if key in _INPUT_FOLDERS and not (key == "inbox_dir" and settings.config.imap.host):
        return Check(name, "warn", f"{path} does not exist", _INPUT_FOLDERS[key])
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not os.access(parent, os.W_OK):
        return Check(name, "fail", f"{path} cannot be created ({parent} is not writable)", f"set {name} in config")
    return Check(name, "info", f"{path_from} does not exist yet; made on first use")


def _portable(settings: Settings) -> list[Check]:
    folders = [f.name for f in fields(PortableConfig) if f.name.endswith("_dir")]
    checks = [_folder(settings, key) for key in folders]
    roots = settings.config.portable.file_roots
    missing = [r for r in roots if not Path(r).expanduser().is_dir()]
    checks.append(Check("portable.file_roots", "warn" if missing else "ok",
                        f"missing: {', '.join(missing)}" if missing else ", ".join(roots),
                        "set portable.file_roots in config" if missing else ""))
    checks.append(_texting())
    checks += _servers(settings)
    checks += _what_tools_do(settings)
    return checks


def _servers(settings: Settings) -> list[Check]:
    """One request to each configured server, through the tools' own client."""
    from ..tools import caldav, imap
    from ..tools.vdir import config_home

    config = settings.config
    servers = [("caldav", lambda: caldav.connect(config.caldav))] if config.caldav.url else []
    servers += [("imap", lambda: imap.connect(config.imap))] if config.imap.host else []
    checks = []
    for name, connect in servers:
        try:
            with connect() as client:
                checks.append(Check(name, "ok", client.check()))
        except ToolError as exc:
            checks.append(Check(name, "fail", str(exc), f"fix {name}: in {settings.paths.config_file}"))

    vdirsyncer = config_home() / "vdirsyncer" / "config"
    if vdirsyncer.is_file():
        from ..tools.portable import data_folder

        synced = _vdirsyncer_paths(vdirsyncer)
        ours = data_folder(settings, "calendars_dir").resolve()
        if any(ours == p or ours in p.parents or p in ours.parents for p in synced):
            checks.append(Check("vdirsyncer", "ok", f"{vdirsyncer} syncs {ours} to the server"))
        else:
            offered = ", ".join(str(p) for p in synced) or "no filesystem storage"
            checks.append(Check("vdirsyncer", "info", f"{vdirsyncer} syncs {offered}, not {ours}",
                                "set portable.calendars_dir (and reminders_dir) to one of them" if synced else ""))
    return checks


def _vdirsyncer_paths(config: Path) -> list[Path]:
    """The folders of vdirsyncer's filesystem storages (its config is INI with JSON values)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(config, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return []
    paths = []
    for section in parser.sections():
        if section.startswith("storage ") and parser[section].get("type", "").strip('"') == "filesystem":
            raw = parser[section].get("path", "").strip().strip('"')
            if raw:
                paths.append(Path(raw).expanduser().resolve())
    return paths


def _what_tools_do(settings: Settings) -> list[Check]:
    """Where each kind of tool puts what it makes, on this machine, in one line each."""
    from ..tools.portable import data_folder

    config = settings.config
    rows = []
    if config.caldav.url:
        rows.append(("events and reminders", f"go to the CalDAV server {config.caldav.url}"))
    else:
        rows.append(("events", f"one .ics file each in a calendar under {data_folder(settings, 'calendars_dir')}"))
        rows.append(("reminders", f"one .ics file (VTODO) each in a list under {data_folder(settings, 'reminders_dir')}"))
    drafts = data_folder(settings, "drafts_dir")
    if config.imap.host:
        rows.append(("drafts", f"go to the Drafts folder of {config.imap.username or 'the account'} on {config.imap.host}"))
        rows.append(("replies and forwards", f"act on the newest message in {config.imap.inbox} there"))
    else:
        mailer = _mail_program()
        opened = f"and open in {mailer}" if mailer else "(no mail program is set up to open them)"
        rows.append(("drafts", f".eml files in {drafts} {opened}"))
        rows.append(("replies and forwards", f"act on the newest .eml in {data_folder(settings, 'inbox_dir')}"))
    transit = "; transit directions from Google (OpenStreetMap has none)" if config.maps.provider != "google" else ""
    rows.append(("maps", f"{config.maps.provider} links{transit}"))
    locate = Path(config.portable.locate_db).expanduser()
    searcher = ("plocate" if shutil.which("plocate") and locate.is_file()
                else "fd" if shutil.which("fd") or shutil.which("fdfind") else "a walk of the folders")
    rows.append(("file search", f"{searcher}, in {', '.join(config.portable.file_roots)}"))
    return [Check(f"-> {what}", "info", detail) for what, detail in rows]


def _mail_program() -> str:
    """The mail program xdg-email would open ("" when there is none to find)."""
    if os.environ.get("MAILER"):
        return os.environ["MAILER"]
    if not shutil.which("xdg-email") or not shutil.which("xdg-mime"):
        return ""
    import subprocess

    try:
        done = subprocess.run(["xdg-mime", "query", "default", "x-scheme-handler/mailto"], capture_output=True,
                              text=True, timeout=5, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().removesuffix(".desktop")


def _texting() -> Check:
    from ..tools.portable import texting

    found = texting()
    if found.device:
        return Check("texting", "ok", f"send_sms through KDE Connect device {found.device} ({found.program})")
    return Check("texting", "warn", f"no send_sms: {found.problem}", found.fix)


def _models(settings: Settings) -> list[Check]:
    """The configured planner and speech models: installed, packaged, or missing."""
    from .models import list_rows

    try:
        rows = {row["name"]: row for row in list_rows(settings)}
    except TinyAgentError as exc:
        return [Check("models", "fail", str(exc), "fix the model registry named")]
    checks = []
    for role, name in (("planner model", settings.config.model), ("speech model", settings.config.speech_model)):
        row = rows.get(name)
        if row is None:
            checks.append(Check(role, "fail", f"{name!r} is not in the model registry", "tinyagent models list"))
        elif row["status"] == "missing":
            checks.append(Check(role, "fail", f"{name} is not installed", row["where"]))
        else:
            checks.append(Check(role, "ok", f"{name}: {row['status']} ({row['where']})"))
    return checks


def _plugins() -> list[Check]:
    """One row per installed plugin: what it adds, or why it was set aside."""
    from .. import plugins

    checks = []
    for plugin in plugins.plugins():
        if plugin.builtin:
            continue
        where = f"{plugin.dist} {plugin.version}"
        if plugin.error:
            checks.append(Check(f"plugin {plugin.name}", "warn", f"set aside ({where}): {plugin.error}",
                                f"fix or uninstall {plugin.dist}; TINYAGENT_PLUGINS= runs without plugins"))
        else:
            hooks = ", ".join(hook.removeprefix("register_") for hook in plugin.hooks) or "nothing"
            checks.append(Check(f"plugin {plugin.name}", "ok", f"{where}: adds {hooks}"))
    return checks


def _zoom(settings: Settings) -> Check:
    from ..tools.zoom import credentials

    try:
        credentials(settings)
    except ToolError as exc:
        return Check("zoom", "warn", "not set up: get_zoom_meeting_link will fail", str(exc).split(": ", 1)[-1])
    return Check("zoom", "ok", "credentials present (not tried against Zoom)")


def run_checks(settings: Settings, catalog: Catalog | None = None, model_rows: ModelRows | None = None) -> list[Check]:
    checks = [_backend(settings), _config(settings), *_unread_at_home(settings), _tools(settings, catalog)]
    checks += _macos(settings, catalog) if settings.backend == "macos" else _portable(settings)
    checks += (model_rows or _models)(settings)
    checks += _plugins()
    checks.append(_zoom(settings))
    return checks


_MARKS = {"ok": "[green]ok[/]", "info": "[cyan]info[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def doctor_command(
    settings: Settings, catalog: Catalog | None, console: Console, as_json: bool, model_rows: ModelRows | None = None
) -> int:
    """Print the checks (a listing, or JSON); the exit code is 1 when any check failed."""
    checks = run_checks(settings, catalog, model_rows)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        data = {"ok": not failed, "backend": settings.backend, "checks": [asdict(c) for c in checks]}
        console.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return EXIT_TASK_FAILED if failed else EXIT_OK
    from rich.markup import escape

    from ..ui.listing import Column, print_listing

    columns = [Column("check"), Column("status"), Column("detail", long=True), Column("how to fix", long=True)]
    print_listing(console, columns, [[escape(c.name), _MARKS[c.status], escape(c.detail), escape(c.fix)]
                                     for c in checks])
    if console.is_terminal:  # through a pipe, the rows only (the exit code says the rest)
        console.print("[red]Some checks failed.[/]" if failed else "[green]No check failed.[/]")
    return EXIT_TASK_FAILED if failed else EXIT_OK
