"""Few-shot planners: a base model (``completion``) or an instruction-tuned one (``chat``)
plans from solved examples, LLMCompiler style, in a prompt whose start never changes.

A small model plans well from a few solved examples and little else, and every token of
prompt costs time on a CPU. So the prompt is: fixed guidelines (a byte-stable prefix whose
KV cache is reused across queries), the selected tools' signatures (with their descriptions
for models that read instructions), the person's standing instructions, the current time,
the retrieved examples (most similar last, nearest the question), and the question. A
replan adds what went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from ..plan.grammar import GrammarPolicy
from ..plan.prompt import Failure, Prompt
from ..plan.tasks import escape_dollars
from ..tools.spec import ToolSpec
from . import PlannerStyle

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


def tool_lines(tools: Sequence[ToolSpec], *, described: bool) -> str:
    """The tools' signatures, one per line; ``described``: with their descriptions."""
    if not described:
        return "".join(f"{t.signature()}\n" for t in tools)
    return "".join(f"{t.signature()}  # {t.description}\n" for t in tools)


def example_block(query: str, plan: str) -> str:
    return f"Request: {escape_dollars(query)}\n{plan.strip()}\n\n"


def _prompt(style: str, query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]], *,
            now: datetime, instructions: Sequence[str] = (), failure: Failure | None = None,
            template: ChatTemplate | None = None) -> Prompt:
    # The prefix must end where the tokenizer cuts the whole prompt too: ended before
    # "\nTools:", its last "\n" merged with the next into one token, and no prompt's
    # tokens began with the cached prefix's.
    prefix = GUIDELINES + "\nTools:\n"
    # A base model plans from the examples; the descriptions only cost it time (README, "Accuracy").
    parts = [prefix, tool_lines(tools, described=style == "chat")]
    if instructions:
        parts.append("\nThe person's standing instructions:\n")
        parts.extend(f"- {escape_dollars(line)}\n" for line in instructions)
    # The time comes before the examples: next to the request, the model copied it into dates.
    # To the hour: plans do not need minutes, and a prompt that changes every minute made
    # the same request plan differently a minute later.
    parts.append(f"\nNow: {now.strftime('%A %d %B %Y, around %H:00')}\n\n")
    parts.extend(example_block(q, p) for q, p in reversed(examples))
    if failure:
        parts.append(f"A previous plan for this request failed: {failure.summary}\nWrite a corrected plan.\n")
    parts.append(f"Request: {escape_dollars(query.strip())}\n")
    if style == "chat" and template is not None:  # the whole prompt is the request turn
        return Prompt(*template.wrap("", "".join(parts), prefix), style)
    return Prompt("".join(parts), prefix, style)


# A base model copies its examples: every grammar rule measured to help it (README, "Accuracy").
_POLICY = GrammarPolicy(sure_tools=True, copies=True)

STYLES = (
    PlannerStyle("completion", partial(_prompt, "completion"), _POLICY),
    PlannerStyle("chat", partial(_prompt, "chat"), _POLICY, template=True, chat=True),
)
