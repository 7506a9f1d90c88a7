"""A planner's prompt and what a replan tells it: the shapes every planner style shares.

Each style writes its own prompt (``planners/``); a ``Prompt`` says where its byte-stable
prefix ends, whose KV cache is reused across queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .tasks import Plan, TaskResult


@dataclass(frozen=True)
class Prompt:
    text: str
    prefix: str  # the byte-stable start of ``text``; its KV cache is reused
    style: str


@dataclass(frozen=True)
class Failure:
    """What went wrong with the last plan, for the replan's prompt: in words, and as the
    calls that were tried with what each returned (TinyAgent's "Previous Plan")."""

    summary: str
    written: str = ""  # the plan text the model wrote, when it could not be used
    error: str = ""  # why it could not be used
    observations: tuple[tuple[str, str], ...] = ()  # ("N. tool(...)", its output or error; "" if not run)

    @classmethod
    def invalid(cls, written: str, error: Exception) -> Failure:
        return cls(f"the plan was invalid ({error}). The model wrote:\n{written.strip()}", written.strip(), str(error))

    @classmethod
    def tasks(cls, plan: Plan, results: Mapping[int, TaskResult], failures: Sequence[str]) -> Failure:
        def observed(result: TaskResult | None) -> str:
            if result is None or result.status not in ("done", "failed"):
                return ""
            return (result.output if result.status == "done" else result.error) or result.status

        return cls("; ".join(failures), observations=tuple(
            (f"{task.id}. {task.call_text()}", observed(results.get(task.id))) for task in plan.tasks))
