"""The plan as a rich Tree: each task under what it waits for, with live status.

A task is drawn under the last task it depends on and names any other dependency, so
chains read top to bottom and independent work sits side by side at the root.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..plan.tasks import REFERENCE, Status, Task, TaskResult
from ..tools.spec import Catalog, ToolSpec

_STYLE: dict[str, tuple[str, str]] = {
    "pending": ("·", "dim"),
    "running": ("◐", "yellow"),
    "done": ("✓", "green"),
    "failed": ("✗", "red"),
    "skipped": ("−", "dim"),
    "declined": ("−", "dim"),
    "unknown": ("?", "yellow"),
}
_ARG_LIMIT = 60


_TARGET_LIMIT = 160  # the message a reply answers: who and what, in full where it fits


def _value(value: str, limit: int = _ARG_LIMIT) -> str:
    """A result, an error or what a task acts on, on one line, quoted, cut at ``limit``."""
    text = value.replace("\n", "⏎")
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def _argument(value: Any) -> Text:
    """An argument as it will be sent: "$$" is a dollar sign, drawn as one; "$N" (task N's
    result) is drawn in a colour of its own, so an amount never reads as a reference."""
    if isinstance(value, (list, tuple)):
        text = Text("[")
        for index, item in enumerate(value):
            text.append(", " if index else "")
            text.append_text(_argument(item))
        return text.append("]")
    if not isinstance(value, str):
        return Text(repr(value))
    shown, start = Text(), 0
    for match in REFERENCE.finditer(value):
        shown.append(value[start : match.start()])
        shown.append("$" if match[0] == "$$" else match[0], style=None if match[0] == "$$" else "bold cyan")
        start = match.end()
    shown.append(value[start:])
    shown = Text("⏎").join(shown.split("\n", allow_blank=True))
    if len(shown) > _ARG_LIMIT:
        shown = shown[: _ARG_LIMIT - 1].append("…")
    return Text('"').append_text(shown).append('"')


class PlanView:
    """What the tree shows; the executor's callbacks and the stream parser update it."""

    def __init__(self, catalog: Catalog, title: str = "Plan") -> None:
        self.catalog = catalog
        self.title = title
        self.tasks: dict[int, Task] = {}
        self.status: dict[int, Status] = {}
        self.results: dict[int, TaskResult] = {}
        self.seconds: dict[int, float] = {}
        self.targets: dict[int, str] = {}  # what a task acts on that its arguments do not say

    def add(self, task: Task) -> None:
        self.tasks[task.id] = task
        self.status.setdefault(task.id, "pending")

    def update(self, task_id: int, status: Status, result: TaskResult | None = None, seconds: float = 0.0) -> None:
        self.status[task_id] = status
        if result is not None:
            self.results[task_id] = result
        self.seconds[task_id] = seconds

    def _label(self, task: Task) -> Text:
        status = self.status.get(task.id, "pending")
        mark, style = _STYLE[status]
        spec = self.catalog.get(task.tool)
        text = Text()
        text.append(f"{mark} ", style=style)
        text.append(f"{task.id}. ", style="bold")
        text.append(task.tool, style="bold cyan")
        names = [p.name for p in spec.params] if spec else [str(i) for i in range(len(task.args))]
        text.append("(")
        shown = [(n, v) for n, v in zip(names, task.args) if v not in ("", [], None)]
        for index, (name, value) in enumerate(shown):
            text.append(f"{', ' if index else ''}{name}=")
            text.append_text(_argument(value))
        text.append(")")
        if spec is not None and spec.side_effects:
            text.append("  changes things", style="magenta")
        if len(task.deps) > 1:
            text.append(f"  waits for {', '.join(f'${d}' for d in task.deps)}", style="dim")
        if status not in ("pending",):
            text.append(f"  {status}", style=style)
        if task.id in self.seconds and status != "pending":
            text.append(f" {self.seconds[task.id]:.1f}s", style="dim")
        if task.id in self.targets:
            text.append(f"\n   acts on {_value(self.targets[task.id], _TARGET_LIMIT)[1:-1]}", style="yellow")
        result = self.results.get(task.id)
        if result is not None and (result.output or result.error):
            detail = result.output if result.status == "done" else result.error
            text.append(f"\n   → {_value(detail or '')[1:-1]}", style="green" if result.status == "done" else "red")
        return text

    def __rich__(self) -> RenderableType:
        tree = Tree(Text(self.title, style="bold"))
        nodes: dict[int, Tree] = {}
        for task in self.tasks.values():
            parent = nodes.get(task.deps[-1]) if task.deps else None
            nodes[task.id] = (parent or tree).add(self._label(task))
        if not self.tasks:
            tree.add(Text("(planning…)", style="dim"))
        return Group(tree)


def tools_table(catalog: Catalog) -> Table:
    """The tools the planner may use on the catalog's backend (``tools list``, ``/tools``)."""
    table = Table(title=f"Tools ({catalog.backend} backend)", title_justify="left")
    table.add_column("tool", style="bold cyan")
    table.add_column("signature")
    table.add_column("changes things")
    table.add_column("pack", style="dim")
    for spec in catalog.tools.values():
        args = ", ".join(f"{p.name}: {p.type}" for p in spec.params)
        table.add_row(spec.name, escape(f"({args})"), "yes" if spec.side_effects else "", spec.pack)
    return table


def tool_detail(spec: ToolSpec) -> RenderableType:
    """One tool in full: signature, description, parameters, backends, usual predecessors."""
    lines = [
        f"[bold cyan]{escape(spec.signature())}[/]  [dim]({spec.pack} pack)[/dim]",
        escape(spec.description),
        *(f"  [bold]{p.name}[/bold]: {escape(p.type + (f' — {p.description}' if p.description else ''))}"
          for p in spec.params),
        f"changes things: {'yes' if spec.side_effects else 'no'}; backends: {', '.join(spec.backends)}",
    ]
    if spec.after:
        lines.append(f"usually after: {', '.join(spec.after)}")
    return Group(*(Text.from_markup(line) for line in lines))
