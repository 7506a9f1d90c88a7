"""Evaluation metrics shared by `tinyagent eval` and the benchmarks.

Success is TinyAgent's metric: the generated plan's DAG is isomorphic to the gold
plan's, nodes labelled by tool name, edges from ``$N`` references, and a join node that
depends on every task. Argument values are not part of it. An exact plan is a success
whose every argument also equals gold's under some matching of the two DAGs (text
compared by :func:`normal_text`, lists as multisets, ``$N`` through the matching, dates
as the parser resolved them at ``EVAL_NOW``); the lookup-argument rate looks at the one
argument a small model most often gets wrong (whom or what to look up), compared the
same way.

Everything here is pure: per-query records in, figures out, so a test can check the
arithmetic on hand-made records and the same records always give the same figures.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any

from .plan.tasks import REFERENCE, Plan
from .words import EDGE

if TYPE_CHECKING:
    import networkx as nx

    from .agent import Agent, PlanRequest
    from .retrieval.dataset import Example
    from .tools.spec import Catalog

# Date phrases in gold and generated plans resolve against this instant, and the prompt
# shows it, so an evaluation gives the same plans whatever day it runs.
EVAL_NOW = datetime(2025, 3, 12, 9, 30, tzinfo=timezone(timedelta(hours=1)))


JOIN = "join"

# Matchings of two DAGs tried at most, per kind of search: tasks alike in tool and in every
# argument but their $N are rare, and 7! covers seven interchangeable ones.
MAX_MATCHINGS = 5040

_EDGES = EDGE + string.whitespace


def normal_text(text: str) -> str:
    """Text as the metrics compare it: case-folded, spaces collapsed, edge punctuation gone."""
    return " ".join(text.casefold().strip(_EDGES).split())


def _renumbered(value: Any, ref: Callable[[int], str]) -> Any:
    """``value`` with each ``$N`` written ``${ref(N)}`` (braced, so a digit after it stays apart)."""
    if isinstance(value, str):
        return REFERENCE.sub(lambda m: "${" + ref(int(m[1] or m[2])) + "}" if m[1] or m[2] else m[0], value)
    if isinstance(value, list):
        return [_renumbered(v, ref) for v in value]
    return value


def _normal(value: Any, ref: Callable[[int], str]) -> Any:
    """An argument as compared: renumbered text as :func:`normal_text`, a list as the sorted
    tuple of its items (a multiset), numbers and booleans as they are."""
    value = _renumbered(value, ref)
    if isinstance(value, str):
        return normal_text(value)
    if isinstance(value, list):
        return tuple(sorted(normal_text(v) for v in value))
    return value


def _own(task_id: int) -> str:
    return str(task_id)


def _masked(task_id: int) -> str:
    return ""


def plan_graph(plan: Plan) -> nx.DiGraph:
    """The plan as a DAG: one node per task labelled ``tool``, an edge per ``$N``, and join last.

    ``shape`` is the task's arguments with every ``$N`` blanked: matching shapes first leaves
    few matchings to try when comparing arguments (any that makes them all equal keeps them).
    """
    import networkx as nx

    graph = nx.DiGraph()
    for task in plan.tasks:
        graph.add_node(task.id, tool=task.tool, shape=tuple(_normal(a, _masked) for a in task.args))
    for task in plan.tasks:
        graph.add_edges_from((dep, task.id) for dep in task.deps)
    graph.add_node(JOIN, tool=JOIN, shape=())
    graph.add_edges_from((task.id, JOIN) for task in plan.tasks)
    return graph


def _matchings(gold: Plan, plan: Plan, *, by_shape: bool) -> Iterator[dict[Any, Any]]:
    """Isomorphisms from gold's DAG onto the plan's (gold node -> plan node), tool to the same
    tool and, ``by_shape``, arguments to the same arguments but for their ``$N``."""
    if sorted(gold.tools) != sorted(plan.tools):  # cheap and decisive most of the time
        return iter(())
    from networkx.algorithms.isomorphism import DiGraphMatcher

    keys = ("tool", "shape") if by_shape else ("tool",)
    matcher = DiGraphMatcher(plan_graph(gold), plan_graph(plan),
                             node_match=lambda a, b: all(a[k] == b[k] for k in keys))
    return islice(matcher.isomorphisms_iter(), MAX_MATCHINGS)


def same_dag(a: Plan, b: Plan) -> bool:
    """Whether two plans have isomorphic DAGs with the same tool at matching nodes."""
    return next(_matchings(a, b, by_shape=False), None) is not None


@dataclass(frozen=True)
class ArgumentDiff:
    """One argument of a plan that differs from gold's; ``$N`` in both written ``${N}`` with the
    plan's task numbers (gold's renumbered through the matching)."""

    task: int  # the plan's task id
    tool: str
    argument: str  # the parameter's name
    gold: Any
    plan: Any

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "tool": self.tool, "argument": self.argument, "gold": self.gold, "plan": self.plan}


@dataclass(frozen=True)
class PlanComparison:
    """A plan against gold: the DAG metric, and the arguments that differ (none when exact)."""

    same_dag: bool
    differences: tuple[ArgumentDiff, ...] = ()

    @property
    def exact(self) -> bool:
        return self.same_dag and not self.differences


def _differences(gold: Plan, plan: Plan, mapping: dict[Any, Any], catalog: Catalog) -> tuple[ArgumentDiff, ...]:
    """The arguments that differ when each gold task is matched to ``mapping``'s plan task."""
    tasks = {t.id: t for t in plan.tasks}

    def through(task_id: int) -> str:  # gold's $N names the plan task matched to gold task N
        return str(mapping[task_id])

    diffs: list[ArgumentDiff] = []
    for want in gold.tasks:
        got = tasks[mapping[want.id]]
        params = catalog.tools[want.tool].params
        diffs.extend(
            ArgumentDiff(got.id, got.tool, param.name, _renumbered(a, through), _renumbered(b, _own))
            for param, a, b in zip(params, want.args, got.args)
            if _normal(a, through) != _normal(b, _own)
        )
    return tuple(diffs)


