"""ToolRAG: a TF-IDF + logistic-regression classifier that picks the few tools a query needs.

Features are TF-IDF over word 1-2-grams and character 3-5-grams taken inside word
boundaries (typos and inflections still share most character n-grams); each block is
l2-normalised and scaled so a whole vector has unit length. One logistic regression per
tool of the packs (multi-label), trained on every pack's examples; a tool this machine
cannot run is scored but never selected (``Selection.unavailable``), so one fit serves every
backend. Thresholds are
tuned per tool on out-of-fold scores where the folds split the examples by template, so
the tuning sees phrasings the model did not train on; they favour recall, because a
missing tool makes the plan impossible while an extra one only costs prompt tokens.

The trained model, the example bank and the mention tagger (``mentions.py``, trained on
the same examples) are cached together as an .npz of plain arrays plus JSON, keyed by a
hash of everything they come from; loading never unpickles, and anything in the cache
that does not validate is rebuilt. The wheel carries the fit for its own packs
(``toolpacks/toolrag.npz``), so a first run with them loads it instead of fitting. Prediction is pure numpy (no sklearn import).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dataset import Example, read_dataset
from .mentions import MentionTagger

if TYPE_CHECKING:
    import numpy as np

    from ..settings import Settings
    from ..tools.spec import Catalog

# Bump when features, training or the file layout change: old cache files then miss.
FORMAT_VERSION = 4
CHAR_NGRAMS = (3, 5)
MIN_DF = 2  # an n-gram seen in one example only teaches the model that example
C = 10.0  # weak regularisation: the examples are many, short and clean
TOL = 1e-4
FOLD_TOL = 1e-3  # the tuning folds need scores, not a polished optimum; saves a third of training
FOLDS = 4
# A tool's threshold lets through this share of its held-out positive examples' scores...
RECALL_QUANTILE = 0.005
# ...then is lowered by this factor, because natural requests score lower than templates.
THRESHOLD_MARGIN = 0.6
THRESHOLD_RANGE = (0.02, 0.5)
DEFAULT_THRESHOLD = 0.2  # for a tool with too few examples to tune on
MIN_POSITIVES = 5
# A hinted tool (ToolSpec.after) joins the selection when its own score reaches this: adding
# every hint gave the same recall on test and dev with ~0.7 more tools per query (bench/retrieval).
HINT_FLOOR = 0.05
# A tool scoring this is one the plan must call (Selection.certain): such tools are nearly
# always gold tools, and a small planner otherwise leaves out one of two requests (README,
# "Earlier figures").
CERTAIN = 0.8
KEEP_CACHE_FILES = 4

Progress = Callable[[str], None]

_TOKEN = re.compile(r"\w+")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def word_grams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def char_grams(text: str) -> list[str]:
    """Character n-grams of each space-padded word (like scikit-learn's ``char_wb``)."""
    low, high = CHAR_NGRAMS
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(low, min(high, len(padded)) + 1):
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


Grams = tuple[list[str], list[str]]


def grams(text: str) -> Grams:
    return word_grams(text), char_grams(text)


@dataclass(frozen=True, eq=False)  # holds arrays: identity, not value, equality
class TfidfSpace:
    """The feature space: word block then char block, sublinear tf times smoothed idf."""

    word_vocab: dict[str, int]
    char_vocab: dict[str, int]
    idf: np.ndarray  # float32, one per feature (word features first)

    @property
    def size(self) -> int:
        return len(self.word_vocab) + len(self.char_vocab)

    def vector(self, doc: Grams) -> tuple[np.ndarray, np.ndarray]:
        """One document as sorted feature indices and their weights (each block 1/sqrt(2) long).

        The same arithmetic as ``_Corpus.tfidf`` does for a batch; a test holds them equal.
        """
        import numpy as np

        parts_i: list[np.ndarray] = []
        parts_v: list[np.ndarray] = []
        offset = 0
        for block, vocab in enumerate((self.word_vocab, self.char_vocab)):
            counts = Counter(vocab[g] for g in doc[block] if g in vocab)
            if counts:
                index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts)) + offset
                tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
                values = (1 + np.log(tf)) * self.idf[index]
                values *= np.float32(1 / (math.sqrt(2) * float(np.linalg.norm(values))))
                parts_i.append(index)
                parts_v.append(values)
            offset += len(vocab)
        if not parts_i:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        index = np.concatenate(parts_i)
        order = np.argsort(index)
        return index[order], np.concatenate(parts_v)[order]


