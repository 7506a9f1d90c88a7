"""The hand-written sets: the natural corpus the planner learns from, the natural held-out
sets it is measured on and the two natural dev sets that choices are made on. What holds by
construction: every line is one the checks of ``scripts/check_dataset.py`` pass, each
measuring set was written by authors of its own and repeats no line the planner learns
from (nor a dev set a held-out line), and the corpus covers what its README says."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from tinyagent_cli.plan.parser import plan_calls
from tinyagent_cli.retrieval.dataset import read_dataset
from tinyagent_cli.tools.spec import load_pack, shipped_packs_dir

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "toolpacks" / "tinyagent" / "examples.jsonl"
CORPUS = sorted((ROOT / "toolpacks" / "tinyagent" / "natural").glob("*.jsonl"))
TRAIN_ONLY = sorted((ROOT / "datasets" / "train_only").glob("*.jsonl"))
HELD_OUT = ROOT / "datasets" / "natural_test.jsonl"
NATURAL_DEV = ROOT / "datasets" / "natural_dev.jsonl"
NATURAL_DEV2 = ROOT / "datasets" / "natural_dev2.jsonl"
HELD_OUT2 = ROOT / "datasets" / "natural_test2.jsonl"
HELD_OUT3 = ROOT / "datasets" / "natural_test3.jsonl"


def _checker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_dataset", ROOT / "scripts" / "check_dataset.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_pack_reads_the_corpus_beside_its_generated_bank() -> None:
    pack = load_pack(shipped_packs_dir() / "tinyagent")
    assert pack.examples_paths() == [pack.dir / "examples.jsonl", *CORPUS]
    assert all(e.template.startswith("author:") for path in CORPUS for e in read_dataset(path))


def test_the_corpus_is_as_large_and_as_broad_as_its_readme_says() -> None:
    rows = _rows(CORPUS)
    assert len(rows) >= 4000 and len({r["author"] for r in rows}) >= 12
    plans = Counter(tool for r in rows for tool in plan_tools_of(r["plan"]))
    assert len(plans) == 16 and min(plans.values()) >= 250
    sizes = Counter(min(len([line for line in r["plan"].splitlines() if "join()" not in line]), 4) for r in rows)
    # Long errands grow on purpose (where the planner is weakest), so a share for each size
    # would fail as they grow; what must hold is that short requests keep their number.
    assert all(sizes[n] >= 800 for n in (1, 2, 3)) and sizes[4] >= 0.25 * len(rows)


@pytest.mark.parametrize(("measured", "least", "learned"), [
    (HELD_OUT, 400, [*CORPUS, *TRAIN_ONLY]),
    (NATURAL_DEV, 400, [BANK, *CORPUS]),
    (NATURAL_DEV, 400, [HELD_OUT]),
    (NATURAL_DEV2, 395, [BANK, *CORPUS, *TRAIN_ONLY]),
    (NATURAL_DEV2, 395, [HELD_OUT, NATURAL_DEV]),
    (HELD_OUT2, 398, [BANK, *CORPUS, *TRAIN_ONLY]),
    (HELD_OUT2, 398, [HELD_OUT, NATURAL_DEV, NATURAL_DEV2]),
    (HELD_OUT3, 398, [BANK, *CORPUS, *TRAIN_ONLY]),
    (HELD_OUT3, 398, [HELD_OUT, HELD_OUT2, NATURAL_DEV, NATURAL_DEV2]),
], ids=["held-out vs corpus", "natural dev vs bank and corpus", "natural dev vs held-out",
        "fresh dev vs bank and corpus", "fresh dev vs held-out and natural dev",
        "second held-out vs bank and corpus", "second held-out vs the other measuring sets",
        "third held-out vs bank and corpus", "third held-out vs the other measuring sets"])
def test_a_measuring_set_has_authors_of_its_own_and_repeats_no_line_of_another(
        measured: Path, least: int, learned: list[Path]) -> None:
    rows, others = _rows([measured]), _rows(learned)
    assert len(rows) >= least and not {r["author"] for r in rows} & {r.get("author") for r in others}
    checker = _checker()
    scores, where = checker.similarities([r["query"] for r in rows], [r["query"] for r in others])
    same_calls = [s for s, j, r in zip(scores, where, rows)
                  if j >= len(rows) and sorted(plan_tools_of(others[j - len(rows)]["plan"])) == sorted(plan_tools_of(r["plan"]))]
    assert not [s for s in same_calls if s >= checker.NEAR_DUPLICATE]


@pytest.mark.parametrize("name", ["corpus", "held-out", "natural dev", "fresh dev", "second held-out",
                                  "third held-out", "train-only"])
def test_every_line_passes_the_checks_its_authors_ran(name: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tinyagent_cli.settings import Settings
    from tinyagent_cli.tools.spec import load_catalog

    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path))
    catalog = load_catalog(Settings.load(backend="macos"))
    checker = _checker()
    rows = _rows({"corpus": CORPUS, "held-out": [HELD_OUT], "natural dev": [NATURAL_DEV],
                  "fresh dev": [NATURAL_DEV2], "second held-out": [HELD_OUT2], "third held-out": [HELD_OUT3],
                  "train-only": TRAIN_ONLY}[name])
    bad = [(r["query"], found) for r in rows if (found := checker.problems(r, catalog, catalog.tools, author=True))]
    assert not bad, bad[:3]


def plan_tools_of(plan: str) -> tuple[str, ...]:
    """The distinct tools a plan calls, in order of first use."""
    return tuple(dict.fromkeys(plan_calls(plan)))
