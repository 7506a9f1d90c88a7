"""The ``tinyagent`` command: a thin Typer face over settings, catalog, agent and UI.

Start-up stays quick: only typer is imported here; every command imports what it
needs in its body. Errors become one line and an exit code in ``main`` and nowhere else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from . import __version__
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, TinyAgentError

if TYPE_CHECKING:
    from rich.console import Console

    from .settings import Settings
    from .tools.spec import Catalog

app = typer.Typer(
    name="tinyagent",
    help="A local, Siri-like agent: plans tool calls with a small model on your machine, asks, then runs them.",
    no_args_is_help=False,
    add_completion=True,
    rich_markup_mode=None,
)
tools_app = typer.Typer(help="The tools the planner may use.", no_args_is_help=True)
models_app = typer.Typer(help="Planner and speech models: installed, pulled, removed.", no_args_is_help=True)
contacts_app = typer.Typer(help="Contacts of the portable backend (vCard files).", no_args_is_help=True)
history_app = typer.Typer(help="The log of past runs.", invoke_without_command=True)
app.add_typer(tools_app, name="tools")
app.add_typer(models_app, name="models")
app.add_typer(contacts_app, name="contacts")
app.add_typer(history_app, name="history")

_state: dict[str, Any] = {"verbose": False}

BackendOption = typer.Option(None, "--backend", help="Tool backend: macos or portable (default: by platform).")
JsonOption = typer.Option(False, "--json", help="Print one JSON object instead of the tree.")
YesOption = typer.Option(False, "--yes", "-y", help="Run actions that change things without asking.")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _load(backend: str | None = None, model: str | None = None) -> tuple[Settings, Catalog]:
    from .settings import Settings
    from .tools.spec import load_catalog

    settings = Settings.load(backend=backend, model=model)
    return settings, load_catalog(settings)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tinyagent {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show model and library logs."),
) -> None:
    _state["verbose"] = verbose
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():  # a person at a terminal: open the REPL
            raise typer.Exit(chat(model=None, backend=None, dry_run=False, yes=False))
        typer.echo(ctx.get_help())


def _read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        from .errors import ConfigError

        raise ConfigError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None


@app.command("exec")
def exec_(
    plan_file: str = typer.Argument(..., metavar="PLAN", help="A plan file (text or our JSON), or - for stdin."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and draw the plan; run nothing."),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
    backend: Optional[str] = BackendOption,
    no_log: bool = typer.Option(False, "--no-log", help="Do not record this run in the history log."),
) -> int:
    """Validate, draw, confirm and run a plan written in the LLMCompiler format."""
    from .loop import Loop, Outcome
    from .plan.parser import parse_plan, plan_from_json
    from .ui.turn import TerminalFrontend

    with _json_on_error(as_json) as report:
        settings, catalog = _load(backend)
        text = _read_source(plan_file)
        query = None
        if text.lstrip().startswith("{"):
            from .errors import PlanError

            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise PlanError(f"not valid JSON: {exc.msg}", exc.lineno) from None
            if not isinstance(data, dict) or "plan" not in data:
                raise PlanError("a JSON plan must be an object with a 'plan' list (the shape --json prints)")
            query = report["query"] = data.get("query") if isinstance(data.get("query"), str) else None
            plan = plan_from_json(data["plan"], catalog)
        else:
            plan = parse_plan(text, catalog)
    console = _console(stderr=as_json)
    loop = Loop(catalog, settings, TerminalFrontend(catalog, console, quiet=as_json), assume_yes=yes, dry_run=dry_run)
    outcome = loop.run(plan, Outcome(query=query, backend=settings.backend))
    _log(settings, outcome, enabled=not no_log)
    return _finish(outcome, as_json, console)


@app.command()
def run(
    query: Optional[str] = typer.Argument(None, help="What to do, in your words; - reads it from stdin."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and draw only; run nothing."),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Planner model (see `tinyagent models list`)."),
    backend: Optional[str] = BackendOption,
    voice: bool = typer.Option(False, "--voice", help="Say the request (default microphone)."),
    audio: Optional[Path] = typer.Option(None, "--audio", help="Transcribe the request from a wav, mp3 or m4a file."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not record this run in the history log."),
) -> int:
    """Plan a request with the local model, confirm, and run it."""
    from .agent import Agent
    from .loop import Loop
    from .ui.turn import TerminalFrontend

    with _json_on_error(as_json) as report:
        settings, catalog = _load(backend, model)
        console = _console(stderr=as_json)
        transcript = None
        if voice or audio is not None:
            from .commands.voice_cmds import listen

            transcript = listen(settings, console, audio, meter=_console(stderr=True))
            query = transcript
        elif query == "-":
            query = sys.stdin.read()
        if not query or not query.strip():
            from .errors import ConfigError

            raise ConfigError("nothing to do: give a request, - for stdin, --voice or --audio FILE")
        report["query"] = query = query.strip()
        agent = Agent(settings, catalog, verbose=_state["verbose"], console=_console(stderr=True))
        agent.model  # noqa: B018 — load (and on first use, install) before the live display starts
        loop = Loop(catalog, settings, TerminalFrontend(catalog, console, quiet=as_json), assume_yes=yes,
                    dry_run=dry_run)
        outcome = loop.query(agent, query, transcript=transcript)
    _log(settings, outcome, enabled=not no_log)
    return _finish(outcome, as_json, console)


@contextmanager
def _json_on_error(as_json: bool) -> Iterator[dict[str, Any]]:
    """With --json, an error before the turn still prints the documented object (its
    ``exit_code`` and ``error``, and the query once known) on stdout; ``main`` then prints
    the line and exits."""
    report: dict[str, Any] = {"query": None}
    try:
        yield report
    except TinyAgentError as exc:
        if as_json:
            from .loop import error_outcome

            outcome = error_outcome(report["query"], exc)
            sys.stdout.write(json.dumps(outcome.to_json(), ensure_ascii=False, indent=2) + "\n")
        raise


@app.command("prompt")
def prompt_(
    query: str = typer.Argument(..., help="A request, in your words; - reads it from stdin."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Planner model (see `tinyagent models list`)."),
    backend: Optional[str] = BackendOption,
) -> None:
    """Print the exact text the planner would receive for a request, without loading it."""
    from .commands.prompt_cmd import prompt_command

    settings, catalog = _load(backend, model)
    prompt_command(settings, catalog, query)


@app.command()
def chat(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Planner model (see `tinyagent models list`)."),
    backend: Optional[str] = BackendOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Start with dry-run on: plan and draw only."),
    yes: bool = YesOption,
) -> int:
    """Talk to the agent in a session that keeps the model loaded (a bare `tinyagent` opens it too)."""
    from .ui.repl import run_repl

    settings, catalog = _load(backend, model)
    return run_repl(settings, catalog, _console(), dry_run=dry_run, yes=yes, verbose=_state["verbose"])


def _log(settings: Settings, outcome: Any, *, enabled: bool) -> None:
    """Append the run to the history log; a broken log warns and never stops the agent."""
    if not (enabled and settings.config.log_history):
        return
    from .history import HistoryLog, RunRecord

    HistoryLog.for_settings(settings).record(RunRecord.from_outcome(outcome, transcript=outcome.transcript))


def _finish(outcome: Any, as_json: bool, console: Console) -> int:
    """Print the outcome the way the person asked for, and return its exit code."""
    if as_json:
        sys.stdout.write(json.dumps(outcome.to_json(), ensure_ascii=False, indent=2) + "\n")
        return outcome.exit_code
    from .ui.turn import print_outcome

    print_outcome(console, outcome, _error_line)
    return outcome.exit_code


@tools_app.command("list")
def tools_list(as_json: bool = JsonOption, backend: Optional[str] = BackendOption) -> None:
    """List the tools of every loaded pack for the active backend."""
    settings, catalog = _load(backend)
    if as_json:
        rows = [_tool_json(spec) for spec in catalog.tools.values()]
        sys.stdout.write(json.dumps({"backend": settings.backend, "tools": rows}, indent=2) + "\n")
        return
    from .ui.render import tools_table

    _console().print(tools_table(catalog))


@tools_app.command("show")
def tools_show(name: str, as_json: bool = JsonOption, backend: Optional[str] = BackendOption) -> None:
    """Show one tool: its description, parameters, backends and usual predecessors."""
    from .errors import ConfigError

    settings, catalog = _load(backend)
    spec = catalog.get(name)
    if spec is None:
        raise ConfigError(catalog.why_unavailable(name))
    if as_json:
        sys.stdout.write(json.dumps(_tool_json(spec), indent=2) + "\n")
        return
    from .ui.render import tool_detail

    _console().print(tool_detail(spec))


def _tool_json(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "params": [{"name": p.name, "type": p.type, "description": p.description} for p in spec.params],
        "side_effects": spec.side_effects,
        "backends": list(spec.backends),
        "after": list(spec.after),
        "pack": spec.pack,
    }


@tools_app.command("train")
def tools_train(backend: Optional[str] = BackendOption) -> None:
    """Retrain the tool classifier (ToolRAG) on the packs' examples now."""
    from .commands.tools_rag import train_command

    settings, catalog = _load(backend)
    train_command(settings, catalog, _console())