class _Corpus:
    """Raw n-gram counts of the training texts, counted once and shared by every fold."""

    def __init__(self, docs: Sequence[Grams]) -> None:
        import numpy as np
        from scipy.sparse import csr_matrix

        self.grams: list[list[str]] = []
        self.counts: list[Any] = []  # per block: CSR (documents, every n-gram seen) of counts
        for block in (0, 1):
            vocab: dict[str, int] = {}
            indices: list[int] = []
            indptr = [0]
            for doc in docs:
                indices.extend(vocab.setdefault(g, len(vocab)) for g in doc[block])
                indptr.append(len(indices))
            counts = csr_matrix(
                (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(docs), len(vocab))
            )
            counts.sum_duplicates()
            self.grams.append(list(vocab))
            self.counts.append(counts)

    def space(self, rows: np.ndarray) -> tuple[TfidfSpace, list[np.ndarray]]:
        """The space fitted on some documents: n-grams in at least MIN_DF of them, and their idf.

        Also returns, per block, the corpus columns the space keeps.
        """
        import numpy as np

        vocabs: list[dict[str, int]] = []
        idfs: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        for block in (0, 1):
            df = np.bincount(self.counts[block][rows].indices, minlength=len(self.grams[block]))
            kept = np.flatnonzero(df >= MIN_DF)
            names = self.grams[block]
            vocabs.append({names[c]: i for i, c in enumerate(kept)})
            idfs.append(np.log((1 + len(rows)) / (1 + df[kept])) + 1)
            columns.append(kept)
        return TfidfSpace(vocabs[0], vocabs[1], np.concatenate(idfs).astype(np.float32)), columns

    def tfidf(self, rows: np.ndarray, space: TfidfSpace, columns: list[np.ndarray]) -> Any:
        """Documents ``rows`` as a CSR matrix in ``space`` (the batch form of ``TfidfSpace.vector``)."""
        import numpy as np
        from scipy.sparse import hstack

        blocks = []
        offset = 0
        for block in (0, 1):
            m = self.counts[block][rows][:, columns[block]].tocsr()
            m.sort_indices()
            m.data = (1 + np.log(m.data)) * space.idf[offset + m.indices]
            owner = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
            norms = np.sqrt(np.bincount(owner, weights=m.data.astype(np.float64) ** 2, minlength=m.shape[0]))
            m.data = (m.data / (math.sqrt(2) * norms[owner])).astype(np.float32)
            blocks.append(m)
            offset += len(columns[block])
        return hstack(blocks, format="csr", dtype=np.float32)


@dataclass(frozen=True)
class Selection:
    """The tools for one query, in catalog order, with every tool's score and threshold."""

    tools: tuple[str, ...]
    scores: dict[str, float]
    thresholds: dict[str, float]
    hinted: tuple[str, ...] = ()  # in ``tools`` only because a selected tool's hints named them
    certain: tuple[str, ...] = ()  # selected tools scoring CERTAIN or more: the plan must use them
    # Tools this machine cannot run that score CERTAIN or more: the request needs what is not here.
    unavailable: tuple[str, ...] = ()


def example_group(example: Example) -> str:
    """What an example is held out with: its template, or a hand-written query itself (a
    query given twice, to weigh it up, is held out or kept in whole)."""
    return example.template or f"query:{example.query}"


def model_key(catalog: Catalog) -> str:
    """A hash of everything the model is trained from; a change means a retrain."""
    tools = [
        {
            "name": spec.name,
            "description": spec.description,
            "params": [[p.name, p.type, p.description, p.verbatim] for p in spec.params],
            "backends": list(spec.backends),
            "after": list(spec.after),
        }
        for spec in catalog.known.values()
    ]
    # Not the backend nor what runs here: the model scores every known tool, and only the
    # selection keeps to those that run, so one fit serves every backend (and can ship).
    head = {"format": FORMAT_VERSION, "tools": tools}
    digest = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    for path in catalog.examples_files():
        data = path.read_bytes()
        digest.update(b"\0examples %d\0" % len(data))
        digest.update(data)
    return digest.hexdigest()


