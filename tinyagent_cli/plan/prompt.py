"""The planner's prompt, LLMCompiler style, laid out so its start never changes.

A small model plans well from a few solved examples and little else, and every token
of prompt costs time on a CPU. So the prompt is: fixed guidelines (a byte-stable
prefix whose KV cache is reused across queries), the selected tools' signatures (with
their descriptions for models that read instructions), the person's standing
instructions, the current time, the retrieved examples (most similar last, nearest the
question), and the question. A replan adds what went wrong. A planner fine-tuned on a
prompt of its own gets that one instead (``tinyagent``: plan/tinyagent.py), wrapped in its
chat template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..tools.spec import ToolSpec
from .tasks import Plan, TaskResult

if TYPE_CHECKING:
    from ..llm.chat_template import ChatTemplate

GUIDELINES = """\
Write a plan of tool calls that does what the request asks. One call per numbered line,
with the arguments as Python literals in the order of the tool's signature. "$N" stands
for the result of call N and may be used only after call N. Calls that do not need each
other's results are independent and run in parallel. Look up a named person's email
address or phone number before writing to them. Use "" or [] for anything the request
does not say, and keep dates and times as the person said them. End with join().
"""


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


def _tool_lines(tools: Sequence[ToolSpec], style: str) -> str:
    # A base model plans from the examples; the descriptions only cost it time (Gemma 270M
    # on the dev set: 47/91 plans right with signatures alone, fewer with descriptions).
    if style == "completion":
        return "".join(f"{t.signature()}\n" for t in tools)
    return "".join(f"{t.signature()}  # {t.description}\n" for t in tools)


def _example_block(query: str, plan: str) -> str:
    return f"Request: {query}\n{plan.strip()}\n\n"


def build_prompt(
    query: str,
    tools: Sequence[ToolSpec],
    examples: Sequence[tuple[str, str]],
    *,
    now: datetime,
    instructions: Sequence[str] = (),
    style: str = "completion",
    failure: Failure | None = None,
    template: ChatTemplate | None = None,
) -> Prompt:
    """The prompt for one query; ``examples`` are (query, plan) pairs, most similar first.
    ``template`` wraps the ``chat`` and ``tinyagent`` styles (the others are completions)."""
    if style == "tinyagent":
        from .tinyagent import tinyagent_prompt

        return tinyagent_prompt(query, tools, examples, now=now, instructions=instructions, failure=failure,
                                template=template)
    if style == "trained":
        return _trained_prompt(query, tools, examples, instructions, failure)
    # The prefix must end where the tokenizer cuts the whole prompt too: ended before
    # "\nTools:", its last "\n" merged with the next into one token, and no prompt's
    # tokens began with the cached prefix's.
    prefix = GUIDELINES + "\nTools:\n"
    parts = [prefix, _tool_lines(tools, style)]
    if instructions:
        parts.append("\nThe person's standing instructions:\n")
        parts.extend(f"- {line}\n" for line in instructions)
    # The time comes before the examples: next to the request, the model copied it into dates.
    # To the hour: plans do not need minutes, and a prompt that changes every minute made
    # the same request plan differently a minute later.
    parts.append(f"\nNow: {now.strftime('%A %d %B %Y, around %H:00')}\n\n")
    parts.extend(_example_block(q, p) for q, p in reversed(examples))
    if failure:
        parts.append(f"A previous plan for this request failed: {failure.summary}\nWrite a corrected plan.\n")
    parts.append(f"Request: {query.strip()}\n")
    if style == "chat" and template is not None:  # the whole prompt is the request turn
        return Prompt(*template.wrap("", "".join(parts), prefix), style)
    return Prompt("".join(parts), prefix, style)


TRAINED_PREFIX = "Tools:\n"


def _trained_prompt(query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]],
                    instructions: Sequence[str], failure: Failure | None) -> Prompt:
    """A planner trained on plans (``tinyagent train``) needs no guidelines: the offered
    tools' signatures and the request. Every token is prompt-reading time on a CPU. No
    clock either: plans keep dates as the person said them, resolved by the tool layer."""
    parts = [TRAINED_PREFIX, _tool_lines(tools, "completion")]
    if instructions:
        parts.append("Standing instructions:\n")
        parts.extend(f"- {line}\n" for line in instructions)
    parts.extend(_example_block(q, p) for q, p in reversed(examples))
    if failure:
        parts.append(f"A previous plan for this request failed: {failure.summary}\n")
    parts.append(f"Request: {query.strip()}\n")
    return Prompt("".join(parts), TRAINED_PREFIX, "trained")
