"""The prompt of TinyAgent's fine-tuned planners, laid out as they were trained to read it.

TinyAgent-1.1B and -7B were tuned on ~40k prompts of one shape, and a model tuned so keys on
the shape: the system text numbers each offered tool (calendar first) as its signature over
" - " bullets, then ``join()`` as the last kind of action, a "Guidelines:" block, rules with
the date as "Today's date is Saturday 2026-11-21 09:30" and the tool-specific rules of the
offered tools, then retrieved examples (most similar first, ``###`` after each, ISO dates,
``N. join()<END_OF_PLAN>``); the request turn is ``Question: ...``. The sentences are ours and
live in formats/tinyagent.yaml; the layout is TinyAgent's. With no chat template, the two
parts are joined as TinyAgent's own code joined them for a completion model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PlanError
from ..plan.grammar import GrammarPolicy
from ..plan.parser import END_OF_PLAN, literal_args, numbered_call
from ..plan.prompt import Failure, Prompt
from ..plan.tasks import Task, escape_dollars, references
from ..tools.spec import ToolSpec
from . import PlannerStyle
from .writer import write_body

if TYPE_CHECKING:
    from ..llm.chat_template import ChatTemplate

FORMAT_FILE = Path(__file__).resolve().parent / "formats" / "tinyagent.yaml"
ISO_FORMAT = "%Y-%m-%d %H:%M:%S"  # how TinyAgent's planners write a date
ISO_DAY = "%Y-%m-%d"  # an all-day reminder's date


@dataclass(frozen=True)
class ToolRule:
    when: frozenset[str]  # added when any of these tools is offered
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TinyAgentFormat:
    """formats/tinyagent.yaml: the sentences; this module lays them out."""

    intro: str
    kinds: str
    order: tuple[str, ...]
    tools: Mapping[str, tuple[str, ...]]
    join: tuple[str, ...]
    guidelines: tuple[str, ...]
    rules: tuple[str, ...]
    now: str
    tool_rules: tuple[ToolRule, ...]
    examples: str
    question: str
    replan: tuple[str, ...]
    thought: str
    stopped: str
    not_run: str
    replan_examples: tuple[str, ...]
    written: Mapping[str, str]
    filled_when_empty: Mapping[str, str]

    @property
    def bodies(self) -> dict[str, str]:
        """Each tool whose message body a writer fills in when the planner leaves it empty, and that parameter."""
        return {**self.written, **self.filled_when_empty}


@functools.cache
def load_format() -> TinyAgentFormat:
    import yaml

    data: dict[str, Any] = yaml.safe_load(FORMAT_FILE.read_text(encoding="utf-8"))
    lines = ("join", "guidelines", "rules", "replan", "replan_examples", "order")
    return TinyAgentFormat(
        **{key: tuple(data[key]) for key in lines},
        **{key: data[key] for key in ("intro", "kinds", "now", "examples", "question", "thought", "stopped",
                                      "not_run", "written", "filled_when_empty")},
        tools={name: tuple(bullets) for name, bullets in data["tools"].items()},
        tool_rules=tuple(ToolRule(frozenset(rule["when"]), tuple(rule["lines"])) for rule in data["tool_rules"]),
    )


def tinyagent_prompt(query: str, tools: Sequence[ToolSpec], examples: Sequence[tuple[str, str]], *,
                     now: datetime, instructions: Sequence[str] = (), failure: Failure | None = None,
                     template: ChatTemplate | None = None) -> Prompt:
    """The system text and the request turn, in ``template`` (or joined as TinyAgent joined
    them without one). ``examples`` are (query, plan) pairs in our conventions, most similar first."""
    fmt = load_format()
    ordered = sorted(tools, key=lambda t: fmt.order.index(t.name) if t.name in fmt.order else len(fmt.order))
    if failure is None:
        shown = [convert_example(q, p, ordered, now) for q, p in examples]
    else:  # TinyAgent replans from examples of replanning instead of the retrieved ones
        shown = [f"{example}\n" for example in fmt.replan_examples]
    system = _system(fmt, ordered, shown, now, instructions, replan=failure is not None)
    user = fmt.question.format(query=escape_dollars(query.strip()))
    if failure is not None:
        user += f"\nPrevious Plan:\n\n{_tried(fmt, failure)}\n\nThought: {fmt.thought}\n\nCurrent Plan:\n\n\n"
    if template is not None:
        return Prompt(*template.wrap(system, user, fmt.intro), "tinyagent")
    return Prompt(f"{system}\n\n{user}", fmt.intro, "tinyagent")


def _system(fmt: TinyAgentFormat, tools: Sequence[ToolSpec], examples: Sequence[str], now: datetime,
            instructions: Sequence[str], *, replan: bool) -> str:
    parts = [f"{fmt.intro} {fmt.kinds.format(count=len(tools) + 1)}\n"]
    for number, tool in enumerate(tools, 1):
        parts.append(f"{number}. {tool.signature()}\n" + "".join(f"{line}\n" for line in _bullets(fmt, tool)) + "\n")
    parts.append(f"{len(tools) + 1}. join():\n" + "".join(f"{line}\n" for line in fmt.join) + "\n")
    parts.append("Guidelines:\n" + "".join(f"{line}\n" for line in fmt.guidelines) + "\n")
    offered = {tool.name for tool in tools}
    rules = [line.format(now=now.strftime(fmt.now)) for line in fmt.rules]
    rules += [line for rule in fmt.tool_rules if rule.when & offered for line in rule.lines]
    # As TinyAgent appended its one custom instruction: after the rules, with no newline of its own.
    parts.append("".join(f"{line}\n" for line in rules) + "\n".join(f" - {escape_dollars(line)}" for line in instructions) + "\n\n")
    if replan:
        parts.append("".join(f"{line}\n" for line in fmt.replan))
    parts.append(f"{fmt.examples}\n\n" + "###\n".join(examples) + "###\n")
    return "".join(parts)


def _bullets(fmt: TinyAgentFormat, tool: ToolSpec) -> list[str]:
    """The tool's lines under its signature: ours for TinyAgent's tools, else its pack's words."""
    if tool.name in fmt.tools:
        return [f" - {line}" for line in fmt.tools[tool.name]]
    return [f" - {tool.description}"] + [f" - {p.name}: {p.description}" for p in tool.params if p.description]


