"""`tinyagent plugins`: the plugins found, where each comes from and the hooks it implements."""

from __future__ import annotations

import json
from typing import Any


def list_rows() -> list[dict[str, Any]]:
    from .. import plugins

    return [
        {
            "name": plugin.name,
            "distribution": plugin.dist,
            "version": plugin.version,
            "builtin": plugin.builtin,
            "hooks": list(plugin.hooks),
            "error": plugin.error or None,
        }
        for plugin in plugins.plugins()
    ]


def list_command(as_json: bool = False) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    rows = list_rows()
    if as_json:
        console.print(json.dumps(rows, indent=2, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return
    from rich.markup import escape

    from ..ui.listing import Column, print_listing

    def status(row: dict[str, Any]) -> str:
        if row["error"]:
            return "[red]failed[/]"
        return "built-in" if row["builtin"] else "[green]installed[/]"

    columns = [Column("name"), Column("distribution"), Column("version"), Column("status"),
               Column("hooks", long=True), Column("why", long=True)]
    print_listing(console, columns, [
        [escape(row["name"]), escape(row["distribution"]), escape(row["version"]), status(row),
         ", ".join(hook.removeprefix("register_") for hook in row["hooks"]), escape(row["error"] or "")]
        for row in rows
    ])
    if console.is_terminal and len(rows) == 1:
        console.print("[dim]no other plugins: a plugin is a package with entry points in the group "
                      "'tinyagent' (README, \"Plugins\")[/]")
