"""Check hand-written dataset lines before they are used: every plan one the trained planner
could write and the conventions of datasets/README.md would accept.

    python scripts/check_dataset.py FILE.jsonl [FILE.jsonl ...] [--grammar] [--author] [--against OTHER.jsonl ...]

Each line is checked for: a JSON object with a query and a plan (and an ``author`` with
``--author``); a plan the real parser accepts against the macOS catalog, numbered 1..n with
``join()`` last; no more calls or list items than the planner's grammar allows; no "$N"
that result kinds forbid and no lookup of what the request gave; no date where the request
says none; the conventions' priority, transport and duration values; and with ``--grammar``
(loads the embedded Gemma) the trained planner's own grammar for that request; and no line
nearly repeats an earlier one or one of ``--against`` with a plan of the same calls. Problems are
printed as ``FILE:LINE: reason`` and the exit status is 1 if there was any; a summary of
tools and call counts goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyagent_cli.errors import PlanError  # noqa: E402
from tinyagent_cli.plan.checks import ResultKinds  # noqa: E402
from tinyagent_cli.plan.grammar import MAX_LIST, MAX_TASKS, plan_grammar, request_dates, string_bound  # noqa: E402
from tinyagent_cli.plan.parser import parse_plan  # noqa: E402
from tinyagent_cli.settings import Settings  # noqa: E402
from tinyagent_cli.tools.spec import load_catalog  # noqa: E402

# A fixed clock (a Wednesday) so that date phrases resolve the same on every run.
NOW = datetime(2026, 5, 13, 10, 0).astimezone()
PRIORITIES = {0, 1, 5, 9}
# Two requests this similar (cosine of character n-grams) whose plans make the same calls say
# the same thing in nearly the same words: measured on the natural corpus (its README).
NEAR_DUPLICATE = 0.8
TRANSPORTS = {"d", "w", "r"}


def problems(row: object, catalog, kinds_tools, *, author: bool) -> list[str]:
    """What is wrong with one dataset row, as short reasons (empty when nothing is)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    query, text = row.get("query"), row.get("plan")
    if not isinstance(query, str) or not query.strip():
        return ["no query"]
    if not isinstance(text, str) or not text.strip():
        return ["no plan"]
    if author and not (isinstance(row.get("author"), str) and row["author"].strip()):
        return ["no author"]
    try:
        plan = parse_plan(text, catalog, now=NOW)
    except PlanError as error:
        return [f"does not parse: {error}"]
    lines = text.splitlines()
    found = []
    if [t.id for t in plan.tasks] != list(range(1, len(plan.tasks) + 1)):
        found.append("tasks are not numbered 1..n")
    if lines[-1] != f"{len(plan.tasks) + 1}. join()" or len(lines) != len(plan.tasks) + 1:
        found.append("one call a line, then a bare join() as the last line")
    if len(plan.tasks) > MAX_TASKS:
        found.append(f"{len(plan.tasks)} calls: the planner writes at most {MAX_TASKS}")
    bound = string_bound([query])
    undated = not request_dates([query])
    for task in plan.tasks:
        args = dict(zip((p.name for p in catalog.tools[task.tool].params), task.args))
        for param, value in zip(catalog.tools[task.tool].params, task.args):
            if isinstance(value, list) and len(value) > MAX_LIST:
                found.append(f"task {task.id}: {len(value)} items in {param.name} (at most {MAX_LIST})")
            if isinstance(value, str) and len(value) > bound:
                found.append(f"task {task.id}: {param.name} is longer than the request allows ({bound})")
            if param.type == "date" and value and undated:
                found.append(f"task {task.id}: a date in {param.name}, but the request says none the grammar reads")
        if task.tool == "create_reminder" and args.get("priority") not in PRIORITIES:
            found.append(f"task {task.id}: priority must be 0, 1, 5 or 9")
        if task.tool == "maps_show_directions" and args.get("transport") not in TRANSPORTS:
            found.append(f"task {task.id}: transport must be d, w or r")
        if task.tool == "get_zoom_meeting_link" and not (isinstance(args.get("duration"), int) and args["duration"] > 0):
            found.append(f"task {task.id}: duration must be minutes, 60 when not said")
    kinds = ResultKinds(kinds_tools, given=[query])
    at = next((i for i in range(1, len(text) + 1) if kinds.forbids(text[:i])), None)
    if at is not None:
        line = text[:at].count("\n") + 1
        found.append(f"line {line}: a $N of the wrong kind, or an address/number the request did not give")
    found += [f"pointless lookup of what the request gave: {step}"
              for step in lines if kinds.pointless(step + "\n")]
    return found