def shipped_model_path() -> Path:
    """Where a wheel carries the model fitted for its own packs (``scripts/ship_toolrag.py``),
    so a first run need not fit one."""
    from ..tools.spec import shipped_packs_dir

    return shipped_packs_dir() / "toolrag.npz"


def model_path(settings: Settings, key: str) -> Path:
    return settings.paths.cache_dir / "toolrag" / f"{key[:32]}.npz"


class InvalidModel(Exception):
    """A cache file that is corrupt, foreign or stale; it is rebuilt, never used."""


@dataclass(frozen=True, eq=False)
class ToolRAG:
    key: str
    tools: tuple[str, ...]  # every tool of the packs (Catalog.known), catalog order
    here: frozenset[str]  # those this machine can run: the only ones ever selected
    space: TfidfSpace
    weights: np.ndarray  # float32 (features, tools): rows gather fast for a sparse query
    intercept: np.ndarray  # float32 (tools,)
    thresholds: np.ndarray  # float32 (tools,)
    hints: dict[str, tuple[str, ...]]  # tool -> hinted tools that are in the catalog
    max_tools: int
    examples: tuple[Example, ...]  # the example bank: pack examples using catalog tools only
    example_index: tuple[np.ndarray, np.ndarray, np.ndarray]  # CSC: indptr, example rows, values
    mentions: MentionTagger  # counts what a request names for tools called once per thing
    info: dict[str, Any]  # examples, features, train_seconds

    # ---- prediction ----------------------------------------------------------------

    def scores(self, query: str) -> np.ndarray:
        import numpy as np

        index, values = self.space.vector(grams(query))
        z = values @ self.weights[index] + self.intercept
        return 1.0 / (1.0 + np.exp(-z.astype(np.float64)))

    def select(self, query: str, *, hint_floor: float = HINT_FLOOR) -> Selection:
        """Tools scoring over their threshold (at least one, at most max_tools), plus hints.

        ``hint_floor`` 0 adds every hinted tool; above 0 only those scoring at least that.
        """
        import numpy as np

        p = self.scores(query)
        here = np.array([t in self.here for t in self.tools])
        ratio = np.where(here, p / self.thresholds, 0.0)
        chosen = [int(i) for i in np.argsort(-ratio, kind="stable") if ratio[i] >= 1.0]
        if not chosen:
            chosen = [int(np.argmax(ratio))]
        names = {self.tools[i] for i in chosen[: max(1, self.max_tools)]}
        position = {name: i for i, name in enumerate(self.tools)}
        hinted = {
            hint
            for name in names
            for hint in self.hints.get(name, ())
            if hint not in names and p[position[hint]] >= hint_floor
        }
        return Selection(
            tools=tuple(t for t in self.tools if t in names or t in hinted),
            scores={t: float(p[i]) for i, t in enumerate(self.tools)},
            thresholds={t: float(self.thresholds[i]) for i, t in enumerate(self.tools)},
            hinted=tuple(t for t in self.tools if t in hinted),
            certain=tuple(t for i, t in enumerate(self.tools) if t in names and p[i] >= CERTAIN),
            unavailable=tuple(t for i, t in enumerate(self.tools) if not here[i] and p[i] >= CERTAIN),
        )

    def out_of_fold_tools(self, examples: Sequence[Example]) -> list[tuple[str, ...]]:
        """The tools this classifier would offer each example had it never seen its template
        (``tinyagent train`` shows a planner those, as imperfect as a real request's).

        Each fold's classifier is this one with the weights of a fit that left the fold out,
        so thresholds, hints and the tool cap are those of the real selection.
        """
        import numpy as np

        groups = [example_group(e) for e in examples]
        y = np.array([[t in e.tools for t in self.tools] for e in examples], dtype=bool)
        chosen: list[tuple[str, ...] | None] = [None] * len(examples)
        for held, space, _, weights, intercept in _fold_fits(_Corpus([grams(e.query) for e in examples]), y, groups):
            fold = replace(self, space=space, weights=weights, intercept=intercept)
            for i in held:
                if chosen[i] is None:
                    chosen[i] = fold.select(examples[i].query).tools
        # An example no fold held out (one fold only): its in-sample selection.
        return [tools if tools is not None else self.select(e.query).tools for tools, e in zip(chosen, examples)]

    # ---- training ------------------------------------------------------------------

    @classmethod
    def load_or_train(cls, catalog: Catalog, settings: Settings, progress: Progress | None = None) -> ToolRAG:
        """The cached model for this catalog, trained (and cached) first when there is none."""
        progress = progress or _stderr
        key = model_key(catalog)
        path = model_path(settings, key)
        if path.exists():
            try:
                model = cls.load(path, key, catalog, settings)
                with contextlib.suppress(OSError):  # a read-only cache still serves
                    os.utime(path)  # most recently used survives pruning
                return model
            except InvalidModel as exc:
                progress(f"tool retrieval cache {path.name} is unusable ({exc}); retraining")
        shipped = shipped_model_path()
        if shipped.is_file():  # fitted for the shipped packs alone: any other catalog has another key
            try:
                return cls.load(shipped, key, catalog, settings)
            except InvalidModel:
                pass
        model = cls.train(catalog, settings, progress, key=key)
        model.save(path)
        return model

    @classmethod
    def train(
        cls, catalog: Catalog, settings: Settings, progress: Progress | None = None, *, key: str | None = None
    ) -> ToolRAG:
        import numpy as np

        progress = progress or _stderr
        started = time.perf_counter()
        tools = tuple(catalog.known)
        if not catalog.tools:
            from ..errors import ConfigError

            raise ConfigError(f"no tools are enabled for the {catalog.backend} backend: check disabled_tools in config")
        # Also the examples of tools that cannot run here: the classifier says so when a request
        # needs one, and the example bank never offers one (its tools are never selected).
        scored = [e for path in catalog.examples_files() for e in read_dataset(path) if set(e.tools) <= set(tools)]
        progress(f"training tool retrieval: {len(tools)} tools, {len(scored)} examples ...")

        # A tool no example uses still gets one positive: its own description.
        texts = [e.query for e in scored]
        labels = [set(e.tools) for e in scored]
        groups = [e.template or "tools:" + ",".join(e.tools) for e in scored]
        used = set().union(*labels) if labels else set()
        for name in tools:
            if name not in used:
                spec = catalog.known[name]
                texts.append(f"{name.replace('_', ' ')}: {spec.description}")
                labels.append({name})
                groups.append(f"tool:{name}")
        y = np.array([[name in label for name in tools] for label in labels], dtype=bool)
        corpus = _Corpus([grams(t) for t in texts])

        thresholds = _tune_thresholds(corpus, y, groups)
        everything = np.arange(len(texts))
        space, columns = corpus.space(everything)
        x = corpus.tfidf(everything, space, columns)
        weights, intercept = _fit(x, y)
        index = x[: len(scored)].tocsc()  # the bank: the examples' rows, not the tools' descriptions
        mentions = MentionTagger.train(scored, catalog)
        seconds = time.perf_counter() - started
        progress(f"trained tool retrieval in {seconds:.1f} s")
        return cls(
            key=key or model_key(catalog),
            tools=tools,
            here=frozenset(catalog.tools),
            space=space,
            weights=weights,
            intercept=intercept,
            thresholds=thresholds,
            hints=_hints(catalog),
            max_tools=settings.config.max_tools,
            examples=tuple(scored),
            example_index=(
                index.indptr.astype(np.int64),
                index.indices.astype(np.int32),
                index.data.astype(np.float32),
            ),
            mentions=mentions,
            info={"examples": len(texts), "features": space.size, "train_seconds": round(seconds, 3)},
        )

    # ---- storage -------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file), then prune old models."""
        import numpy as np

        def utf8(text: str) -> np.ndarray:
            return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

        meta = {"format": FORMAT_VERSION, "key": self.key, "tools": list(self.tools),
                "mention_tools": list(self.mentions.tools), "info": self.info}
        examples = [[e.query, e.plan, e.template, list(e.tools), list(e.repeated)] for e in self.examples]
        indptr, rows, values = self.example_index
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                meta=utf8(json.dumps(meta)),
                word_vocab=utf8("\n".join(self.space.word_vocab)),
                char_vocab=utf8("\n".join(self.space.char_vocab)),
                idf=self.space.idf,
                weights=self.weights,
                intercept=self.intercept,
                thresholds=self.thresholds,
                examples=utf8(json.dumps(examples)),
                ex_indptr=indptr,
                ex_rows=rows,
                ex_values=values,
                mention_vocab=utf8("\n".join(self.mentions.vocab)),
                mention_weights=self.mentions.weights,
                mention_intercept=self.mentions.intercept,
                mention_classes=self.mentions.classes,
            )
        os.replace(tmp, path)
        others = sorted(path.parent.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP_CACHE_FILES:]:
            old.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, key: str, catalog: Catalog, settings: Settings) -> ToolRAG:
        """Load and validate a cache file; InvalidModel for anything that is not our model for this key."""
        import zipfile

        import numpy as np

        try:
            archive = np.load(path, allow_pickle=False)  # a pickle raises ValueError here
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise InvalidModel("not an .npz archive")
            with archive:
                if set(archive.files) != _ARRAYS.keys():
                    raise InvalidModel("unexpected arrays")
                arrays = {name: archive[name] for name in _ARRAYS}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InvalidModel(str(exc) or type(exc).__name__) from None
        for name, (dtype, ndim) in _ARRAYS.items():
            if arrays[name].dtype != dtype or arrays[name].ndim != ndim:
                raise InvalidModel(f"array {name} has the wrong type or shape")
        try:
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
            bank = _examples(json.loads(arrays["examples"].tobytes().decode("utf-8")))
            word_vocab = _vocab(arrays["word_vocab"])
            char_vocab = _vocab(arrays["char_vocab"])
            mention_vocab = _vocab(arrays["mention_vocab"])
            mention_tools = tuple(meta["mention_tools"])
        except (ValueError, UnicodeDecodeError, TypeError, KeyError) as exc:
            raise InvalidModel(f"unreadable metadata ({exc})") from None
        tools = tuple(catalog.known)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION or meta.get("key") != key:
            raise InvalidModel("made for another version or catalog")
        if meta.get("tools") != list(tools) or not isinstance(meta.get("info"), dict):
            raise InvalidModel("made for another tool set")
        n_feat, n_tools = len(word_vocab) + len(char_vocab), len(tools)
        indptr, rows, values = arrays["ex_indptr"], arrays["ex_rows"], arrays["ex_values"]
        shapes_ok = (
            arrays["idf"].shape == (n_feat,)
            and arrays["weights"].shape == (n_feat, n_tools)
            and arrays["intercept"].shape == (n_tools,)
            and arrays["thresholds"].shape == (n_tools,)
            and indptr.shape == (n_feat + 1,)
            and rows.shape == values.shape
            and indptr[0] == 0
            and indptr[-1] == len(rows)
            and bool(np.all(np.diff(indptr) >= 0))
            and (len(rows) == 0 or 0 <= rows.min() and rows.max() < len(bank))
            and bool(np.all((arrays["thresholds"] > 0) & (arrays["thresholds"] <= 1)))
            and set().union(*(e.tools for e in bank)) <= set(tools)
        )
        classes = arrays["mention_classes"]
        mentions_ok = (
            all(isinstance(t, str) for t in mention_tools)
            and set(mention_tools) <= set(tools)
            and arrays["mention_weights"].shape == (len(mention_vocab), len(classes))
            and arrays["mention_intercept"].shape == classes.shape
            and bool(np.all((classes >= 0) & (classes < 2 ** len(mention_tools))))
        )
        if not shapes_ok or not mentions_ok:
            raise InvalidModel("arrays do not fit together")
        return cls(
            key=key,
            tools=tools,
            here=frozenset(catalog.tools),
            space=TfidfSpace(word_vocab, char_vocab, arrays["idf"]),
            weights=arrays["weights"],
            intercept=arrays["intercept"],
            thresholds=arrays["thresholds"],
            hints=_hints(catalog),
            max_tools=settings.config.max_tools,
            examples=tuple(bank),
            example_index=(indptr, rows, values),
            mentions=MentionTagger(mention_tools, mention_vocab, arrays["mention_weights"],
                                   arrays["mention_intercept"], classes),
            info=meta["info"],
        )


