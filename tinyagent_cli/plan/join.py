"""LLMCompiler's join: the answer a person reads once the tasks have run.

The answer is deterministic, built from the results: what was done, what failed and
why, what may have happened, what was skipped. The replan loop reads ``failures``: a task
whose outcome is unknown is not one of them, as doing it again could do it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .tasks import Plan, TaskResult


@dataclass(frozen=True)
class Answer:
    text: str
    ok: bool  # every task done
    failures: tuple[str, ...]  # one line per failed task, for the replan prompt


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def join(plan: Plan, results: Mapping[int, TaskResult]) -> Answer:
    lines: list[str] = []
    failures: list[str] = []
    for task in plan.tasks:
        result = results.get(task.id)
        if result is None or result.status == "pending":
            lines.append(f"· {task.tool}: not run")
            continue
        if result.status == "done":
            output = _short(result.output or "")
            lines.append(f"✓ {task.tool}: {output}" if output else f"✓ {task.tool}")
        elif result.status == "failed":
            reason = _short(result.error or "failed")
            lines.append(f"✗ {task.tool} failed: {reason}")
            failures.append(f"{task.id}. {task.call_text()} failed: {reason}")
        elif result.status == "unknown":
            lines.append(f"? {task.tool} may have happened: {_short(result.error or 'its end was not seen')}")
        elif result.status == "declined":
            lines.append(f"· {task.tool}: not run (not confirmed)")
        else:
            lines.append(f"· {task.tool}: {result.error or 'skipped'}")
    ok = all(results.get(t.id) is not None and results[t.id].status == "done" for t in plan.tasks)
    return Answer("\n".join(lines), ok, tuple(failures))

