"""Planner styles: how each kind of planner model is asked for a plan, and held to it.

A style is one module here, registered in ``STYLES`` under the name a ``models.yaml`` entry
gives as ``prompt_style``: ``fewshot`` (``completion`` for base models, ``chat`` for
instruction-tuned ones), ``trained`` (a LoRA trained by ``tinyagent train``) and
``tinyagent`` (TinyAgent's fine-tuned planners, on the prompt they were trained on); a
plugin adds its own through ``register_planner_styles`` (``plugins/``). Each
says its prompt, its grammar policy, whether the repeat guard runs, how a task it wrote is
finished, how many examples it reads, whether a chat template wraps its prompt, and the stop
strings it needs. Nothing outside this package asks which style a model has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..plan.grammar import GrammarPolicy
from ..plan.prompt import Failure, Prompt
from ..plan.tasks import Task
from ..tools.spec import ToolSpec

if TYPE_CHECKING:
    from ..llm.chat_template import ChatTemplate


class PromptBuilder(Protocol):
    def __call__(self, query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]], *,
                 now: datetime, instructions: Sequence[str] = (), failure: Failure | None = None,
                 template: ChatTemplate | None = None) -> Prompt: ...


def _as_written(task: Task, tool: ToolSpec, request: str) -> Task:
    return task


@dataclass(frozen=True)
class PlannerStyle:
    name: str
    # The prompt for one query; ``examples`` are (query, plan) pairs, most similar first.
    prompt: PromptBuilder
    policy: GrammarPolicy
    # A plan line that repeats an earlier call is refused while a sure tool is missing
    # (``agent.RepeatGuard``); it only acts with the policy's sure tools.
    repeat_guard: bool = True
    # What becomes of each task the model wrote before it is shown (TinyAgent's planners
    # leave message bodies to a writer).
    finish: Callable[[Task, ToolSpec, str], Task] = _as_written
    examples: int | None = None  # solved examples in the prompt; None: the config's examples_k
    template: bool = False  # the prompt is wrapped in the model's chat template
    chat: bool = False  # a server gets it as a chat message, not a completion
    stop: tuple[str, ...] = ()  # where generation stops, besides the model's own stop strings


def _checked(style: object) -> PlannerStyle:
    if not isinstance(style, PlannerStyle):
        raise TypeError(f"a planner style must be a tinyagent_cli.planners.PlannerStyle, not {type(style).__name__}")
    return style


def styles() -> dict[str, PlannerStyle]:
    """Every planner style by name: the built-in ones, then plugins' (``register_planner_styles``)."""
    from .. import plugins

    return plugins.memo("planner_styles", lambda: {style.name: style for _, style in plugins.registrations(
        "register_planner_styles", _checked, key=lambda style: style.name)})


def names() -> tuple[str, ...]:
    return tuple(styles())


def get(name: str) -> PlannerStyle:
    """The style ``name``; ConfigError naming the styles there are."""
    found = styles()
    try:
        return found[name]
    except KeyError:
        raise ConfigError(f"no planner style {name!r} (styles: {', '.join(found)})") from None


def build_prompt(query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]], *, now: datetime,
                 instructions: Sequence[str] = (), style: str = "completion", failure: Failure | None = None,
                 template: ChatTemplate | None = None) -> Prompt:
    """The prompt of planner style ``style`` for one query."""
    return get(style).prompt(query, tools, examples, now=now, instructions=instructions, failure=failure,
                             template=template)
