"""Training pairs: for each solved query, the prompt the planner will see and the plan.

A model learns the tool set it is shown: trained on the gold tools plus noise, an adapter
used whatever it was offered and fell apart on ToolRAG's real selections. So each query is
offered what ToolRAG selects for it *out of fold*: a classifier trained without that
query's templates, whose selections are as imperfect as a real request's. Examples shown
in the prompt are never of the query's own templates either.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import DatasetError
from ..planners.trained import trained_prompt
from ..retrieval.dataset import Example
from ..retrieval.toolrag import ToolRAG, example_group
from ..settings import Settings
from ..tools.spec import Catalog

# The clock is not in a trained planner's prompt; a prompt builder wants one all the same.
_NO_CLOCK = datetime(2026, 1, 1)
EXAMPLE_POOL = 12  # examples retrieved per query, of which those of its own templates are dropped


@dataclass(frozen=True)
class TrainingPair:
    query: str
    prompt: str
    plan: str  # the target: plan text from "1." to "join()"
    group: str  # template (or row) it came from: held-out splits never share one
    offered: tuple[str, ...]  # the tools in the prompt


def training_pairs(examples: Sequence[Example], catalog: Catalog, settings: Settings, *,
                   rag: ToolRAG, examples_in_prompt: int = 0) -> list[TrainingPair]:
    """One pair per example whose tools this catalog has (others are skipped, and counted by the caller)."""
    usable = [e for e in examples if set(e.tools) <= set(catalog.tools)]
    if not usable:
        raise DatasetError(f"no example uses only tools of the {catalog.backend} backend")
    offered = rag.out_of_fold_tools(usable)
    bank = None
    if examples_in_prompt:
        from ..retrieval.examples import ExampleBank

        bank = ExampleBank.for_catalog(catalog, settings, rag)
    pairs = []
    for example, tools in zip(usable, offered):
        shown: list[tuple[str, str]] = []
        if bank is not None:
            # Out of fold too: a request of a held-out phrasing finds no example of its own
            # template, so neither does a training query (else it learns to copy a twin).
            own = _clauses(example.template)
            picked = bank.pick(example.query, tools, k=examples_in_prompt + EXAMPLE_POOL)
            shown = [(e.query, e.plan) for e in picked
                     if e.query != example.query and not own & _clauses(e.template)][:examples_in_prompt]
        prompt = trained_prompt(example.query, [catalog.tools[t] for t in tools], shown, now=_NO_CLOCK)
        pairs.append(TrainingPair(example.query, prompt.text, example.plan.strip(),
                                  example_group(example), tools))
    return pairs


def _clauses(template: str | None) -> set[str]:
    return set(template.split("+")) if template else set()


def split_held_out(pairs: Sequence[TrainingPair], share: float, seed: int) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """(train, held out), whole templates to one side, about ``share`` of them held out."""
    groups = sorted({p.group.split("+")[0] for p in pairs})
    rng = random.Random(seed)
    held = set(rng.sample(groups, max(1, round(len(groups) * share)))) if share > 0 and len(groups) > 1 else set()
    train = [p for p in pairs if not _clauses(p.group) & held]
    return train, [p for p in pairs if _clauses(p.group) & held]


def data_hash(pairs: Sequence[TrainingPair]) -> str:
    """What the adapter learnt from, in one hash: prompts and plans, in order."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(pair.prompt.encode())
        digest.update(b"\0")
        digest.update(pair.plan.encode())
        digest.update(b"\0")
    return digest.hexdigest()
