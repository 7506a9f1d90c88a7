"""The shipped datasets: generated training examples, held-out test set, hand-written dev set.

Every gold plan must be one the real plan parser accepts against the real catalog (tool
names, arity, argument types, `$N` to earlier tasks, dates it can resolve), numbered
1..n with join() last; the split must hold out whole templates; the generator must be
deterministic.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tinyagent_cli.errors import PlanError
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools import dates
from tinyagent_cli.tools.spec import Catalog, load_catalog

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "toolpacks" / "tinyagent" / "examples.jsonl"
TEST = ROOT / "datasets" / "test.jsonl"
DEV = ROOT / "datasets" / "dev.jsonl"
GENERATOR = ROOT / "scripts" / "generate_examples.py"
FILES = {"train": TRAIN, "test": TEST, "dev": DEV}
# A fixed "now" keeps date resolution reproducible (a Wednesday, so weekday phrases vary).
NOW = datetime(2026, 5, 13, 10, 0).astimezone()


def rows(path: Path) -> list[dict]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        data = json.loads(line)
        assert isinstance(data, dict), f"{path.name}:{number}: not an object"
        assert isinstance(data.get("query"), str) and data["query"].strip(), f"{path.name}:{number}: no query"
        assert isinstance(data.get("plan"), str) and data["plan"].strip(), f"{path.name}:{number}: no plan"
        out.append(data)
    return out


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    return {name: rows(path) for name, path in FILES.items()}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYAGENT_HOME", str(tmp_path_factory.mktemp("home")))
        # The real resolver, memoised: ten thousand plans share about a hundred date phrases.
        mp.setattr(dates, "resolve_date", functools.lru_cache(maxsize=None)(dates.resolve_date))
        # macOS backend: the only one with send_sms, so every tool of the pack is in the catalog
        yield load_catalog(Settings.load(backend="macos"))


def norm(query: str) -> str:
    return " ".join(query.lower().split())


def check_plan(plan_text: str, catalog: Catalog) -> list[str]:
    """The plan's tools; asserts it parses and is numbered 1..n with a bare join() last."""
    plan = parse_plan(plan_text, catalog, now=NOW)
    lines = plan_text.splitlines()
    assert [t.id for t in plan.tasks] == list(range(1, len(plan.tasks) + 1)), "tasks must be numbered 1..n"
    assert lines[-1] == f"{len(plan.tasks) + 1}. join()", "the last line must be join()"
    assert len(lines) == len(plan.tasks) + 1, "one call per line, nothing else"
    return [t.tool for t in plan.tasks]


@pytest.mark.parametrize("name", list(FILES))
def test_every_plan_parses_against_the_catalog(name: str, data, catalog) -> None:
    for number, row in enumerate(data[name], 1):
        try:
            tools = check_plan(row["plan"], catalog)
        except (PlanError, AssertionError) as exc:
            pytest.fail(f"{FILES[name].name}:{number} ({row['query']!r}): {exc}")
        assert 1 <= len(tools) <= 5, f"{FILES[name].name}:{number}: {len(tools)} tools"


def test_the_checker_rejects_bad_plans(catalog) -> None:
    bad = [
        '1. get_phone_number("Omar", "x")\n2. join()',  # arity
        '1. send_sms("Omar", "hi")\n2. join()',  # a str where list[str] is due
        '1. create_reminder("milk", "", "", "", "1", False)\n2. join()',  # priority as str
        '1. send_sms(["$2"], "hi")\n2. get_phone_number("Omar")\n3. join()',  # forward reference
        '1. get_phone_number("Omar")',  # no join
        '1. get_phone_number("Omar")\n3. join()',  # numbering gap before join
        '1. ring_bell("Omar")\n2. join()',  # unknown tool
    ]
    for text in bad:
        with pytest.raises((PlanError, AssertionError)):
            check_plan(text, catalog)


def test_enough_distinct_queries(data) -> None:
    queries = [norm(r["query"]) for name in ("train", "test") for r in data[name]]
    assert len(set(queries)) == len(queries), "duplicate queries"
    assert len(queries) >= 5000
    assert 800 <= len(data["test"]) <= 1200


def test_no_query_in_both_train_and_test_or_dev(data) -> None:
    train = {norm(r["query"]) for r in data["train"]}
    assert not train & {norm(r["query"]) for r in data["test"]}
    assert not train & {norm(r["query"]) for r in data["dev"]}


def test_test_templates_are_unseen_in_training(data) -> None:
    # a multi-request example's template is its clause templates joined by "+"
    def parts(name: str) -> set[str]:
        return {p for r in data[name] for p in r["template"].split("+")}

    train, test = parts("train"), parts("test")
    assert train and test
    assert not train & test
    families = {t.split(".")[0] for t in test}
    assert families == {t.split(".")[0] for t in train}, "every family has held-out templates"


def test_training_plans_mostly_combine_tools(data, catalog) -> None:
    sizes = [r["plan"].count("\n") for r in data["train"]]  # lines less the join line
    assert sum(s >= 2 for s in sizes) >= len(sizes) / 2
    assert {1, 2, 3, 4, 5} <= set(sizes)
    used = {line.split(". ", 1)[1].split("(")[0] for r in data["train"] for line in r["plan"].splitlines()}
    assert used - {"join"} == set(catalog.tools)


def test_dev_covers_every_tool(data, catalog) -> None:
    assert len(data["dev"]) >= 80
    tools = [check_plan(r["plan"], catalog) for r in data["dev"]]
    assert {t for ts in tools for t in ts} == set(catalog.tools)
    assert sum(len(ts) >= 2 for ts in tools) >= 40


def test_generator_is_deterministic_and_matches_the_shipped_files(tmp_path: Path) -> None:
    outs = []
    for run in ("a", "b"):
        train, test = tmp_path / f"train_{run}.jsonl", tmp_path / f"test_{run}.jsonl"
        subprocess.run([sys.executable, str(GENERATOR), "--train", str(train), "--test", str(test)],
                       check=True, capture_output=True)
        outs.append((train.read_bytes(), test.read_bytes()))
    assert outs[0] == outs[1]
    assert outs[0] == (TRAIN.read_bytes(), TEST.read_bytes()), "rerun scripts/generate_examples.py"


def test_another_seed_gives_other_examples(tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    subprocess.run([sys.executable, str(GENERATOR), "--seed", "7", "--train", str(train),
                    "--test", str(tmp_path / "test.jsonl")], check=True, capture_output=True)
    assert train.read_bytes() != TRAIN.read_bytes()