@tools_app.command("suggest")
def tools_suggest(query: str, as_json: bool = JsonOption, backend: Optional[str] = BackendOption) -> None:
    """Show each tool's score for a request, and which tools would be offered to the planner."""
    from .commands.tools_rag import suggest_command

    settings, catalog = _load(backend)
    suggest_command(settings, catalog, query, as_json, _console())


@models_app.command("list")
def models_list(as_json: bool = JsonOption) -> None:
    """List known models: installed or not, where, and their size."""
    from .commands.models import list_command

    list_command(_load()[0], _console(), as_json)


@models_app.command("pull")
def models_pull(name: str) -> None:
    """Download a model from the Hugging Face hub (resumable) and verify it."""
    from .commands.models import pull_command

    pull_command(_load()[0], name, _console())


@models_app.command("path")
def models_path(name: str) -> None:
    """Print where an installed model is."""
    from .commands.models import path_command

    path_command(_load()[0], name, _console())


@models_app.command("rm")
def models_rm(name: str) -> None:
    """Remove a downloaded or assembled model."""
    from .commands.models import rm_command

    rm_command(_load()[0], name, _console())


@contacts_app.command("import")
def contacts_import(path: Path = typer.Argument(..., metavar="FILE.vcf")) -> None:
    """Import the cards of a vCard file into the portable contacts folder."""
    from .commands.contacts import import_command

    import_command(_load()[0], path, _console())