# The arrays of a cache file: name -> (dtype, ndim). Nothing else may be in it.
_ARRAYS = {
    "meta": ("uint8", 1),
    "word_vocab": ("uint8", 1),
    "char_vocab": ("uint8", 1),
    "idf": ("float32", 1),
    "weights": ("float32", 2),
    "intercept": ("float32", 1),
    "thresholds": ("float32", 1),
    "examples": ("uint8", 1),
    "ex_indptr": ("int64", 1),
    "ex_rows": ("int32", 1),
    "ex_values": ("float32", 1),
    "mention_vocab": ("uint8", 1),
    "mention_weights": ("float32", 2),
    "mention_intercept": ("float32", 1),
    "mention_classes": ("int32", 1),
}


def _vocab(array: np.ndarray) -> dict[str, int]:
    text = array.tobytes().decode("utf-8")
    words = text.split("\n") if text else []
    vocab = {w: i for i, w in enumerate(words)}
    if len(vocab) != len(words):
        raise ValueError("duplicate n-grams in a vocabulary")
    return vocab


def _examples(rows: Any) -> list[Example]:
    """The bank as saved: [query, plan, template, tools, repeated] rows (parsing 10k plans
    again is slow)."""
    bank = [Example(q, p, tuple(tools), t, tuple(repeated)) for q, p, t, tools, repeated in rows]
    strings = {type(v) for e in bank for v in (e.query, e.plan, e.template)}
    names = {type(t) for e in bank for t in (*e.tools, *e.repeated)}
    if strings - {str} or names - {str} or not all(e.tools for e in bank):
        raise ValueError("malformed examples")
    return bank


