"""One turn of the agent, with no screen: plan (and replan), stream, execute, join.

A front end (``Frontend``: the terminal's in ``ui/turn.py``) draws and asks; this module
decides. Read-only tasks may start while the plan is still arriving; anything that changes
things waits until the whole plan has been shown and confirmed (or ``assume_yes``). A plan
the person edits at the confirmation starts the turn over. Ctrl-C cancels what is pending,
and the outcome says what ran. ``Loop.query`` replans at most ``replan_limit`` times: after
an invalid plan, or a failed task when nothing that changes things has (or may have) run.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .errors import EXIT_DECLINED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TASK_FAILED, PlanError, TinyAgentError
from .plan.executor import Executor
from .plan.join import Answer, join
from .plan.tasks import Plan, Status, Task, TaskResult
from .settings import Settings
from .tools.spec import Catalog

if TYPE_CHECKING:
    from .agent import Agent


@dataclass
class Outcome:
    """Everything one turn produced; ``to_json`` is the documented ``--json`` object."""

    query: str | None
    plan: Plan | None = None
    results: dict[int, TaskResult] = field(default_factory=dict)
    answer: Answer | None = None
    timings: dict[str, float] = field(default_factory=dict)
    confirmation: str = "auto"
    exit_code: int = EXIT_OK
    error: str | None = None
    dry_run: bool = False
    model: str | None = None
    backend: str | None = None
    transcript: str | None = None
    selected_tools: tuple[str, ...] = ()
    plan_text: str = ""  # what the model wrote, verbatim
    edited: bool = False  # the person edited the plan before it ran; ``plan`` is their version

    def changed_something(self, catalog: Catalog) -> bool:
        """Whether a task that changes things has, or may have, happened."""
        tools = self.plan.tools_by_id() if self.plan else {}
        return any(
            r.status in ("done", "unknown") and ((spec := catalog.get(tools.get(r.id, ""))) is None or spec.side_effects)
            for r in self.results.values()
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "plan": [t.to_json() for t in self.plan.tasks] if self.plan else [],
            "results": [r.to_json() for r in self.results.values()],
            "answer": self.answer.text if self.answer else (self.error or ""),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "error": self.error,
            "model": self.model,
            "backend": self.backend,
            "transcript": self.transcript,
            "selected_tools": list(self.selected_tools),
            "edited": self.edited,
        }


def error_outcome(query: str | None, error: TinyAgentError, **fields: Any) -> Outcome:
    return Outcome(query=query, exit_code=error.exit_code, error=str(error), **fields)


@dataclass(frozen=True)
class Decision:
    """The person's answer to a plan that changes things."""

    answer: Literal["yes", "no", "refused", "edit"]
    edited: Plan | None = None  # with "edit": the plan to run instead
    reason: str = ""  # with "no" or "refused": what to report


class Frontend(Protocol):
    """What a turn shows and asks, in the order it happens."""

    def begin(self, title: str) -> None:
        """A plan starts arriving ("Plan", or "Plan (edited)")."""

    def arrived(self, task: Task) -> None: ...

    def updated(self, task_id: int, status: Status, result: TaskResult | None, seconds: float) -> None: ...

    def targeted(self, task_id: int, target: str) -> None:
        """What a task will act on that its arguments do not say (shown before confirming)."""

    def decide(self, plan: Plan, actions: int) -> Decision:
        """Ask about ``actions`` tasks that change things; Ctrl-C here is KeyboardInterrupt."""

    def confirmed(self) -> None:
        """The plan runs on after a yes."""

    def close(self) -> None:
        """Stop drawing: the turn is over, or ended early (an invalid plan, to be replanned)."""

    def end(self, outcome: Outcome) -> None:
        """The turn is over and answered (or declined, interrupted, a dry run)."""

    def note(self, text: str) -> None:
        """A line about the turn itself ("replanning: ...")."""


async def _tasks_of(plan: Plan) -> AsyncIterator[Task]:
    for task in plan.tasks:
        yield task


