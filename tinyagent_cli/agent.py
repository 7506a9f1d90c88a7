"""The Agent: query in, tasks out, as a stream, wiring the pipeline of DESIGN.md.

    query -> ToolRAG -> example bank -> prompt + grammar -> model stream -> parser

Everything heavy (the classifier, the model) loads on first use and stays loaded for
the process, so a REPL pays for it once. ``loop.Loop`` drives the rest (confirm, execute,
join, replan) for the CLI and the REPL; evaluation uses ``plan`` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .errors import ConfigError, PlanError
from .plan.checks import ResultKinds
from .plan.parser import StreamingParser, numbered_call
from .plan.prompt import Failure, Prompt
from .plan.tasks import Plan, Task
from .planners import PlannerStyle
from .settings import Settings
from .tools.spec import Catalog

if TYPE_CHECKING:
    from rich.console import Console

    from .llm.base import LanguageModel
    from .llm.chat_template import TemplateChoice
    from .llm.registry import ModelSpec
    from .retrieval.examples import ExampleBank
    from .retrieval.toolrag import Selection, ToolRAG

MAX_PLAN_TOKENS = 320


@dataclass(frozen=True)
class PlanRequest:
    """Everything the model is given for one query."""

    query: str
    selection: Selection
    examples: tuple[tuple[str, str], ...]
    prompt: Prompt
    grammar: str
    retrieval_s: float
    required: tuple[str, ...]  # tools the plan must call: a repeated line is refused while one is missing
    kinds: ResultKinds  # what the plan's results must respect, with the values this request gives

    def unavailable(self, catalog: Catalog) -> ConfigError | None:
        """Why this request cannot be planned here: a tool it surely needs cannot run on this
        machine, and a plan without it would do some other, useless thing."""
        if not self.selection.unavailable:
            return None
        return ConfigError("this request needs " + "; and ".join(
            f"{tool}, which {catalog.lack(tool)}" for tool in self.selection.unavailable))


@dataclass
class PlanTrace:
    """What happened while planning, for --json, history and evaluation."""

    text: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    repeat: str = ""  # the repeated call that ended the plan early, if one did


class RepeatGuard:
    """Refuses a plan line that repeats an earlier call while a tool the plan must call is
    still missing. Kept from join() by the grammar, Gemma 270M writes an earlier call
    again ("email Jamal and Ana the report": the file is opened twice and nothing is
    sent); asked for its next likeliest line instead, it often writes the missing call."""

    def __init__(self, required: tuple[str, ...]) -> None:
        self.missing = set(required)
        self.calls: set[str] = set()

    def __call__(self, line: str) -> bool:
        found = numbered_call(line)
        if found is None:
            return False
        tool, call = found
        if call in self.calls:
            return bool(self.missing)
        self.calls.add(call)
        self.missing.discard(tool)
        return False


class Agent:
    def __init__(self, settings: Settings, catalog: Catalog, *, verbose: bool = False,
                 console: Console | None = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self.verbose = verbose
        self.console = console
        self._toolrag: ToolRAG | None = None
        self._examples: ExampleBank | None = None
        self._model: LanguageModel | None = None
        self._spec: ModelSpec | None = None
        self._template: TemplateChoice | None = None

    # ---- the pieces, loaded on first use --------------------------------------------

    @property
    def model_spec(self) -> ModelSpec:
        if self._spec is None:
            from .llm.registry import load_registry

            self._spec = load_registry(self.settings).get(self.settings.config.model)
            if self._spec.kind != "planner":
                from .errors import ModelError

                raise ModelError(f"{self._spec.name} is a {self._spec.kind} model; choose a planner with --model")
        return self._spec

    @property
    def model(self) -> LanguageModel:
        if self._model is None:
            from .llm.backends import open_model

            self._model = open_model(self.model_spec, self.settings, verbose=self.verbose, console=self.console)
            self._warn_if_trained_for_other_tools()
        return self._model

    def _warn_if_trained_for_other_tools(self) -> None:
        trained_for = self.model.trained_toolset()
        if trained_for is None:
            return
        new = sorted(set(self.catalog.tools) - set(trained_for))
        if new:
            import sys

            print(f"warning: {self.model_spec.name} was trained before these tools existed: {', '.join(new)}; "
                  "it may not plan them well (tinyagent train makes an adapter that knows them)", file=sys.stderr)

    @property
    def style(self) -> PlannerStyle:
        """How this planner is prompted and held (``planners/``)."""
        from . import planners

        return planners.get(self.model_spec.prompt_style)

    @property
    def examples_k(self) -> int:
        """Solved examples in this planner's prompt: its models.yaml entry's, its style's, or the config's."""
        for k in (self.model_spec.examples, self.style.examples):
            if k is not None:
                return k
        return self.settings.config.examples_k

    @property
    def template(self) -> TemplateChoice:
        """The chat template this planner's prompt is wrapped in (read from its GGUF's header)."""
        if self._template is None:
            from .llm.chat_template import choose_template

            self._template = choose_template(self.model_spec, self.settings)
        return self._template

    @property
    def toolrag(self) -> ToolRAG:
        if self._toolrag is None:
            from .retrieval.toolrag import ToolRAG

            self._toolrag = ToolRAG.load_or_train(self.catalog, self.settings)
        return self._toolrag

    @property
    def examples(self) -> ExampleBank:
        if self._examples is None:
            from .retrieval.examples import ExampleBank

            self._examples = ExampleBank.for_catalog(self.catalog, self.settings, self.toolrag)
        return self._examples

    def warm_up(self) -> None:
        """Load the classifier and model and evaluate the fixed prompt prefix (REPL start)."""
        prompt = self.style.prompt("", [], [], now=datetime.now(), template=self.template.template)
        self.model.warm_prefix(prompt.prefix, cache_dir=self.settings.paths.cache_dir / "kv")
        if self.examples_k:  # a planner that reads no examples needs no bank (nor its tagger)
            _ = self.examples

    # ---- planning --------------------------------------------------------------------

    def prepare(self, query: str, *, failure: Failure | None = None, now: datetime | None = None) -> PlanRequest:
        start = time.perf_counter()
        style = self.style
        selection = self.toolrag.select(query)
        k = self.examples_k
        examples = self.examples.pick(query, selection.tools, k, cover=selection.certain) if k else []
        retrieval_s = time.perf_counter() - start
        tools = [self.catalog.tools[name] for name in selection.tools]
        prompt = style.prompt(
            query,
            tools,
            [(e.query, e.plan) for e in examples],
            now=now or datetime.now().astimezone(),
            instructions=self.settings.config.instructions,
            failure=failure,
            template=self.template.template,
        )
        # Verbatim arguments quote the request, or a standing instruction ("cc Nick").
        given = (query, *self.settings.config.instructions)
        kinds = ResultKinds(self.catalog.tools, given=given)
        sure = kinds.unanswered(selection.certain)
        grammar = style.policy.grammar(tools, sure=sure, given=given)
        return PlanRequest(query, selection, tuple((e.query, e.plan) for e in examples), prompt, grammar,
                           retrieval_s, style.policy.required(sure), kinds)

    async def stream_tasks(self, request: PlanRequest, trace: PlanTrace,
                           *, now: datetime | None = None) -> AsyncIterator[Task]:
        """Tasks the moment the model finishes each line; PlanError if the plan is invalid."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        stop = threading.Event()
        model = self.model  # load in this thread: loading errors surface here, not in the worker
        style = self.style
        trace.prompt_tokens = model.count_tokens(request.prompt.text)
        start = time.perf_counter()


        def send(kind: str, value: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the turn is over (cancelled): nobody is listening
                stop.set()

        def generate() -> None:
            try:
                # restores the fixed prefix's KV state from disk in a fresh process (llama.cpp)
                model.warm_prefix(request.prompt.prefix, cache_dir=self.settings.paths.cache_dir / "kv")
                guard = RepeatGuard(request.required if style.repeat_guard else ())
                kinds = request.kinds
                chunks = model.stream(request.prompt.text, grammar=request.grammar, max_tokens=MAX_PLAN_TOKENS,
                                      stop=style.stop, reject=lambda line: kinds.pointless(line) or guard(line),
                                      forbid=kinds.forbids)
                with contextlib.closing(chunks):  # releases the model at once when cancelled
                    for chunk in chunks:
                        if stop.is_set():
                            return
                        send("chunk", chunk)
                send("end", None)
            except BaseException as exc:  # handed to the event loop, which raises it
                send("error", exc)

        # Not a daemon: the interpreter waits for it at exit instead of tearing llama.cpp
        # down under a running generation (which crashed the process after a Ctrl-C).
        worker = threading.Thread(target=generate, name="planner")
        worker.start()
        parser = StreamingParser(self.catalog, now=now)
        emitted: list[Task] = []
        try:
            while True:
                kind, value = await queue.get()
                if kind == "error":
                    raise value  # type: ignore[misc]
                if kind == "end":
                    tasks = parser.finish()
                else:
                    trace.text += str(value)
                    tasks = parser.feed(str(value))
                for task in tasks:
                    task = style.finish(task, self.catalog.tools[task.tool], request.query)
                    if any(task.tool == seen.tool and task.args == seen.args for seen in emitted):
                        # A small model that has nothing more to plan writes an earlier call
                        # again: that is the end (RepeatGuard has already asked for another
                        # line if a required tool was missing).
                        trace.repeat = task.call_text()
                        return
                    trace.timings.setdefault("first_task_s", time.perf_counter() - start)
                    emitted.append(task)
                    yield task
                if kind == "end":
                    break
        finally:
            stop.set()
            trace.timings["plan_s"] = time.perf_counter() - start

    def plan(self, query: str, *, now: datetime | None = None,
             on_task: Callable[[Task], None] | None = None) -> tuple[Plan | None, PlanRequest, PlanTrace, PlanError | None]:
        """Plan without executing (dry runs, evaluation): the plan or the PlanError."""
        request = self.prepare(query, now=now)
        trace = PlanTrace()

        async def collect() -> list[Task]:
            tasks = []
            async for task in self.stream_tasks(request, trace, now=now):
                tasks.append(task)
                if on_task:
                    on_task(task)
            return tasks

        try:
            return Plan(tuple(asyncio.run(collect()))), request, trace, None
        except PlanError as exc:
            return None, request, trace, exc