def _tried(fmt: TinyAgentFormat, failure: Failure) -> str:
    """The plan that failed, each call followed by what it returned (or why the plan stopped)."""
    if failure.error:
        return f"{failure.written or '1. join()'}\nObservation: {fmt.stopped.format(error=failure.error)}"
    return "\n".join(f"{call}\nObservation: {seen or fmt.not_run}" for call, seen in failure.observations)


def convert_example(query: str, plan: str, tools: Sequence[ToolSpec], now: datetime) -> str:
    """One of our solved examples as TinyAgent's planners saw theirs: ``Question:``, the plan
    with dates in ISO format (resolved at ``now``, as the date line of the prompt says), bodies
    left to the writer, and ``<END_OF_PLAN>`` after ``join()``."""
    fmt = load_format()
    specs = {tool.name: tool for tool in tools}
    lines = [fmt.question.format(query=escape_dollars(query.strip()))]
    for line in plan.strip().splitlines():
        line = line.strip()
        found = numbered_call(line)
        if found is None:
            if line.startswith("Thought:"):
                lines.append(line)
            continue
        name, call = found
        number = line.split(".", 1)[0].strip()
        if name == "join":
            lines.append(f"{number}. join(){END_OF_PLAN}")
        elif name in specs:
            lines.append(f"{number}. {_converted_call(specs[name], call, now, fmt.written.get(name))}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _converted_call(tool: ToolSpec, call: str, now: datetime, written: str | None) -> str:
    try:
        args = literal_args(tool.name, call, 0)
    except PlanError:
        return call  # an example that does not parse is shown as it is
    if len(args) != len(tool.params):
        return call
    all_day = any(p.name == "all_day" and a is True for p, a in zip(tool.params, args))
    converted = []
    for param, value in zip(tool.params, args):
        if param.type == "date" and isinstance(value, str):
            value = _iso(value, now, all_day)
        elif param.name == written and isinstance(value, str) and not references(value):
            value = ""
        converted.append(value)
    return Task(0, tool.name, tuple(converted)).call_text()


def _iso(phrase: str, now: datetime, day_only: bool) -> str:
    """A date phrase of ours ("tomorrow at 9") as TinyAgent writes dates; a reference or a
    phrase the resolver cannot read stays as it is."""
    from ..tools.dates import resolve_date

    if not phrase.strip() or references(phrase):
        return phrase
    try:
        when = resolve_date(phrase, now)
    except ValueError:
        return phrase
    return when.strftime(ISO_DAY if day_only else ISO_FORMAT) if when is not None else phrase


def _finish(task: Task, tool: ToolSpec, request: str) -> Task:
    """A message body the planner left to a writer (``planners/writer.py``), from the request."""
    return write_body(task, tool, request, load_format().bodies)


STYLES = (
    # Fine-tuned elsewhere on its own conventions (ISO dates, bodies left to a writer, thoughts):
    # validity only, since no constraint has been measured to help these models here.
    PlannerStyle("tinyagent", tinyagent_prompt, GrammarPolicy(sure_tools=False, copies=False, thoughts=True),
                 repeat_guard=False, finish=_finish, template=True, stop=(END_OF_PLAN,)),
)
