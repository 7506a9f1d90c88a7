"""`tinyagent eval DATASET.jsonl`: plan every query of a dataset (nothing runs) and score it.

The backend defaults to macos whatever the platform: evaluation only plans, and the
macOS catalog has all 16 of TinyAgent's tools, so every query of our datasets can be
planned and the figures compare across machines. ``--backend portable`` measures what
the portable catalog can plan instead; a query whose gold plan uses a tool the catalog
lacks (send_sms there) is counted as skipped, with the reason in the --save file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EXIT_OK, ConfigError, DatasetError
from ..settings import Settings
from ..tools.spec import Catalog

if TYPE_CHECKING:
    from rich.console import Console

    from ..evaluate import QueryResult, Skipped

EVAL_BACKEND = "macos"


def eval_target(settings: Settings, catalog: Catalog, model: str | None) -> tuple[Settings, Catalog]:
    """The settings and catalog to evaluate with: macos unless a backend was chosen."""
    changes: dict[str, Any] = {}
    if settings.config.backend == "auto":
        changes["backend"] = EVAL_BACKEND
    if model and model != settings.config.model:
        changes["model"] = model
    if not changes:
        return settings, catalog
    settings = replace(settings, config=replace(settings.config, **changes))
    if "backend" not in changes:
        return settings, catalog
    from ..tools.spec import load_catalog

    return settings, load_catalog(settings)


def eval_command(
    settings: Settings,
    catalog: Catalog,
    dataset: Path,
    *,
    model: str | None,
    retrieval_only: bool,
    limit: int | None,
    as_json: bool,
    save: Path | None,
    console: Console,
    verbose: bool,
) -> int:
    """Evaluate planning (or retrieval only) on a JSONL dataset; print the figures; return the exit code."""
    from rich.console import Console

    from ..agent import Agent
    from ..evaluate import EVAL_NOW, QueryResult, evaluate_query, summarize
    from ..retrieval.dataset import read_dataset

    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    settings, catalog = eval_target(settings, catalog, model)
    examples = read_dataset(dataset)[:limit]
    if not examples:
        raise DatasetError(f"{dataset}: no queries to evaluate")
    stderr = Console(stderr=True, highlight=False)
    agent = Agent(settings, catalog, verbose=verbose, console=stderr)
    # The planner first, so a wrong --model fails before ToolRAG trains (seconds on a first run).
    model_name = None if retrieval_only else agent.model_spec.name
    if not retrieval_only:
        _ = agent.model
    _ = agent.examples  # train or load ToolRAG before the progress bar, which would hide its messages

    results: list[QueryResult] = []
    skipped: list[Skipped] = []
    with _progress(stderr) as progress:
        bar = progress.add_task("evaluating", total=len(examples))
        for index, example in enumerate(examples, 1):
            outcome = evaluate_query(agent, index, example, retrieval_only=retrieval_only)
            if isinstance(outcome, QueryResult):
                results.append(outcome)
            else:
                skipped.append(outcome)
            progress.update(bar, advance=1, description=_running_figure(results))

    report: dict[str, Any] = {
        "dataset": str(dataset),
        "backend": settings.backend,
        "model": model_name,
        "retrieval_only": retrieval_only,
        "limit": limit,
        "now": EVAL_NOW.isoformat(),
        **summarize(results, skipped),
    }
    if save is not None:
        _save_failures(save, results, skipped)
        report["saved"] = str(save)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_report(console, report, skipped)
    return EXIT_OK


def _progress(console: Console) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _running_figure(results: list[QueryResult]) -> str:
    planned = [r for r in results if r.success is not None]
    if planned:
        success = sum(bool(r.success) for r in planned) / len(planned)
        return f"success {success:.0%}, exact {sum(bool(r.exact) for r in planned) / len(planned):.0%}"
    return f"tool recall {sum(r.recalled for r in results) / len(results):.0%}" if results else "evaluating"


def _save_failures(path: Path, results: list[QueryResult], skipped: list[Skipped]) -> None:
    """One JSON line per failed query (gold plan, plan produced or error; for a right DAG, the
    arguments that differ), then the skipped ones."""
    lines = [json.dumps(r.failure_record(), ensure_ascii=False) for r in results if r.failed]
    lines += [json.dumps({"index": s.index, "query": s.query, "skipped": s.reason}, ensure_ascii=False) for s in skipped]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _print_report(console: Console, report: dict[str, Any], skipped: list[Skipped]) -> None:
    from rich.markup import escape
    from rich.table import Table

    model = report["model"] or "retrieval only"
    title = f"{report['dataset']}: {report['queries']} queries, {report['backend']} backend, {model}"
    summary = Table(title=title, title_justify="left", show_header=False)
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    retrieval = report["retrieval"]
    rows = [
        ("tool recall (all gold tools selected)", _pct(retrieval["tool_recall"])),
        ("tools per query (gold)", f"{_num(retrieval['tools_per_query'])} ({_num(retrieval['gold_tools_per_query'])})"),
        ("micro recall / precision", f"{_pct(retrieval['micro_recall'])} / {_pct(retrieval['micro_precision'])}"),
    ]
    if not report["retrieval_only"]:
        tokens = report["prompt_tokens"]
        rows = [
            ("success (isomorphic DAG)", _pct(report["success_rate"])),
            ("exact plans (and every argument)", _pct(report["exact_plan_rate"])),
            ("right DAG, an argument wrong", str(report["dag_right_arguments_wrong"])),
            ("valid plans", _pct(report["valid_plan_rate"])),
            (f"lookup arguments exact ({report['lookup_queries']} queries)", _pct(report["lookup_args_exact"])),
            *rows,
            ("prompt tokens: mean / all tools", f"{_num(tokens['mean'])} / {_num(tokens['all_tools_mean'])}"),
        ]
    for name, spread in report["latency_s"].items():
        if spread["n"]:
            rows.append((f"{name.replace('_', ' ')} p50 / p95", f"{spread['p50']:.3f} s / {spread['p95']:.3f} s"))
    rows.append(("failures" if report["retrieval_only"] else "failures (plans not exact)", str(report["failures"])))
    if report["skipped"]:
        rows.append(("skipped (gold plan not plannable here)", str(report["skipped"])))
    for row in rows:
        summary.add_row(*row)
    console.print(summary)

    planned = not report["retrieval_only"]
    title = "per gold tool: retrieval recall and precision" + (", plan success, exact plans" if planned else "")
    tools = Table(title=title, title_justify="left")
    tools.add_column("tool", no_wrap=True)
    for column in ("queries", "recall", "precision", *(("success", "exact") if planned else ())):
        tools.add_column(column, justify="right")
    for name, row in report["per_tool"].items():
        cells = [str(row["queries"]), _pct(row["retrieval_recall"]), _pct(row["retrieval_precision"])]
        if planned:
            cells += [_pct(row["success_rate"]), _pct(row.get("exact_plan_rate"))]
        tools.add_row(name, *cells)
    console.print(tools)

    sizes = Table(title="per size of the gold plan (calls)", title_justify="left")
    sizes.add_column("calls", no_wrap=True)
    for column in ("queries", "recall", "tools offered", *(("success", "exact") if planned else ())):
        sizes.add_column(column, justify="right")
    for bucket, row in report["per_call_count"].items():
        cells = [str(row["queries"]), _pct(row["tool_recall"]), _num(row["tools_per_query"])]
        if planned:
            cells += [_pct(row["success_rate"]), _pct(row["exact_plan_rate"])]
        sizes.add_row(bucket, *cells)
    console.print(sizes)
    if planned:
        console.print("plans not exact, by mistake: " + ", ".join(
            f"{kind} {count}" for kind, count in report["mistakes"].items()), highlight=False)
    for item in skipped[:5]:
        console.print(f"[yellow]skipped query {item.index}:[/yellow] {escape(item.reason)}", highlight=False)
    if report.get("saved"):
        console.print(f"failures written to {report['saved']}")