def compare_plans(gold: Plan, plan: Plan, catalog: Catalog) -> PlanComparison:
    """Whether ``plan`` has gold's DAG, and which arguments differ under the closest matching.

    Exact when any matching makes every argument equal: two lookups of the same tool may
    be matched either way round. Both plans must have been parsed with the same ``now``,
    so that date arguments are compared as the ISO times they resolved to.
    """
    if any(not _differences(gold, plan, m, catalog) for m in _matchings(gold, plan, by_shape=True)):
        return PlanComparison(True)
    closest = min((_differences(gold, plan, m, catalog) for m in _matchings(gold, plan, by_shape=False)),
                  key=len, default=None)
    return PlanComparison(False) if closest is None else PlanComparison(True, closest)


# What went wrong with a plan that is not exact, from the tools of the two plans; one kind a plan.
MISTAKES = ("invalid", "wrong tool", "extra call", "dropped request", "wiring", "arguments")


def mistake(gold: Plan, plan: Plan | None, comparison: PlanComparison) -> str | None:
    """Why ``plan`` is not gold's, as one of :data:`MISTAKES` (None when it is exact).

    By the calls of each (a multiset of tool names): a call of a tool gold does not make in
    place of one it makes is a wrong tool; a call too many with nothing missing, a call
    nobody asked for; a call missing with nothing added, a request dropped; the same calls
    in another DAG, wrong wiring (``$N``); the same DAG, arguments only.
    """
    if plan is None:
        return "invalid"
    if comparison.exact:
        return None
    if comparison.same_dag:
        return "arguments"
    want, got = Counter(gold.tools), Counter(plan.tools)
    extra, missing = got - want, want - got
    if extra and missing:
        return "wrong tool"
    if extra:
        return "extra call"
    return "dropped request" if missing else "wiring"


