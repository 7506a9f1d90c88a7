"""The data a plan is made of, shared by the parser, executor, renderer and CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

# `$N` or `${N}` inside a string argument refers to task N's result; `$$` is a "$" itself
# ("I owe you $$20"), as in Python's string.Template. Matched left to right, so "$$1" is "$1".
REFERENCE = re.compile(r"\$\$|\$\{(\d+)\}|\$(\d+)")

# "unknown": a task that changes things started and its end was not seen (a timeout, Ctrl-C):
# it may have happened, so nothing retries or replans it.
Status = Literal["pending", "running", "done", "failed", "skipped", "declined", "unknown"]


def references(value: Any) -> set[int]:
    """Task ids referred to by ``$N`` inside a string, or inside the strings of a list."""
    if isinstance(value, str):
        return {int(a or b) for a, b in REFERENCE.findall(value) if a or b}
    if isinstance(value, (list, tuple)):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def escape_dollars(text: str) -> str:
    """``text`` as a plan string writes it: every "$" doubled, so none reads as a reference.
    Prompts show the request this way, and a planner copies an amount ("$$20") as it is."""
    return text.replace("$", "$$")


@dataclass(frozen=True)
class Task:
    """One numbered call of a plan. ``args`` are positional, already type-checked."""

    id: int
    tool: str
    args: tuple[Any, ...]
    deps: tuple[int, ...] = ()
    thought: str = ""
    line: int = field(default=0, compare=False)  # where it was in the plan text, for messages

    def call_text(self) -> str:
        """The call as plan text: ``tool("a", ["b"])``."""
        return f"{self.tool}({', '.join(_literal(a) for a in self.args)})"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "tool": self.tool, "args": list(self.args), "deps": list(self.deps)}
        if self.thought:
            data["thought"] = self.thought
        return data


def _literal(value: Any) -> str:
    """A Python literal that our parser reads back to the same value."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        import json

        return json.dumps(value, ensure_ascii=False)  # a valid Python string literal too
    return repr(value)


@dataclass(frozen=True)
class Plan:
    """An ordered list of tasks; ``join()`` is implicit and depends on all of them."""

    tasks: tuple[Task, ...]

    def to_text(self) -> str:
        lines: list[str] = []
        for task in self.tasks:
            if task.thought:
                lines.append(f"Thought: {task.thought}")
            lines.append(f"{task.id}. {task.call_text()}")
        # After the last id, not the count: a parsed plan may skip numbers ("2.", "3.").
        lines.append(f"{self.tasks[-1].id + 1 if self.tasks else 1}. join()")
        return "\n".join(lines) + "\n"

    @property
    def tools(self) -> list[str]:
        return [t.tool for t in self.tasks]

    def tools_by_id(self) -> dict[int, str]:
        """Each task's tool by the task's id (results name tasks by id)."""
        return {t.id: t.tool for t in self.tasks}


@dataclass(frozen=True)
class TaskResult:
    id: int
    status: Status
    output: str | None = None
    error: str | None = None
    seconds: float = 0.0
    args: tuple[Any, ...] = field(default=())  # the arguments it ran with, $N substituted

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }
