"""`tinyagent history` and `tinyagent history show ID`: what earlier runs asked and did."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import EXIT_DECLINED, EXIT_INTERRUPTED, EXIT_NO_PLAN, EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE
from ..history import HistoryLog, RunRecord
from ..settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

_STATUS = {
    EXIT_OK: "ok",
    EXIT_TASK_FAILED: "failed",
    EXIT_USAGE: "error",
    EXIT_NO_PLAN: "no plan",
    EXIT_DECLINED: "declined",
    EXIT_INTERRUPTED: "interrupted",
}


def _status(record: RunRecord) -> str:
    label = _STATUS.get(record.exit_code, "error")
    return "dry run" if record.confirmation == "dry-run" and record.exit_code == EXIT_OK else label


def _when(started_at: str) -> str:
    """The UTC timestamp in local time, to the minute."""
    try:
        return datetime.fromisoformat(started_at).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return started_at


def _seconds(record: RunRecord) -> str:
    total = record.total_seconds
    return "-" if total is None else f"{total:.1f}"


def _print_json(console: Console, data: Any) -> None:
    console.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)


def list_command(settings: Settings, console: Console, as_json: bool = False, limit: int = 20) -> None:
    """The latest runs, newest first."""
    records = HistoryLog.for_settings(settings).list(limit)
    if as_json:
        _print_json(console, [r.to_json() for r in records])
        return
    if not records:
        note = "" if settings.config.log_history else " (log_history is off in the config)"
        console.print(f"No runs logged yet{note}.", markup=False)
        return
    from rich.text import Text

    from ..ui.listing import Column, print_listing

    rows = []
    for r in records:
        status = _status(r)
        style = "green" if status in ("ok", "dry run") else "red"
        query = Text()
        if r.transcript is not None:
            query.append("(voice) ", style="dim")
        query.append(" ".join(r.query.split()))  # one line; Text, not markup: a query may contain [brackets]
        tools = Text(", ".join(r.tools) or "-")
        if r.edited:
            tools.append(" (edited)", style="yellow")
        rows.append([str(r.id), _when(r.started_at), query, tools, f"[{style}]{status}[/] ({r.exit_code})", _seconds(r)])
    columns = [Column("id", right=True, style="bold"), Column("when"), Column("query", long=True),
               Column("tools", long=True, style="cyan"), Column("status"), Column("s", right=True)]
    print_listing(console, columns, rows)


def show_command(settings: Settings, console: Console, run_id: int, as_json: bool = False) -> None:
    """One run in full: query, transcript, plan, each task's result, answer and timings."""
    record = HistoryLog.for_settings(settings).get(run_id)
    if as_json:
        _print_json(console, record.to_json())
        return
    from rich.markup import escape

    def field(name: str, value: str) -> None:
        console.print(f"[bold]{name}:[/] {escape(value)}", highlight=False)

    field("run", f"{record.id}  {_when(record.started_at)}  ({record.started_at})")
    field("query", record.query)
    if record.transcript is not None and record.transcript != record.query:
        field("heard", record.transcript)
    field("model", f"{record.model}  backend: {record.backend}")
    field("confirmation", record.confirmation)
    field("status", f"{_status(record)} (exit {record.exit_code})")
    console.print("[bold]plan (edited before it ran):[/]" if record.edited else "[bold]plan:[/]")
    console.print(record.plan.rstrip() or "(none)", markup=False, highlight=False)
    if record.results:
        console.print("[bold]results:[/]")
        for result in record.results:
            ok = result.get("status") == "done"
            text = result.get("output") if ok else result.get("error")
            seconds = result.get("seconds")
            took = f" {seconds:.2f}s" if isinstance(seconds, (int, float)) else ""
            console.print(
                f"  {result.get('id', '?')}. [cyan]{escape(str(result.get('tool', '')))}[/] "
                f"[{'green' if ok else 'red'}]{escape(str(result.get('status', '?')))}[/]{took}: "
                f"{escape(str(text if text is not None else ''))}",
                highlight=False,
            )
    field("answer", record.answer or "-")
    if record.timings:
        field("timings", ", ".join(f"{k} {v:.2f}s" if k.endswith("_s") else f"{k} {v:g}"  # prompt_tokens is a count
                                   for k, v in record.timings.items()))