def lookups(plan: Plan, catalog: Catalog) -> Counter[tuple[str, str]]:
    """The multiset of (lookup tool, first argument) of a plan, the argument as :func:`normal_text`:
    whom or what it looks up (``ToolSpec.is_lookup``), compared exactly."""
    return Counter((t.tool, normal_text(str(t.args[0]))) for t in plan.tasks
                   if t.args and t.tool in catalog.tools and catalog.tools[t.tool].is_lookup)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between order statistics."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class QueryResult:
    """What happened to one dataset query. Planning fields are None in a retrieval-only run."""

    index: int  # 1-based position among the dataset's examples
    query: str
    gold_plan: str
    gold_tools: tuple[str, ...]
    selected: tuple[str, ...]
    retrieval_s: float
    gold_calls: int = 0  # calls of the gold plan, join() not counted
    plan_text: str | None = None  # what the model wrote
    valid: bool | None = None
    success: bool | None = None
    exact: bool | None = None  # None: arguments were not compared (retrieval only)
    differences: tuple[ArgumentDiff, ...] = ()  # a success's arguments that differ from gold's
    lookup_match: bool | None = None  # None: the gold plan looks nothing up (or no plan was made)
    mistake: str | None = None  # one of MISTAKES for a plan that is not exact; None if exact or not planned
    error: str | None = None
    first_task_s: float | None = None
    plan_s: float | None = None
    prompt_tokens: int | None = None
    all_tools_prompt_tokens: int | None = None

    @property
    def recalled(self) -> bool:
        return set(self.gold_tools) <= set(self.selected)

    @property
    def failed(self) -> bool:
        """A failure for the report: a plan that is not exact (not a success, where arguments were
        not compared), or (retrieval only) a gold tool not selected."""
        for verdict in (self.exact, self.success):
            if verdict is not None:
                return not verdict
        return not self.recalled

    def failure_record(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "query": self.query,
            "gold_plan": self.gold_plan,
            "plan": self.plan_text,
            "error": self.error,
            "dag_right": self.success,  # true: only arguments differ, those below
            "mistake": self.mistake,
            "differing_arguments": [d.to_json() for d in self.differences],
            "gold_tools": list(self.gold_tools),
            "selected_tools": list(self.selected),
            "missing_tools": [t for t in self.gold_tools if t not in self.selected],
        }


@dataclass(frozen=True)
class Skipped:
    """A dataset query that cannot be evaluated here: its gold plan does not parse on this catalog."""

    index: int
    query: str
    reason: str


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    def r(v: float | None) -> float | None:
        return round(v, 4) if v is not None else None

    return {"p50": r(percentile(values, 50)), "p95": r(percentile(values, 95)), "n": len(values)}


def summarize(results: Sequence[QueryResult], skipped: Sequence[Skipped] = ()) -> dict[str, Any]:
    """Every figure of an evaluation as one JSON-ready dict (planning figures None without a model)."""
    planned = [r for r in results if r.success is not None]
    selected = sum(len(r.selected) for r in results)
    gold = sum(len(r.gold_tools) for r in results)
    hits = sum(len(set(r.gold_tools) & set(r.selected)) for r in results)
    compared = [r for r in planned if r.exact is not None]
    with_lookups = [r for r in planned if r.lookup_match is not None]
    prompt = [r.prompt_tokens for r in planned if r.prompt_tokens is not None]
    all_tools = [r.all_tools_prompt_tokens for r in planned if r.all_tools_prompt_tokens is not None]
    return {
        "queries": len(results),
        "skipped": len(skipped),
        "success_rate": _rate(sum(bool(r.success) for r in planned), len(planned)),
        "exact_plan_rate": _rate(sum(bool(r.exact) for r in compared), len(compared)),
        "dag_right_arguments_wrong": sum(bool(r.success) and not r.exact for r in compared),
        "valid_plan_rate": _rate(sum(bool(r.valid) for r in planned), len(planned)),
        "lookup_args_exact": _rate(sum(bool(r.lookup_match) for r in with_lookups), len(with_lookups)),
        "lookup_queries": len(with_lookups),
        "retrieval": {
            "tool_recall": _rate(sum(r.recalled for r in results), len(results)),
            "tools_per_query": _mean([len(r.selected) for r in results]),
            "gold_tools_per_query": _mean([len(r.gold_tools) for r in results]),
            "micro_recall": _rate(hits, gold),
            "micro_precision": _rate(hits, selected),
        },
        "latency_s": {
            "retrieval": _spread([r.retrieval_s for r in results]),
            "first_task": _spread([r.first_task_s for r in planned if r.first_task_s is not None]),
            "plan": _spread([r.plan_s for r in planned if r.plan_s is not None]),
        },
        "prompt_tokens": {
            "mean": _mean(prompt),
            "all_tools_mean": _mean(all_tools),
            "share_of_all_tools": _rate(sum(prompt), sum(all_tools)) if prompt and all_tools else None,
        },
        "per_tool": per_tool(results),
        "per_call_count": per_call_count(results),
        "mistakes": mistakes(results) if planned else None,
        "failures": sum(r.failed for r in results),
    }


def mistakes(results: Sequence[QueryResult]) -> dict[str, int]:
    """How many plans went wrong in each way, every kind of :data:`MISTAKES` named."""
    counts = Counter(r.mistake for r in results if r.mistake)
    return {kind: counts[kind] for kind in MISTAKES}