def _hints(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    return {
        name: tuple(h for h in spec.after if h in catalog.tools and h != name) for name, spec in catalog.tools.items()
    }


def _fit(x: Any, y: np.ndarray, tol: float = TOL) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per tool column; weights as (features, tools) float32."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    n_feat, n_tools = x.shape[1], y.shape[1]
    weights = np.zeros((n_feat, n_tools), dtype=np.float32)
    intercept = np.zeros(n_tools, dtype=np.float32)
    for j in range(n_tools):
        column = y[:, j]
        if column.all() or not column.any():  # nothing to separate: a constant score
            intercept[j] = 10.0 if column.all() else -10.0
            continue
        model = LogisticRegression(C=C, class_weight="balanced", solver="newton-cg", tol=tol)
        model.fit(x, column)
        weights[:, j] = model.coef_[0]
        intercept[j] = model.intercept_[0]
    return weights, intercept


def template_folds(groups: Sequence[str]) -> np.ndarray:
    """(examples, FOLDS) booleans: which folds hold each example out. Templates are dealt to
    folds at random (seeded); an example joined from several ("mail.cc.03+cal.basic.01") is
    held out of every fold one of its templates falls in."""
    import numpy as np

    parts = [group.split("+") for group in groups]
    unique = sorted({p for ps in parts for p in ps})
    order = np.random.default_rng(0).permutation(len(unique))
    fold_of = {unique[g]: i % FOLDS for i, g in enumerate(order)}
    return np.array([[any(fold_of[p] == k for p in ps) for k in range(FOLDS)] for ps in parts], dtype=bool)


def _fold_fits(corpus: _Corpus, y: np.ndarray, groups: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """For each template fold: (held-out rows, space, columns, weights, intercept) of a fit
    on the other rows, in a vocabulary of their own."""
    import numpy as np

    held_in = template_folds(groups)
    for k in range(held_in.shape[1]):
        train, held = np.flatnonzero(~held_in[:, k]), np.flatnonzero(held_in[:, k])
        if len(held) == 0 or len(train) == 0:
            continue
        space, columns = corpus.space(train)
        yield (held, space, columns, *_fit(corpus.tfidf(train, space, columns), y[train], FOLD_TOL))


def _tune_thresholds(corpus: _Corpus, y: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """Per-tool thresholds from out-of-fold scores, the folds split by template.

    An example held out of several folds keeps its lowest held-out score. Each fold's
    vocabulary comes from its own training part, so held-out phrasings meet unseen words
    just as a person's request does.
    """
    import numpy as np

    oof = np.ones(y.shape, dtype=np.float64)
    for held, space, columns, weights, intercept in _fold_fits(corpus, y, groups):
        z = corpus.tfidf(held, space, columns) @ weights + intercept
        oof[held] = np.minimum(oof[held], 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))))
    thresholds = np.full(y.shape[1], DEFAULT_THRESHOLD, dtype=np.float32)
    low, high = THRESHOLD_RANGE
    for j in range(y.shape[1]):
        positives = oof[y[:, j], j]
        if len(positives) >= MIN_POSITIVES:
            tuned = float(np.quantile(positives, RECALL_QUANTILE)) * THRESHOLD_MARGIN
            thresholds[j] = min(high, max(low, tuned))
    return thresholds