def similarities(queries: list[str], others: list[str]) -> tuple[list[float], list[int]]:
    """For each query, the highest cosine similarity (TF-IDF of character 3-5-grams within
    words, case and spacing ignored) to an earlier query of the list or to any of ``others``,
    and which one (an index into queries + others)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [" ".join(q.lower().split()) for q in queries + others]
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(texts)
    best, where = [], []
    for start in range(0, len(queries), 512):
        block = (x[start:start + 512] @ x.T).toarray()
        for row, i in enumerate(range(start, min(start + 512, len(queries)))):
            block[row, i:len(queries)] = 0.0  # itself and later lines: each pair is judged once, at the later line
            j = int(np.argmax(block[row]))
            best.append(float(block[row, j]))
            where.append(j)
    return best, where


def grammar_refuses(gemma, tools, query: str, text: str) -> bool:
    """Whether the trained planner's grammar for ``query`` refuses ``text``, token by token."""
    import numpy as np

    constraint = gemma.grammar(plan_grammar(tools, request=[query], lookups_only=True,
                                            max_string=string_bound([query]), dollars="$" in query))
    constraint.reset()
    logits = np.zeros(gemma.llama.n_vocab(), dtype=np.float32)
    for token in gemma.llama.tokenize(text.encode(), add_bos=False, special=False):
        if not constraint.allows(token, logits):
            return True
        constraint.accept(token)
    return False


def report_near_duplicates(files: list[Path], against: list[Path], near: float) -> int:
    """Print each line that nearly repeats, with a plan of the same calls, an earlier line or
    a line of ``against``; return how many there were."""
    from tinyagent_cli.retrieval.dataset import plan_calls

    def rows(paths: list[Path]) -> list[tuple[str, str, list[str]]]:
        return [(f"{path}:{number}", data["query"], sorted(plan_calls(data["plan"])))
                for path in paths
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()
                for data in [json.loads(line)]]

    mine, others = rows(files), rows(against)
    everything = mine + others
    best, where = similarities([q for _, q, _ in mine], [q for _, q, _ in others])
    found = 0
    for (name, _, calls), score, j in zip(mine, best, where):
        if score >= near and calls == everything[j][2]:
            found += 1
            print(f"{name}: nearly repeats {everything[j][0]} ({score:.2f}): {everything[j][1]!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--grammar", action="store_true", help="also the trained planner's grammar (loads Gemma)")
    parser.add_argument("--author", action="store_true", help="every line names its author brief")
    parser.add_argument("--against", type=Path, nargs="*", default=[],
                        help="other datasets no line may nearly repeat (each other's lines are compared too)")
    parser.add_argument("--near", type=float, default=NEAR_DUPLICATE,
                        help=f"similarity from which two requests with the same calls are near-duplicates "
                             f"({NEAR_DUPLICATE})")
    args = parser.parse_args(argv)

    # One home for every check, so that the embedded Gemma is assembled once.
    os.environ.setdefault("TINYAGENT_HOME", str(Path(tempfile.gettempdir()) / "tinyagent-check"))
    settings = Settings.load(backend="macos")  # the only backend with every tool of the pack
    catalog = load_catalog(settings)
    gemma = None
    if args.grammar:
        from tinyagent_cli.llm.backends import open_model
        from tinyagent_cli.llm.registry import load_registry

        gemma = open_model(load_registry(settings).get("gemma3-270m"), settings)
    tools = list(catalog.tools.values())

    bad = 0
    tool_counts: Counter[str] = Counter()
    call_counts: Counter[int] = Counter()
    total = 0
    for path in args.files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            total += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                print(f"{path}:{number}: not JSON: {error.msg}")
                bad += 1
                continue
            found = problems(row, catalog, catalog.tools, author=args.author)
            if not found and gemma is not None and grammar_refuses(gemma, tools, row["query"], row["plan"]):
                found.append("the trained planner's grammar refuses it (a lookup name not in the request's "
                             "words, or a date phrase it does not read)")
            if found:
                bad += 1
                for reason in found:
                    print(f"{path}:{number}: {reason}")
                continue
            called = [t.tool for t in parse_plan(row["plan"], catalog, now=NOW).tasks]
            tool_counts.update(called)
            call_counts[min(len(called), 4)] += 1
    bad += report_near_duplicates(args.files, args.against, args.near)
    good = total - bad
    shares = ", ".join(f"{'4+' if n == 4 else n}: {call_counts[n]} ({call_counts[n] / max(good, 1):.0%})"
                       for n in range(1, 5))
    print(f"{good} of {total} lines pass; calls per plan {shares}", file=sys.stderr)
    print("tools: " + ", ".join(f"{name} {tool_counts[name]}" for name in sorted(catalog.tools)), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