def call_count_bucket(calls: int) -> str:
    """The group a gold plan of ``calls`` calls is reported in: 1, 2, 3, 4-5 or 6+."""
    return str(calls) if calls <= 3 else "4-5" if calls <= 5 else "6+"


def per_call_count(results: Sequence[QueryResult]) -> dict[str, dict[str, Any]]:
    """Per size of the gold plan: retrieval recall and tools offered, and plan success where planned."""
    table: dict[str, dict[str, Any]] = {}
    for bucket in ("1", "2", "3", "4-5", "6+"):
        group = [r for r in results if call_count_bucket(r.gold_calls) == bucket]
        if not group:
            continue
        planned = [r for r in group if r.success is not None]
        table[bucket] = {
            "queries": len(group),
            "tool_recall": _rate(sum(r.recalled for r in group), len(group)),
            "tools_per_query": _mean([len(r.selected) for r in group]),
            "success_rate": _rate(sum(bool(r.success) for r in planned), len(planned)),
            "exact_plan_rate": _rate(sum(bool(r.exact) for r in planned), len(planned)),
        }
    return table


def per_tool(results: Sequence[QueryResult]) -> dict[str, dict[str, Any]]:
    """Per gold tool: how many queries use it, retrieval recall and precision, plan success, and
    exact plans where arguments were compared (every planned query of an evaluation)."""
    names = sorted({t for r in results for t in r.gold_tools})
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        using = [r for r in results if name in r.gold_tools]
        chosen = [r for r in results if name in r.selected]
        planned = [r for r in using if r.success is not None]
        compared = [r for r in planned if r.exact is not None]
        table[name] = {
            "queries": len(using),
            "retrieval_recall": _rate(sum(name in r.selected for r in using), len(using)),
            "retrieval_precision": _rate(sum(name in r.gold_tools for r in chosen), len(chosen)),
            "success_rate": _rate(sum(bool(r.success) for r in planned), len(planned)),
        }
        if compared:
            table[name]["exact_plan_rate"] = _rate(sum(bool(r.exact) for r in compared), len(compared))
    return table


def evaluate_query(agent: Agent, index: int, example: Example, *, retrieval_only: bool = False) -> QueryResult | Skipped:
    """Run one dataset query through the planning pipeline (nothing executes) and score it.

    The same path as ``run --dry-run``: Agent.prepare, then Agent.plan with no replan, so
    the figures are those of one attempt. Retrieval only stops after Agent.prepare.
    """
    from .errors import PlanError
    from .plan.parser import parse_plan

    try:
        gold = parse_plan(example.plan, agent.catalog, now=EVAL_NOW)
    except PlanError as exc:
        return Skipped(index, example.query, f"gold plan: {exc}")
    gold_tools = tuple(dict.fromkeys(gold.tools))
    if retrieval_only:
        request = agent.prepare(example.query, now=EVAL_NOW)
        return QueryResult(index, example.query, example.plan, gold_tools, request.selection.tools, request.retrieval_s,
                           len(gold.tasks))
    plan, request, trace, error = agent.plan(example.query, now=EVAL_NOW)
    comparison = compare_plans(gold, plan, agent.catalog) if plan is not None else PlanComparison(False)
    gold_lookups = lookups(gold, agent.catalog)
    return QueryResult(
        index,
        example.query,
        example.plan,
        gold_tools,
        request.selection.tools,
        request.retrieval_s,
        len(gold.tasks),
        plan_text=trace.text,
        valid=plan is not None,
        success=comparison.same_dag,
        exact=comparison.exact,
        differences=comparison.differences,
        lookup_match=(plan is not None and lookups(plan, agent.catalog) == gold_lookups) if gold_lookups else None,
        mistake=mistake(gold, plan, comparison),
        error=str(error) if error else None,
        first_task_s=trace.timings.get("first_task_s"),
        plan_s=trace.timings.get("plan_s"),
        prompt_tokens=trace.prompt_tokens,
        all_tools_prompt_tokens=all_tools_prompt_tokens(agent, request),
    )


def all_tools_prompt_tokens(agent: Agent, request: PlanRequest) -> int:
    """The size of the same prompt had every catalog tool been offered (no retrieval)."""
    prompt = agent.style.prompt(
        request.query,
        list(agent.catalog.tools.values()),
        request.examples,
        now=EVAL_NOW,
        instructions=agent.settings.config.instructions,
        template=agent.template.template,
    )
    return agent.model.count_tokens(prompt.text)
