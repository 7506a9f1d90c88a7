"""LLMCompiler's task fetching unit: run every task whose dependencies are done, at once.

Tasks may still be arriving (from a model's stream) while earlier ones run. Each tool
runs in its own daemon thread, so a blocking tool never serialises the others and a
hung one cannot keep the process alive; its subprocesses die with the task's
ToolContext (timeout or Ctrl-C). A failed task skips its dependents only.
Side-effecting tasks wait for ``gate`` (the person's confirmation) before they start, and
so does what a read-only task shows (``ToolContext.after_confirmation``).
One that started and was not seen to end (its timeout, its program's, Ctrl-C) is
"unknown", never "failed": it may have happened, and must not be done again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterable, Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import uuid4

from ..errors import OutcomeUnknown, TinyAgentError
from ..settings import Settings
from ..tools.context import ToolContext
from ..tools.spec import Catalog
from .tasks import REFERENCE, Status, Task, TaskResult

log = logging.getLogger(__name__)

TERMINAL: frozenset[Status] = frozenset({"done", "failed", "skipped", "declined", "unknown"})
_CHECK = "check before doing it again"


def substitute(value: Any, outputs: dict[int, str]) -> Any:
    """Replace ``$N``/``${N}`` with task N's output and ``$$`` with "$", in strings and
    inside lists."""
    if isinstance(value, str):
        return REFERENCE.sub(lambda m: outputs[int(m[1] or m[2])] if m[1] or m[2] else "$", value)
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, outputs) for v in value)
    return value


class Executor:
    """One plan's execution; ``results`` and ``status`` stay readable if it is interrupted."""

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        *,
        gate: asyncio.Future[bool] | None = None,
        on_update: Callable[[int], None] | None = None,
        now: datetime | None = None,
        run_id: str | None = None,
        request: str = "",
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.timeout = settings.config.timeout
        if catalog.backend == "macos":
            # An app's first answer can wait on macOS's permission dialog; osascript's own
            # limit (and its message about that dialog) must be reached before this one.
            self.timeout = max(self.timeout, settings.config.osascript_timeout + 5)
        self.gate = gate
        self.on_update = on_update or (lambda _id: None)
        self.now = now
        self.run_id = run_id or uuid4().hex[:16]
        self.request = request
        self.tasks: dict[int, Task] = {}
        self.status: dict[int, Status] = {}
        self.started: dict[int, float] = {}
        self.results: dict[int, TaskResult] = {}
        self._changed: asyncio.Event | None = None
        self._cancels: dict[int, threading.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deferred: list[Callable[[], None]] = []
        self._showing: list[asyncio.Future[None]] = []

    def needs_gate(self, task: Task) -> bool:
        return self.changes_things(task) or self.settings.config.confirm_read_only

    def changes_things(self, task: Task) -> bool:
        spec = self.catalog.get(task.tool)
        return spec is None or spec.side_effects

    async def run(self, source: Iterable[Task] | AsyncIterable[Task]) -> dict[int, TaskResult]:
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self.gate is not None:
            self.gate.add_done_callback(lambda _gate: self._release_deferred())
        feeding = asyncio.create_task(self._feed(source))
        running: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                self._changed.clear()
                self._start_ready(running)
                for task_id in [i for i, t in running.items() if t.done()]:
                    del running[task_id]
                if feeding.done() and not running and all(s in TERMINAL for s in self.status.values()):
                    break
                if feeding.done() and feeding.exception() is not None:
                    self._skip_waiting("the plan stopped here")
                    if not running:
                        break
                await self._changed.wait()
        except asyncio.CancelledError:
            self._cancel_all(running)
            raise
        finally:
            if not feeding.done():
                feeding.cancel()
        error = feeding.exception()
        if error is not None:
            raise error
        await asyncio.gather(*self._showing)  # its warnings come before the answer, not after
        return dict(sorted(self.results.items()))

    async def _feed(self, source: Iterable[Task] | AsyncIterable[Task]) -> None:
        try:
            if isinstance(source, AsyncIterable):
                async for task in source:
                    self._add(task)
            else:
                for task in source:
                    self._add(task)
        finally:
            assert self._changed is not None
            self._changed.set()

    def _add(self, task: Task) -> None:
        self.tasks[task.id] = task
        self.status[task.id] = "pending"
        self.on_update(task.id)
        assert self._changed is not None
        self._changed.set()

    def _start_ready(self, running: dict[int, asyncio.Task[None]]) -> None:
        progressed = True
        while progressed:  # skipping one task can make its dependents skippable too
            progressed = False
            for task_id, task in self.tasks.items():
                if self.status[task_id] != "pending" or task_id in running:
                    continue
                blocked = [d for d in task.deps if self.status.get(d) in TERMINAL - {"done"}]
                if blocked:
                    self._finish(task_id, "skipped", error=f"skipped: task {blocked[0]} did not complete")
                    progressed = True
                elif all(self.status.get(d) == "done" for d in task.deps):
                    running[task_id] = asyncio.create_task(self._run_task(task))

    def _skip_waiting(self, reason: str) -> None:
        for task_id, status in self.status.items():
            if status == "pending":
                self._finish(task_id, "skipped", error=f"skipped: {reason}")

    def _cancel_all(self, running: dict[int, asyncio.Task[None]]) -> None:
        for event in self._cancels.values():
            event.set()
        for task in running.values():
            task.cancel()
        for task_id, status in self.status.items():
            if status == "running" and self.changes_things(self.tasks[task_id]):
                self._finish(task_id, "unknown", error=f"interrupted while it ran; {_CHECK}")
            elif status not in TERMINAL:
                self._finish(task_id, "skipped", error="cancelled")

    def _finish(self, task_id: int, status: Status, *, output: str | None = None, error: str | None = None,
                args: tuple[Any, ...] = ()) -> None:
        seconds = time.monotonic() - self.started[task_id] if task_id in self.started else 0.0
        self.status[task_id] = status
        self.results[task_id] = TaskResult(task_id, status, output, error, seconds, args)
        self.on_update(task_id)
        if self._changed is not None:
            self._changed.set()

    async def _run_task(self, task: Task) -> None:
        if self.gate is not None and self.needs_gate(task):
            if not await asyncio.shield(self.gate):
                self._finish(task.id, "declined", error="not confirmed")
                return
        outputs = {d: self.results[d].output or "" for d in task.deps}
        args = substitute(task.args, outputs)
        cancel = threading.Event()
        self._cancels[task.id] = cancel
        self.status[task.id] = "running"
        self.started[task.id] = time.monotonic()
        self.on_update(task.id)
        unseen: Status = "unknown" if self.changes_things(task) else "failed"
        try:
            output = await asyncio.wait_for(self._call(task, args, cancel), self.timeout)
        except asyncio.TimeoutError:
            cancel.set()  # kills the tool's subprocess; the thread is left to die with it
            check = f"; {_CHECK}" if unseen == "unknown" else ""
            self._finish(task.id, unseen, error=f"timed out after {self.timeout:g} s{check}", args=args)
        except OutcomeUnknown as exc:
            self._finish(task.id, unseen, error=f"{exc}; {_CHECK}" if unseen == "unknown" else str(exc), args=args)
        except TinyAgentError as exc:
            self._finish(task.id, "failed", error=str(exc), args=args)
        except asyncio.CancelledError:
            cancel.set()
            if self.status.get(task.id) not in TERMINAL:  # _cancel_all may have said already
                interrupted: Status = "unknown" if unseen == "unknown" else "skipped"
                self._finish(task.id, interrupted, error="cancelled", args=args)
            raise
        except Exception as exc:  # a tool's bug is that task's failure, not the plan's
            self._finish(task.id, "failed", error=f"{type(exc).__name__}: {exc}", args=args)
        else:
            self._finish(task.id, "done", output=output, args=args)

    def _confirmed(self) -> bool | None:
        """True once the plan is confirmed (or there is nothing to confirm), False when refused."""
        if self.gate is None:
            return True
        if not self.gate.done():
            return None
        return not self.gate.cancelled() and self.gate.result()

    def _after_confirmation(self, action: Callable[[], None]) -> None:
        """ToolContext.after_confirmation, called from a tool's thread."""
        assert self._loop is not None

        def queue() -> None:
            self._deferred.append(action)
            self._release_deferred()

        try:
            self._loop.call_soon_threadsafe(queue)
        except RuntimeError:  # the run is over: nobody confirmed it
            pass

    def _release_deferred(self) -> None:
        confirmed = self._confirmed()
        if confirmed is None:
            return
        actions, self._deferred = self._deferred, []
        assert self._loop is not None
        for action in actions if confirmed else ():
            self._showing.append(self._loop.run_in_executor(None, _shown, action))

    def _context(self, task: Task, cancel: threading.Event) -> ToolContext:
        return ToolContext(self.settings, self.catalog.pack_of(task.tool).dir,
                           now=self.now or datetime.now().astimezone(), cancel=cancel,
                           key=f"{self.run_id}-{task.id}", after_confirmation=self._after_confirmation,
                           request=self.request)

    async def target(self, task: Task) -> str | None:
        """What the task will act on that its arguments do not say (Catalog.target), or why
        that cannot be told; None for a tool that does not say."""
        describe = self.catalog.target(task.tool) if task.tool in self.catalog.tools else None
        if describe is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.to_thread(describe, self._context(task, threading.Event())),
                                          self.timeout)
        except asyncio.TimeoutError:
            return f"cannot tell: no answer within {self.timeout:g} s"
        except TinyAgentError as exc:
            return f"cannot tell: {exc}"

    async def _call(self, task: Task, args: tuple[Any, ...], cancel: threading.Event) -> str:
        fn = self.catalog.implementation(task.tool)
        params = self.catalog.tools[task.tool].params
        args = tuple(params[i].choice(arg) if i < len(params) else arg for i, arg in enumerate(args))
        ctx = self._context(task, cancel)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if not future.done():
                future.set_result(value) if ok else future.set_exception(value)

        def work() -> None:
            try:
                value = fn(ctx, *args)
                result = (True, "" if value is None else str(value))
            except BaseException as exc:  # delivered to the awaiting task, not lost in the thread
                result = (False, exc)
            try:
                loop.call_soon_threadsafe(settle, *result)
            except RuntimeError:  # the loop is gone: the run ended (timeout or Ctrl-C) without us
                pass

        threading.Thread(target=work, name=f"task-{task.id}-{task.tool}", daemon=True).start()
        return await future


def _shown(action: Callable[[], None]) -> None:
    """Run what a finished task shows; failing to show it is a warning, the task stays done."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 — in a thread of its own: nobody else would hear it
        log.warning("%s", exc)

