"""Plan text (LLMCompiler format) to Tasks: strict, streaming, and PlanError-only.

    Thought: look up the address first
    1. get_email_address("Sarah Lin")
    2. compose_new_email(["$1"], [], "Q3 deck", "Here it is", [])
    3. join()
    <END_OF_PLAN>

Each numbered line is one call with positional Python literals. ``$N``/``${N}`` inside a
string makes task N a dependency and must name an earlier task. Date parameters are
resolved to ISO 8601 here, so the confirmation shows what will really happen and a bad
date stops the plan before anything runs. Every defect raises PlanError with the line.
"""

from __future__ import annotations

import ast
import re
import warnings
from datetime import datetime
from typing import Any

from ..errors import PlanError
from ..tools.spec import Catalog, Param, ToolSpec
from .tasks import Plan, Task, references

END_OF_PLAN = "<END_OF_PLAN>"
# "3. compose_new_email(" at the start of a line: the task's id and tool (join() included)
CALL_HEAD = r"^\s*(\d+)\s*\.\s*([A-Za-z_]\w*)\s*\("
PLAN_CALL = re.compile(CALL_HEAD, re.MULTILINE)
_NUMBERED = re.compile(r"^(\d+)\s*\.\s*(.*)$", re.DOTALL)
_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)
_MAX_LINE = 200_000  # a plan line longer than this is a runaway generation, not a plan

_EMPTY = {"str": "", "date": "", "list[str]": [], "int": 0, "bool": False}


def plan_calls(plan: str) -> list[str]:
    """The tools a plan text calls, in plan order and as often as called, without join; read
    by pattern, so a plan that does not parse is read too."""
    return [tool for _, tool in PLAN_CALL.findall(plan) if tool != "join"]


def numbered_call(line: str) -> tuple[str, str] | None:
    """The tool and the call text of a plan line "N. tool(...)"; None for any other line."""
    numbered = _NUMBERED.match(line.strip())
    call = numbered.group(2).strip() if numbered else ""
    match = _CALL.match(call)
    return (match.group(1), call) if match else None