class Loop:
    """Runs turns for one front end, with one policy (``assume_yes``, ``dry_run``)."""

    def __init__(self, catalog: Catalog, settings: Settings, frontend: Frontend, *,
                 assume_yes: bool = False, dry_run: bool = False) -> None:
        self.catalog = catalog
        self.settings = settings
        self.frontend = frontend
        self.assume_yes = assume_yes
        self.dry_run = dry_run

    def run(self, source: Plan | AsyncIterable[Task], outcome: Outcome) -> Outcome:
        """Run one plan (finished, or streaming from the model) to the end.

        An edited plan runs from the start: what ran of the old one was read-only, and
        its results may not fit the new arguments."""
        while True:
            edited = asyncio.run(self._run(source, outcome))
            if edited is None:
                return outcome
            source = edited
            outcome.edited = True
            outcome.results = {}

    def query(self, agent: Agent, query: str, *, transcript: str | None = None) -> Outcome:
        """Plan ``query`` with the agent and run it, replanning as the module says.

        A request that needs a tool this machine cannot run is refused before planning
        (ConfigError, exit 2): a plan without it would do some other, useless thing.
        """
        from .agent import PlanTrace
        from .plan.prompt import Failure

        attempts = self.settings.config.replan_limit + 1
        failure: Failure | None = None
        last_error: PlanError | None = None
        for attempt in range(attempts):
            request = agent.prepare(query, failure=failure)
            refusal = request.unavailable(agent.catalog)
            if refusal is not None:
                raise refusal
            trace = PlanTrace()
            outcome = Outcome(query=query, model=agent.model_spec.name, backend=self.settings.backend,
                              transcript=transcript, selected_tools=request.selection.tools)
            try:
                outcome = self.run(agent.stream_tasks(request, trace), outcome)
            except PlanError as exc:
                last_error = exc
                failure = Failure.invalid(trace.text, exc)
                continue
            finally:
                outcome.timings["retrieval_s"] = request.retrieval_s
            outcome.plan_text = trace.text
            outcome.timings["prompt_tokens"] = trace.prompt_tokens
            if (outcome.plan is not None and outcome.answer and outcome.answer.failures and attempt + 1 < attempts
                    and not outcome.changed_something(agent.catalog)):
                failure = Failure.tasks(outcome.plan, outcome.results, outcome.answer.failures)
                self.frontend.note(f"replanning: {failure.summary}")
                continue
            return outcome
        assert last_error is not None
        return error_outcome(query, PlanError(f"no valid plan after {attempts} attempt(s): {last_error}"),
                             model=agent.model_spec.name, backend=self.settings.backend, dry_run=self.dry_run)

    async def _run(self, source: Plan | AsyncIterable[Task], outcome: Outcome) -> Plan | None:
        """Fills ``outcome``; returns the plan to run instead when the person edited it."""
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        interrupts = _Interrupts(loop, main)
        frontend = self.frontend
        gate: asyncio.Future[bool] = loop.create_future()
        start = time.perf_counter()

        def updated(task_id: int) -> None:
            status = executor.status.get(task_id, "pending")
            if status == "running":
                outcome.timings.setdefault("first_start_s", time.perf_counter() - start)
            started = executor.started.get(task_id)
            result = executor.results.get(task_id)
            seconds = result.seconds if result else (time.monotonic() - started if started else 0.0)
            frontend.updated(task_id, status, result, seconds)

        executor = Executor(self.catalog, self.settings, gate=gate, on_update=updated, request=outcome.query or "")
        stream = _tasks_of(source) if isinstance(source, Plan) else source
        arrived: list[Task] = []
        plan_done = asyncio.Event()
        targets: list[asyncio.Task[None]] = []

        async def show_target(task: Task) -> None:
            target = await executor.target(task)
            if target is not None:
                frontend.targeted(task.id, target)

        async def tracked() -> AsyncIterator[Task]:
            async for task in stream:
                if not arrived:  # an edited plan keeps the model's timings
                    outcome.timings.setdefault("first_task_s", time.perf_counter() - start)
                arrived.append(task)
                frontend.arrived(task)
                targets.append(asyncio.create_task(show_target(task)))
                yield task
            outcome.timings.setdefault("plan_s", time.perf_counter() - start)
            await asyncio.gather(*targets)  # the person decides on a plan that says them
            plan_done.set()

        interrupts.install()
        frontend.begin("Plan (edited)" if outcome.edited else "Plan")
        running: asyncio.Task[dict[int, TaskResult]] | None = None
        try:
            if self.dry_run:
                async for _ in tracked():
                    pass
                outcome.plan = Plan(tuple(arrived))
                outcome.dry_run = True
                outcome.confirmation = "dry-run"
            else:
                running = asyncio.create_task(executor.run(tracked()))
                planned = asyncio.create_task(plan_done.wait())
                await asyncio.wait({running, planned}, return_when=asyncio.FIRST_COMPLETED)
                if running.done() and running.exception() is not None:
                    planned.cancel()
                    raise running.exception()  # type: ignore[misc]
                await planned
                outcome.plan = Plan(tuple(arrived))
                gated = [t for t in arrived if executor.needs_gate(t)]
                if gated and not self.assume_yes:
                    decision = self._decide(outcome.plan, len(gated), interrupts)
                    outcome.confirmation = decision.answer
                    if decision.edited is not None:
                        gate.set_result(False)  # what waits is declined; what ran was read-only
                        await running
                        return decision.edited
                    if decision.answer != "yes":
                        gate.set_result(False)
                        outcome.results = await running
                        outcome.exit_code = EXIT_DECLINED
                        outcome.error = decision.reason
                    else:
                        gate.set_result(True)
                        frontend.confirmed()
                else:  # nothing to ask, or --yes
                    gate.set_result(True)
                if outcome.exit_code != EXIT_DECLINED:
                    outcome.results = await running
        except asyncio.CancelledError:
            outcome.results = dict(sorted(executor.results.items()))
            outcome.plan = outcome.plan or Plan(tuple(arrived))
            outcome.exit_code = EXIT_INTERRUPTED
            outcome.error = "interrupted"
        finally:
            interrupts.remove()
            frontend.close()
            outcome.timings["total_s"] = time.perf_counter() - start
        if outcome.plan is not None and not self.dry_run:
            outcome.answer = join(outcome.plan, outcome.results)
            if outcome.exit_code == EXIT_OK and not outcome.answer.ok:
                outcome.exit_code = EXIT_TASK_FAILED
        frontend.end(outcome)
        return None

    def _decide(self, plan: Plan, actions: int, interrupts: _Interrupts) -> Decision:
        interrupts.remove()  # Ctrl-C at the prompt (or in the editor) must interrupt that itself
        try:
            return self.frontend.decide(plan, actions)
        except KeyboardInterrupt:
            raise asyncio.CancelledError from None
        finally:
            interrupts.install()


class _Interrupts:
    """Ctrl-C cancels the turn's main task, so the turn can report what ran."""

    def __init__(self, loop: asyncio.AbstractEventLoop, main: asyncio.Task[Any]) -> None:
        self.loop = loop
        self.main = main
        self.installed = False

    def install(self) -> None:
        try:
            self.loop.add_signal_handler(signal.SIGINT, self.main.cancel)
            self.installed = True
        except (NotImplementedError, RuntimeError, ValueError):  # not Unix, or not the main thread
            self.installed = False

    def remove(self) -> None:
        if self.installed:
            self.loop.remove_signal_handler(signal.SIGINT)
            self.installed = False