@contacts_app.command("list")
def contacts_list(as_json: bool = JsonOption) -> None:
    """List the portable backend's contacts."""
    from .commands.contacts import list_command

    list_command(_load()[0], _console(), as_json)


@history_app.callback()
def history(
    ctx: typer.Context,
    as_json: bool = JsonOption,
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs to list."),
) -> None:
    """List past runs (newest first); `history show ID` shows one."""
    if ctx.invoked_subcommand is None:
        from .commands.history_cmds import list_command

        list_command(_load()[0], _console(), as_json, limit)


@history_app.command("show")
def history_show(run_id: int = typer.Argument(..., metavar="ID"), as_json: bool = JsonOption) -> None:
    """Show one run: query, plan, results, answer and timings."""
    from .commands.history_cmds import show_command

    show_command(_load()[0], _console(), run_id, as_json)


@app.command()
def transcribe(
    path: Path = typer.Argument(..., metavar="FILE", help="A wav, mp3 or m4a file."),
    as_json: bool = JsonOption,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Speech model (default: speech_model in config)."),
) -> None:
    """Transcribe speech from an audio file with faster-whisper."""
    from .commands.voice_cmds import transcribe_command

    transcribe_command(_load()[0], path, as_json, _console(), model)


@app.command("eval")
def eval_(
    dataset: Path = typer.Argument(..., metavar="DATASET.jsonl", help='JSONL lines of {"query", "plan"}.'),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Planner model to evaluate."),
    retrieval_only: bool = typer.Option(False, "--retrieval-only", help="Only tool retrieval; no model, seconds."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Only the first N queries."),
    as_json: bool = JsonOption,
    save: Optional[Path] = typer.Option(None, "--save", help="Write each failed query (gold and produced) as JSONL."),
    backend: Optional[str] = typer.Option("macos", "--backend", help="Tool set to plan with (nothing runs)."),
) -> int:
    """Score the planner on a dataset: success rate, retrieval, plan validity, latency."""
    from .commands.evaluate_cmd import eval_command

    settings, catalog = _load(backend, model)
    return eval_command(settings, catalog, dataset, model=model, retrieval_only=retrieval_only, limit=limit,
                        as_json=as_json, save=save, console=_console(stderr=as_json), verbose=_state["verbose"])


@app.command()
def train(
    datasets: Optional[list[Path]] = typer.Argument(
        None, metavar="[DATASET.jsonl]...",
        help="Solved queries to learn from (default: the packs' examples); a file named twice counts twice."),
    out: Path = typer.Option(Path("planner-adapter.gguf"), "--out", "-o", help="Where to write the GGUF adapter."),
    base: str = typer.Option("gemma3-270m", "--base", help="The llama_cpp model to adapt."),
    backend: Optional[str] = typer.Option("macos", "--backend", help="Tool set whose selections the prompts show."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.01, help="Passes over the data (0.5: half of it, once)."),
    max_steps: int = typer.Option(0, "--max-steps", min=0, help="Stop after this many steps (0: no limit)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    learning_rate: float = typer.Option(2e-4, "--lr", min=0.0),
    rank: int = typer.Option(16, "--rank", min=1, help="LoRA rank."),
    examples: int = typer.Option(0, "--examples", min=0, help="Retrieved examples in each prompt (0 for the shortest)."),
    held_out: float = typer.Option(0.03, "--held-out", min=0.0, max=0.5, help="Share of templates held out for a loss."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Only the first N examples."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    resume: bool = typer.Option(False, "--resume", help="Go on from the last checkpoint beside --out."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this GGUF adapter instead of from zero."),
    as_json: bool = JsonOption,
) -> None:
    """Fine-tune a planner (LoRA) on solved queries; needs: pip install 'tinyagent-cli[train]'."""
    from .commands.train_cmd import train_command
    from .train.lora import TrainConfig

    settings, catalog = _load(backend)
    config = TrainConfig(rank=rank, alpha=2.0 * rank, learning_rate=learning_rate, batch_size=batch_size,
                         epochs=epochs, max_steps=max_steps, seed=seed, device=device)
    train_command(settings, catalog, datasets or [], out, base=base, config=config, examples_in_prompt=examples,
                  held_out=held_out, limit=limit, resume=resume, init=init, as_json=as_json,
                  console=_console(stderr=True))


@app.command()
def doctor(as_json: bool = JsonOption, backend: Optional[str] = BackendOption) -> int:
    """Check what works here, and say how to fix what does not."""
    from .commands.doctor import doctor_command
    from .settings import Config, Paths, Settings
    from .tools.spec import load_catalog

    try:
        settings = Settings.load(backend=backend)
    except TinyAgentError:  # doctor reports the broken config file itself
        settings = Settings(Paths.discover(), Config(backend=backend or "auto"))
    try:
        catalog = load_catalog(settings)
    except TinyAgentError:
        catalog = None  # doctor reports the broken pack itself
    return doctor_command(settings, catalog, _console(), as_json)


def _error_line(message: str) -> None:
    sys.stderr.write(f"tinyagent: {message}\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every expected error to its exit code."""
    from typer.exceptions import TyperException

    from .plugins import register_commands

    register_commands(app)  # plugins' commands (and `plugins`, from the built-in one), before parsing
    try:
        code = app(args=argv, standalone_mode=False)
    except TinyAgentError as exc:
        _error_line(str(exc))
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        show() if show else _error_line(exc.format_message())
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        _error_line("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
