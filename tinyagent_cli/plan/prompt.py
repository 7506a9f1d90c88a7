"""The planner's prompt, LLMCompiler style, laid out so its start never changes.

A small model plans well from a few solved examples and little else, and every token
of prompt costs time on a CPU. So the prompt is: fixed guidelines (a byte-stable
prefix whose KV cache is reused across queries), the selected tools' signatures (with
their descriptions for models that read instructions), the person's standing
instructions, the current time, the retrieved examples (most similar last, nearest the
question), and the question. A replan adds what went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..tools.spec import ToolSpec

GUIDELINES = """\
Write a plan of tool calls that does what the request asks. One call per numbered line,
with the arguments as Python literals in the order of the tool's signature. "$N" stands
for the result of call N and may be used only after call N. Calls that do not need each
other's results are independent and run in parallel. Look up a named person's email
address or phone number before writing to them. Use "" or [] for anything the request
does not say, and keep dates and times as the person said them. End with join().
"""

TINYAGENT_GUIDELINES = """\
Given a user query, create a plan to solve it with the utmost parallelizability. Each
action in the plan is a call to one of the tools below, written as a numbered line with
positional arguments; "$N" is the output of action N and may only refer to an earlier
action. Always end the plan with join() followed by <END_OF_PLAN>.
"""


@dataclass(frozen=True)
class Prompt:
    text: str
    prefix: str  # the byte-stable start of ``text``; its KV cache is reused
    style: str


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
    failure: str | None = None,
) -> Prompt:
    """The prompt for one query; ``examples`` are (query, plan) pairs, most similar first."""
    if style == "trained":
        return _trained_prompt(query, tools, examples, instructions, failure)
    # The prefix must end where the tokenizer cuts the whole prompt too: ended before
    # "\nTools:", its last "\n" merged with the next into one token, and no prompt's
    # tokens began with the cached prefix's.
    prefix = (TINYAGENT_GUIDELINES if style == "tinyagent" else GUIDELINES) + "\nTools:\n"
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
        parts.append(f"A previous plan for this request failed: {failure}\nWrite a corrected plan.\n")
    parts.append(f"Request: {query.strip()}\n")
    return Prompt("".join(parts), prefix, style)


TRAINED_PREFIX = "Tools:\n"


def _trained_prompt(query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]],
                    instructions: Sequence[str], failure: str | None) -> Prompt:
    """A planner trained on plans (``tinyagent train``) needs no guidelines: the offered
    tools' signatures and the request. Every token is prompt-reading time on a CPU. No
    clock either: plans keep dates as the person said them, resolved by the tool layer."""
    parts = [TRAINED_PREFIX, _tool_lines(tools, "completion")]
    if instructions:
        parts.append("Standing instructions:\n")
        parts.extend(f"- {line}\n" for line in instructions)
    parts.extend(_example_block(q, p) for q, p in reversed(examples))
    if failure:
        parts.append(f"A previous plan for this request failed: {failure}\n")
    parts.append(f"Request: {query.strip()}\n")
    return Prompt("".join(parts), TRAINED_PREFIX, "trained")
