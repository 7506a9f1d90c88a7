"""A planner trained on plans here (``tinyagent train``): the offered tools and the request.

It needs no guidelines and no examples, and every token is prompt-reading time on a CPU. No
clock either: plans keep dates as the person said them, resolved by the tool layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..plan.grammar import GrammarPolicy
from ..plan.prompt import Failure, Prompt
from ..plan.tasks import escape_dollars
from ..tools.spec import ToolSpec
from . import PlannerStyle
from .fewshot import example_block, tool_lines

if TYPE_CHECKING:
    from ..llm.chat_template import ChatTemplate

TRAINED_PREFIX = "Tools:\n"


def trained_prompt(query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]], *,
                   now: datetime, instructions: Sequence[str] = (), failure: Failure | None = None,
                   template: ChatTemplate | None = None) -> Prompt:
    parts = [TRAINED_PREFIX, tool_lines(tools, described=False)]
    if instructions:
        parts.append("Standing instructions:\n")
        parts.extend(f"- {escape_dollars(line)}\n" for line in instructions)
    parts.extend(example_block(q, p) for q, p in reversed(examples))
    if failure:
        parts.append(f"A previous plan for this request failed: {failure.summary}\n")
    parts.append(f"Request: {escape_dollars(query.strip())}\n")
    return Prompt("".join(parts), TRAINED_PREFIX, "trained")


STYLES = (
    # It writes better arguments than copying allows, but a name it looks up is one the
    # request said and it dates nothing undated (README, "A planner trained for the job");
    # sure tools, and with them the repeat guard, measurably help it.
    PlannerStyle("trained", trained_prompt, GrammarPolicy(sure_tools=True, copies=False, lookups_copy=True),
                 examples=0),
)
