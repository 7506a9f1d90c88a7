"""`tinyagent tools train` and `tinyagent tools suggest`: the tool retriever from the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ..settings import Settings
    from ..tools.spec import Catalog


def train_command(settings: Settings, catalog: Catalog, console: Console) -> None:
    """Retrain the tool retriever for the active backend now, and say how long it took."""
    from ..retrieval.toolrag import ToolRAG, model_key, model_path

    key = model_key(catalog)
    path = model_path(settings, key)
    rag = ToolRAG.train(catalog, settings, key=key)
    rag.save(path)
    info = rag.info
    console.print(
        f"Trained tool retrieval for {len(rag.tools)} tools ({catalog.backend} backend) on "
        f"{info['examples']:,} examples in {info['train_seconds']:.1f} s: {info['features']:,} features, "
        f"{len(rag.examples):,} examples in the bank, {path.stat().st_size / 1e6:.1f} MB at {path}"
    )


def suggest_command(settings: Settings, catalog: Catalog, query: str, as_json: bool, console: Console) -> None:
    """Every tool's score and threshold for ``query``, the selection, what it names for the
    repeatable tools, and the examples it would get."""
    from ..retrieval.examples import ExampleBank
    from ..retrieval.toolrag import ToolRAG

    rag = ToolRAG.load_or_train(catalog, settings)
    selection = rag.select(query)
    examples = ExampleBank.for_catalog(catalog, settings, rag).pick(query, selection.tools)
    ranked = sorted(rag.tools, key=lambda t: -selection.scores[t] / selection.thresholds[t])
    mentions = {t: n for t, n in rag.mentions.counts(query).items() if n}
    if as_json:
        console.print_json(
            data={
                "query": query,
                "backend": catalog.backend,
                "tools": list(selection.tools),
                "hinted": list(selection.hinted),
                "unavailable": list(selection.unavailable),
                "scores": {
                    t: {"score": round(selection.scores[t], 4), "threshold": round(selection.thresholds[t], 4)}
                    for t in ranked
                },
                "mentions": mentions,
                "examples": [e.query for e in examples],
            }
        )
        return

    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Tools for: {escape(query)}", title_justify="left")
    table.add_column("tool")
    table.add_column("score", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("selected")
    for tool in ranked:
        if tool not in catalog.tools:  # scored, never offered: a request sure to need it is refused
            mark = "[red]not here[/]"
        elif tool in selection.hinted:
            mark = "[yellow]hint[/]"
        elif tool in selection.tools:
            mark = "[green]yes[/]"
        else:
            mark = ""
        table.add_row(tool, f"{selection.scores[tool]:.3f}", f"{selection.thresholds[tool]:.3f}", mark)
    console.print(table)
    console.print(f"Selected: {', '.join(selection.tools)}")
    if mentions:
        console.print("Mentions: " + ", ".join(f"{n} for {t}" for t, n in mentions.items()))
    if examples:
        console.print("Examples: " + "; ".join(f"[dim]{escape(e.query)}[/]" for e in examples), highlight=False)