class StreamingParser:
    """Feed text in any chunks; each Task is returned the moment its line is complete."""

    def __init__(self, catalog: Catalog, *, now: datetime | None = None) -> None:
        self.catalog = catalog
        self.now = now
        self.tasks: list[Task] = []
        self.joined = False
        self._buffer = ""
        self._line_no = 0
        self._thought = ""
        self._ended = False

    def feed(self, chunk: str) -> list[Task]:
        self._buffer += chunk
        done: list[Task] = []
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            task = self._line(line)
            if task is not None:
                done.append(task)
        if len(self._buffer) > _MAX_LINE:
            raise PlanError("line is too long", self._line_no + 1)
        return done

    def finish(self) -> list[Task]:
        """Parse what is left; the plan must have ended with ``join()``."""
        done: list[Task] = []
        if self._buffer:
            line, self._buffer = self._buffer, ""
            task = self._line(line)
            if task is not None:
                done.append(task)
        if not self.joined:
            raise PlanError("the plan does not end with join()", self._line_no + 1)
        if not self.tasks:
            raise PlanError("the plan has no tasks", self._line_no)
        return done

    def plan(self) -> Plan:
        return Plan(tuple(self.tasks))

    def _line(self, raw: str) -> Task | None:
        self._line_no += 1
        no = self._line_no
        line = raw.strip()
        if line.endswith(END_OF_PLAN):
            line = line[: -len(END_OF_PLAN)].strip()
            ended = True
        else:
            ended = False
        if self._ended and line:
            raise PlanError(f"text after {END_OF_PLAN}: {_clip(line)}", no)
        self._ended = self._ended or ended
        if not line:
            return None
        if self.joined:
            raise PlanError(f"join() must be the last line, found {_clip(line)}", no)
        if line.startswith("Thought:"):
            self._thought = line[len("Thought:") :].strip()
            return None
        numbered = _NUMBERED.match(line)
        if not numbered:
            raise PlanError(f"expected 'N. tool(...)', 'Thought: ...' or join(), found {_clip(line)}", no)
        task_id = int(numbered.group(1))
        last = self.tasks[-1].id if self.tasks else 0
        if task_id <= last:
            raise PlanError(f"task ids must increase: {task_id} comes after {last}", no)
        call = numbered.group(2).strip()
        if re.fullmatch(r"join\s*\(\s*\)", call):
            self.joined = True
            return None
        task = self._task(task_id, call, no)
        self.tasks.append(task)
        return task

    def _task(self, task_id: int, call: str, no: int) -> Task:
        match = _CALL.match(call)
        if not match:
            raise PlanError(f"expected a call like tool(...), found {_clip(call)}", no)
        name = match.group(1)
        spec = self.catalog.get(name)
        if spec is None:
            raise PlanError(self.catalog.why_unavailable(name), no)
        values = literal_args(name, call, no)
        if len(values) != len(spec.params):
            raise PlanError(
                f"{name} takes {len(spec.params)} arguments ({_param_names(spec)}), got {len(values)}", no
            )
        earlier = {t.id for t in self.tasks}
        args: list[Any] = []
        start: datetime | None = None  # the call's last date so far: a later one counts from it
        for param, value in zip(spec.params, values):
            arg = self._arg(spec, param, value, earlier, no, start)
            if param.type == "date" and arg and not references(arg):
                start = datetime.fromisoformat(arg)
            args.append(arg)
        deps = sorted(references(args))
        thought, self._thought = self._thought, ""
        return Task(task_id, name, tuple(args), tuple(deps), thought, no)

    def _arg(self, spec: ToolSpec, param: Param, value: Any, earlier: set[int], no: int,
             start: datetime | None) -> Any:
        where = f"{spec.name} argument {param.name!r}"
        if value is None:
            return _EMPTY[param.type]
        kind = param.type
        ok = {
            "str": isinstance(value, str),
            "date": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[kind]
        if not ok:
            expected = {"date": "a date string", "list[str]": "a list of strings"}.get(kind, f"a {kind}")
            raise PlanError(f"{where} must be {expected}, got {_clip(repr(value))}", no)
        for ref in sorted(references(value)):
            if ref not in earlier:
                raise PlanError(f"{where} refers to ${ref}, which is not an earlier task", no)
        if kind == "date" and value.strip() and not references(value):
            return _resolve_date(value, self.now, where, no, start)
        return value


def literal_args(name: str, call: str, no: int) -> list[Any]:
    """The call's positional arguments as Python values; only literals are allowed."""
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" is the model's typo, not ours to warn
            warnings.simplefilter("ignore")
            node = ast.parse(call, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc) or type(exc).__name__
        raise PlanError(f"cannot read the arguments of {name}: {reason}", no) from None
    if not isinstance(node, ast.Call) or node.keywords:
        raise PlanError(f"{name} must be called with positional arguments only", no)
    values = []
    for arg in node.args:
        try:
            values.append(ast.literal_eval(arg))
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise PlanError(f"{name}: arguments must be literals (strings, lists, numbers, True/False)", no) from None
    return values


def _resolve_date(text: str, now: datetime | None, where: str, no: int, start: datetime | None = None) -> str:
    """``text`` resolved as ISO 8601 text. One on a day before ``start``, an earlier date of the
    same call, counts from it instead: "Monday 8am" to "Wednesday 5pm" said on a Tuesday ends
    two days after it starts, not five days before. On the start's own day, an earlier time is
    left for the tool to refuse ("Friday 2pm" to "Friday 1pm" is a slip, not a week)."""
    from ..tools.dates import resolve_date, to_iso

    try:
        when = resolve_date(text, now or datetime.now().astimezone())
        if when is not None and start is not None and when.date() < start.date():
            when = resolve_date(text, start)
    except ValueError as exc:
        raise PlanError(f"{where}: {exc}", no) from None
    except Exception as exc:  # a date library's own bug must still be a plan error
        raise PlanError(f"{where}: cannot understand the date {text!r} ({type(exc).__name__})", no) from None
    return to_iso(when) if when is not None else ""


def _param_names(spec: ToolSpec) -> str:
    return ", ".join(p.name for p in spec.params)


def _clip(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def parse_plan(text: str, catalog: Catalog, *, now: datetime | None = None) -> Plan:
    """Parse a whole plan text; raises PlanError naming the line of the first defect."""
    parser = StreamingParser(catalog, now=now)
    try:
        parser.feed(text)
        parser.finish()
    except PlanError:
        raise
    except Exception as exc:  # defence in depth: nothing but PlanError leaves the parser
        raise PlanError(f"cannot parse the plan ({type(exc).__name__})", parser._line_no or None) from None
    return parser.plan()


def plan_from_json(items: Any, catalog: Catalog, *, now: datetime | None = None) -> Plan:
    """A plan from the ``plan`` list of our JSON output, checked exactly like plan text."""
    if not isinstance(items, list):
        raise PlanError("'plan' must be a list of tasks")
    lines = []
    last_id = 0
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("tool"), str):
            raise PlanError(f"plan item {i} must be an object with 'tool' and 'args'")
        args = item.get("args", [])
        last_id = item.get("id", i)
        if not isinstance(args, list) or not isinstance(last_id, int) or isinstance(last_id, bool):
            raise PlanError(f"plan item {i}: 'id' must be an integer and 'args' a list")
        thought = item.get("thought")
        if isinstance(thought, str) and thought.strip():
            lines.append(f"Thought: {' '.join(thought.split())}")
        lines.append(f"{last_id}. {Task(last_id, item['tool'], tuple(args)).call_text()}")
    lines.append(f"{last_id + 1}. join()")
    return parse_plan("\n".join(lines), catalog, now=now)
