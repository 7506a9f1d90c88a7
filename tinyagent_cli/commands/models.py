"""`tinyagent models list|pull|path|rm`: what models there are and where their files live."""

from __future__ import annotations

import importlib.util
import json
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from ..llm.files import installed_path, pull, remove
from ..llm.registry import ModelSpec, Registry, load_registry
from ..settings import Settings

if TYPE_CHECKING:
    from rich.console import Console


def _status(spec: ModelSpec, path: Any) -> str:
    """installed | on_first_use (a packaged model not yet assembled) | missing | server."""
    if spec.source.kind == "base_url":
        return "server"
    if path is not None:
        return "installed"
    if spec.source.kind == "package" and importlib.util.find_spec(spec.source.module) is not None:
        return "on_first_use"
    return "missing"


def _where(spec: ModelSpec, path: Any, status: str) -> str:
    if status == "server":
        return spec.source.ref
    if path is not None:
        return str(path)
    if status == "on_first_use":
        return f"assembled from {spec.source.ref} on first use"
    if spec.source.kind == "package":
        return f"pip install {spec.source.ref}"
    if spec.source.kind == "hub":
        return f"tinyagent models pull {spec.name}"
    return f"{spec.source.ref} (missing)"


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.{0 if value >= 100 else 1}f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def list_rows(settings: Settings, registry: Registry | None = None) -> list[dict[str, Any]]:
    registry = registry or load_registry(settings)
    defaults = {settings.config.model, settings.config.speech_model}
    rows = []
    for spec in registry.models.values():
        path = installed_path(spec, settings)
        status = _status(spec, path)
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "backend": spec.backend,
                "default": spec.name in defaults,
                "status": status,
                "installed": status == "installed",
                "where": _where(spec, path, status) + (f" + adapter {spec.adapter.path}" if spec.adapter else ""),
                "base": spec.base or None,
                "size": spec.size,
                "prompt_style": spec.prompt_style or None,
                "description": spec.description,
            }
        )
    return rows


def list_command(settings: Settings, console: Console, as_json: bool = False) -> None:
    rows = list_rows(settings)
    if as_json:
        console.print(json.dumps(rows, indent=2), markup=False, highlight=False, soft_wrap=True)
        return
    from rich.markup import escape

    from ..ui.listing import Column, print_listing

    labels = {"installed": "[green]yes[/]", "on_first_use": "[cyan]packaged[/]", "missing": "[dim]no[/]", "server": "server"}
    columns = [Column(name) for name in ("name", "kind", "backend", "base", "installed", "size", "default")]
    print_listing(console, [*columns, Column("where", long=True)], [
        [escape(row["name"]), row["kind"], row["backend"], escape(row["base"] or ""), labels[row["status"]],
         _human(row["size"]), "[bold]yes[/]" if row["default"] else "", escape(row["where"])]
        for row in rows
    ])
    if console.is_terminal:
        console.print("[dim]default: the planner or speech model in use (model, speech_model in config); "
                      "packaged: ships with tinyagent, unpacked on first use[/]")


def pull_command(settings: Settings, name: str, console: Console) -> None:
    spec = load_registry(settings).get(name)
    path = pull(spec, settings, console)
    console.print(f"{spec.name}: {path}", markup=False, highlight=False)


def path_command(settings: Settings, name: str, console: Console) -> None:
    """Print the model's local path; not installed is a ModelError (exit 2) saying how to get it."""
    spec = load_registry(settings).get(name)
    path = installed_path(spec, settings)
    if path is None:
        status = _status(spec, None)
        if status == "server":
            raise ModelError(f"model {name!r} is served by {spec.source.ref}; it has no local path")
        raise ModelError(f"model {name!r} is not installed; run: tinyagent models pull {name}")
    console.print(str(path), markup=False, highlight=False, soft_wrap=True)


def rm_command(settings: Settings, name: str, console: Console) -> None:
    spec = load_registry(settings).get(name)
    if spec.base:
        raise ModelError(f"model {name!r} runs {spec.base}'s weights with its adapter; remove {spec.base} instead")
    removed = remove(spec, settings)
    if removed is None:
        console.print(f"{name} is not installed; nothing removed", markup=False, highlight=False)
    else:
        console.print(f"removed {removed}", markup=False, highlight=False)
