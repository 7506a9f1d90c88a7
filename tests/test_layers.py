"""The layers hold: what each part of the package may import, read from the source itself.

plan/ is the plan language and knows no model, screen or log; the UI only draws and asks
(the loop, the agent and the log never import it); only planners/ asks which style a planner
is; and the modules' own imports (at the top, as Python runs them on import) form no cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "tinyagent_cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The tinyagent_cli modules ``path`` imports: everywhere, or only where Python runs them
    on import (not in functions, not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if top_level_only and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*up, base] if base else up)
                if base.startswith("tinyagent_cli"):
                    found.add(base)
                    found.update(f"{base}.{alias.name}" for alias in child.names)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names if alias.name.startswith("tinyagent_cli"))
            visit(child)

    visit(tree)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules}


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_plan_language_imports_no_model_screen_or_log() -> None:
    for path in (PACKAGE / "plan").rglob("*.py"):
        bad = [m for m in imports(path, top_level_only=False)
               if m.startswith(("tinyagent_cli.llm", "tinyagent_cli.ui", "tinyagent_cli.planners"))
               or m in ("tinyagent_cli.history", "tinyagent_cli.agent", "tinyagent_cli.loop", "tinyagent_cli.cli")]
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_only_the_command_line_draws() -> None:
    drawing = ("ui", "commands", "cli.py", "plugins")  # plugins/: the built-in plugin's `plugins` command
    for path in SOURCES:
        inner = path.relative_to(PACKAGE)
        if inner.parts[0] in drawing:
            continue
        bad = [m for m in imports(path, top_level_only=False) if m.startswith("tinyagent_cli.ui")]
        assert not bad, f"{inner} imports {bad}"


def test_only_planners_ask_which_style_a_planner_is() -> None:
    asked = re.compile(r"prompt_style\s*(==|!=|not in|in)\s*[\"'(\[]|[\"']\s*(==|!=)\s*\w*\.?prompt_style")
    for path in SOURCES:
        inner = path.relative_to(PACKAGE)
        if inner.parts[0] == "planners":
            continue
        found = [line for line in path.read_text(encoding="utf-8").splitlines() if asked.search(line)]
        assert not found, f"{inner}: {found}"


def test_no_import_cycle() -> None:
    graph = nx.DiGraph()
    for path in SOURCES:
        name = module_name(path)
        graph.add_node(name)
        for imported in imports(path, top_level_only=True):
            if imported != name and not name.startswith(imported + "."):  # a package's own __init__
                graph.add_edge(name, imported)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles[:5]
