"""The example bank: solved queries shown to the planner, chosen for each query.

The bank is every pack's examples.jsonl (so a person's pack brings its own), kept in
the ToolRAG cache file as vectors of the classifier's TF-IDF space. For a query it picks
the k most similar examples whose tools all lie in the selected set, greedily by maximal
marginal relevance: an example that repeats the tool set of one already picked gives
way to a slightly less similar one that shows the planner another plan shape. Examples
that use every tool ToolRAG is sure of come first: a small model copies the shape of
its examples, and one that shows only half of a two-part request gets half a plan. For
the same reason, when the request names two people (or files) for a tool, examples that
call that tool more than once come first (``MentionTagger``). What each did: README,
"Earlier figures".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .dataset import Example
from .toolrag import ToolRAG, grams

if TYPE_CHECKING:
    import numpy as np

    from ..settings import Settings
    from ..tools.spec import Catalog

RELEVANCE = 0.75  # MMR: weight of similarity to the query against overlap with picks so far
COVERS = 1.0  # added to the similarity (at most 1) of an example that uses every sure tool
REPEATS = 1.0  # added for each tool the request names several things for that the example repeats
CANDIDATES = 64  # only this many of the most similar examples are considered for diversity


@dataclass(frozen=True)
class ExampleBank:
    rag: ToolRAG
    k: int
    uses: np.ndarray  # bool (examples, tools): which catalog tools each example's plan calls
    repeats: np.ndarray  # bool (examples, tools): which tools it calls more than once

    @classmethod
    def for_catalog(cls, catalog: Catalog, settings: Settings, rag: ToolRAG | None = None) -> ExampleBank:
        """The bank for this catalog; pass the ToolRAG already loaded to avoid loading it twice."""
        import numpy as np

        rag = rag or ToolRAG.load_or_train(catalog, settings)
        column = {name: j for j, name in enumerate(rag.tools)}

        def matrix(tools_of: Callable[[Example], tuple[str, ...]]) -> np.ndarray:
            marks = np.zeros((len(rag.examples), len(rag.tools)), dtype=bool)
            lengths = [len(tools_of(e)) for e in rag.examples]
            marks[np.repeat(np.arange(len(lengths)), lengths), [column[t] for e in rag.examples for t in tools_of(e)]] = True
            return marks

        return cls(rag, settings.config.examples_k, matrix(lambda e: e.tools), matrix(lambda e: e.repeated))

    def similarities(self, query: str) -> np.ndarray:
        """Cosine similarity of the query to every example (vectors are unit length)."""
        import numpy as np

        index, values = self.rag.space.vector(grams(query))
        indptr, rows, weights = self.rag.example_index
        starts, lengths = indptr[index], indptr[index + 1] - indptr[index]
        # Positions of every stored entry in the query's feature columns, without a Python loop.
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        take = offsets + np.arange(int(lengths.sum()))
        contrib = weights[take].astype(np.float64) * np.repeat(values, lengths)
        return np.bincount(rows[take], weights=contrib, minlength=len(self.rag.examples))

    def pick(self, query: str, tools: Sequence[str], k: int | None = None, *,
             cover: Sequence[str] = ()) -> list[Example]:
        """Up to k examples (most relevant first) that use only ``tools``, those that use
        every tool of ``cover`` first, and those that call a tool more than once when the
        query names more than one thing for it."""
        import numpy as np

        k = self.k if k is None else k
        allowed = np.array([name in set(tools) for name in self.rag.tools], dtype=bool)
        eligible = ~self.uses[:, ~allowed].any(axis=1)
        if k <= 0 or not eligible.any():
            return []
        sims = np.where(eligible, self.similarities(query), -np.inf)
        sure = set(cover)
        needed = np.array([name in sure for name in self.rag.tools], dtype=bool)
        if needed.any():
            sims = sims + COVERS * self.uses[:, needed].all(axis=1)
        many = [name for name, n in self.rag.mentions.counts(query).items() if n > 1]
        if many:
            sims = sims + REPEATS * self.repeats[:, [self.rag.tools.index(name) for name in many]].sum(axis=1)
        count = min(CANDIDATES, int(eligible.sum()))
        pool = np.argpartition(-sims, count - 1)[:count]
        pool = [int(i) for i in pool[np.argsort(-sims[pool], kind="stable")]]
        picked: list[int] = []
        while pool and len(picked) < k:
            best = max(pool, key=lambda i: RELEVANCE * sims[i] - (1 - RELEVANCE) * self._overlap(i, picked))
            picked.append(best)
            pool.remove(best)
        return [self.rag.examples[i] for i in picked]

    def _overlap(self, i: int, picked: list[int]) -> float:
        """The largest Jaccard overlap of example i's tool set with those already picked."""
        if not picked:
            return 0.0
        mine = self.uses[i]
        return max(float((mine & self.uses[j]).sum()) / float((mine | self.uses[j]).sum() or 1) for j in picked)
