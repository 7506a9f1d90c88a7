"""One turn on the terminal: draw the plan as it arrives, confirm, execute live, answer.

Shared by ``exec`` (a plan from a file), ``run`` (a plan streamed from the model) and
the REPL. Read-only tasks may start while the plan is still arriving; anything that
changes things waits until the whole plan has been shown and confirmed. The plan is
drawn once: what runs after the confirmation shows live only until the answer replaces
it. A plan the person edits at the confirmation starts the turn over.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live

from ..errors import (
    EXIT_DECLINED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TASK_FAILED,
    Declined,
    TinyAgentError,
)
from ..plan.executor import Executor
from ..plan.join import Answer, join
from ..plan.tasks import Plan, Task, TaskResult
from ..settings import Settings
from ..tools.spec import Catalog
from .confirm import confirm
from .edit import edit_plan
from .render import PlanView


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
        tools = {t.id: t.tool for t in self.plan.tasks} if self.plan else {}
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


async def _tasks_of(plan: Plan) -> AsyncIterator[Task]:
    for task in plan.tasks:
        yield task


class Turn:
    """Draws, confirms and executes one plan, from a finished Plan or a task stream."""

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        console: Console,
        *,
        assume_yes: bool = False,
        dry_run: bool = False,
        live: bool | None = None,
        quiet: bool = False,
        stdin_is_tty: bool | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.console = console
        self.assume_yes = assume_yes
        self.dry_run = dry_run
        self.quiet = quiet  # --json: the JSON is the whole output
        self.live = not quiet and (console.is_terminal if live is None else live)
        self.stdin_is_tty = sys.stdin.isatty() if stdin_is_tty is None else stdin_is_tty

    def run(self, source: Plan | AsyncIterable[Task], outcome: Outcome,
            on_first_task: Callable[[], None] | None = None) -> Outcome:
        """Run the turn to the end; Ctrl-C cancels what is pending and reports what ran.

        An edited plan runs from the start: what ran of the old one was read-only, and
        its results may not fit the new arguments."""
        while True:
            edited = asyncio.run(self._run(source, outcome, on_first_task))
            if edited is None:
                return outcome
            source, on_first_task = edited, None
            outcome.edited = True
            outcome.results = {}

    async def _run(self, source: Plan | AsyncIterable[Task], outcome: Outcome,
                   on_first_task: Callable[[], None] | None) -> Plan | None:
        """Fills ``outcome``; returns the plan to run instead when the person edited it."""
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        interrupts = _Interrupts(loop, main)
        view = PlanView(self.catalog, "Plan (edited)" if outcome.edited else "Plan")
        drawn = False  # the finished plan is on the screen already
        gate: asyncio.Future[bool] = loop.create_future()
        start = time.perf_counter()

        def updated(task_id: int) -> None:
            if executor.status.get(task_id) == "running":
                outcome.timings.setdefault("first_start_s", time.perf_counter() - start)
            _sync_view(view, executor, task_id)

        executor = Executor(self.catalog, self.settings, gate=gate, on_update=updated, request=outcome.query or "")
        stream = _tasks_of(source) if isinstance(source, Plan) else source
        live = Live(view, console=self.console, refresh_per_second=12, transient=False) if self.live else None
        arrived: list[Task] = []
        plan_done = asyncio.Event()
        targets: list[asyncio.Task[None]] = []

        async def show_target(task: Task) -> None:
            target = await executor.target(task)
            if target is not None:
                view.targets[task.id] = target

        async def tracked() -> AsyncIterator[Task]:
            async for task in stream:
                if not arrived:  # an edited plan keeps the model's timings
                    outcome.timings.setdefault("first_task_s", time.perf_counter() - start)
                    if on_first_task:
                        on_first_task()
                arrived.append(task)
                view.add(task)
                targets.append(asyncio.create_task(show_target(task)))
                yield task
            outcome.timings.setdefault("plan_s", time.perf_counter() - start)
            await asyncio.gather(*targets)  # the person decides on a plan that says them
            plan_done.set()

        interrupts.install()
        try:
            if live:
                live.start()
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
                    if live:  # its last frame stays: the plan the person decides on
                        live.stop()
                        live = None
                    elif self.stdin_is_tty:
                        self.console.print(view)
                        drawn = True
                    edited = self._confirm(outcome.plan, len(gated), outcome, gate, interrupts)
                    if edited is not None:
                        gate.set_result(False)  # what waits is declined; what ran was read-only
                        await running
                        return edited
                    if self.live:  # progress until the answer takes its place
                        live = Live(view, console=self.console, refresh_per_second=12, transient=True)
                        live.start()
                else:  # nothing to ask, or --yes
                    gate.set_result(True)
                outcome.results = await running
                outcome.exit_code = EXIT_OK
        except asyncio.CancelledError:
            outcome.results = dict(sorted(executor.results.items()))
            outcome.plan = outcome.plan or Plan(tuple(arrived))
            outcome.exit_code = EXIT_INTERRUPTED
            outcome.error = "interrupted"
        except Declined as exc:
            if not gate.done():
                gate.set_result(False)
            outcome.results = await running
            outcome.exit_code = EXIT_DECLINED
            outcome.error = str(exc)
        finally:
            interrupts.remove()
            if live:
                live.stop()
            outcome.timings["total_s"] = time.perf_counter() - start
        if outcome.plan is not None and not self.dry_run:
            outcome.answer = join(outcome.plan, outcome.results)
            if outcome.exit_code == EXIT_OK and not outcome.answer.ok:
                outcome.exit_code = EXIT_TASK_FAILED
        if not self.live and not self.quiet and not drawn:  # no live display drew it: draw it once, finished
            self.console.print(view)
        return None

    def _confirm(self, plan: Plan, actions: int, outcome: Outcome, gate: asyncio.Future[bool],
                 interrupts: _Interrupts) -> Plan | None:
        """Ask; the edited plan when the person chose to edit it (and changed it), else None
        once confirmed (Declined when not)."""
        interrupts.remove()  # Ctrl-C at the prompt (or in the editor) must interrupt that itself
        try:
            while True:
                answer = confirm(self.console, actions, assume_yes=False, stdin_is_tty=self.stdin_is_tty)
                if answer != "edit":
                    break
                edited = edit_plan(plan, self.catalog, self.console)
                if edited is not None:
                    return edited
        except Declined:
            outcome.confirmation = "no" if self.stdin_is_tty else "refused"
            raise
        except KeyboardInterrupt:
            raise asyncio.CancelledError from None
        finally:
            interrupts.install()
        outcome.confirmation = answer
        gate.set_result(True)
        return None


def _sync_view(view: PlanView, executor: Executor, task_id: int) -> None:
    status = executor.status.get(task_id, "pending")
    started = executor.started.get(task_id)
    result = executor.results.get(task_id)
    seconds = result.seconds if result else (time.monotonic() - started if started else 0.0)
    view.update(task_id, status, result, seconds)


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


def error_outcome(query: str | None, error: TinyAgentError, **fields: Any) -> Outcome:
    return Outcome(query=query, exit_code=error.exit_code, error=str(error), **fields)


def run_query(agent: Any, turn: Turn, query: str, *, transcript: str | None = None) -> Outcome:
    """Plan ``query`` with the agent and run it through ``turn``, replanning at most
    ``replan_limit`` times: when the model's plan is invalid, or when a task failed and
    nothing that changes things has run yet (a replan must never repeat a side effect).

    A request that needs a tool this machine cannot run is refused before planning
    (ConfigError, exit 2): a plan without it would do some other, useless thing.
    """
    from ..agent import PlanTrace
    from ..errors import PlanError
    from ..plan.prompt import Failure

    settings = agent.settings
    attempts = settings.config.replan_limit + 1
    failure: Failure | None = None
    last_error: PlanError | None = None
    for attempt in range(attempts):
        request = agent.prepare(query, failure=failure)
        refusal = request.unavailable(agent.catalog)
        if refusal is not None:
            raise refusal
        trace = PlanTrace()
        outcome = Outcome(query=query, model=agent.model_spec.name, backend=settings.backend,
                          transcript=transcript, selected_tools=request.selection.tools)
        try:
            outcome = turn.run(agent.stream_tasks(request, trace), outcome)
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
            turn.console.print(f"[yellow]replanning: {failure.summary}[/yellow]")
            continue
        return outcome
    assert last_error is not None
    return error_outcome(query, PlanError(f"no valid plan after {attempts} attempt(s): {last_error}"),
                         model=agent.model_spec.name, backend=settings.backend, dry_run=turn.dry_run)
