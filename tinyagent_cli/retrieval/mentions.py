"""Mentions: the words of a request that a repeatable tool is called on, to count them.

Some tools are called once for each thing a request names: "invite Youssef and Salma"
looks up two email addresses. A small planner copies the shape of its examples, so when
both examples look up one person the plan invites one of the two (Gemma 270M: 9 of the
28 dev failures). ToolRAG's bag of words cannot count names, so this tagger marks each
word of a request with the repeatable tools whose first argument it is part of, from the
word, its shape ("Cap", "low", "digit", "email") and its neighbours: one multinomial
logistic regression whose classes are sets of tools, trained on the example bank, where
each plan says which words its calls copied. The example bank then favours examples
that call a tool as often as the request mentions things for it.

A tool is repeatable when its first parameter is verbatim (words of the request) and at
least REPEAT_SHARE of the bank's plans call it more than once. On the shipped pack those
are the two contact lookups and opening a file.
"""

from __future__ import annotations

import ast
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..plan.parser import CALL_HEAD
from ..words import EDGE, word_core
from .dataset import Example

if TYPE_CHECKING:
    import numpy as np

    from ..tools.spec import Catalog

REPEAT_SHARE = 0.01
MAX_TOOLS = 3  # classes are sets of tools: 2**3 at most
MIN_COUNT = 2  # a feature seen once teaches the model one example
C = 3.0
TOL = 1e-4  # 1e-3 stops early enough to lose a quarter of the two-person requests of dev
WINDOW = (-3, -2, -1, 1, 2)  # neighbours whose word and shape are features
MENTION = 0.5  # a word is part of a tool's argument when its probability reaches this
# A pronoun points back at someone already named: "get Bongani's number and text him"
# names one person. The bank has too few "text him" for the model to learn it.
PRONOUNS = frozenset({"i", "me", "you", "he", "him", "she", "her", "it", "we", "us", "they", "them"})

# The first argument of a call, when it is a string literal: '2. get_email_address("Ana")'.
_FIRST_ARG = re.compile(CALL_HEAD + r'\s*("(?:[^"\\\n]|\\.)*")', re.MULTILINE)  # a call's first string


def _shape(core: str) -> str:
    if not core:
        return "punct"
    if "@" in core:
        return "email"
    if any(c.isdigit() for c in core):
        return "digit"
    if "." in core:
        return "dotted"  # a file name
    if core[0].isupper():
        return "CAPS" if core.isupper() and len(core) > 1 else "Cap"
    return "low"


def features(words: Sequence[str]) -> list[list[str]]:
    """The features of each word of a request split on white space."""
    cores = [word_core(w) for w in words]
    lows = [c.lower() for c in cores]
    shapes = [_shape(c) for c in cores]
    out: list[list[str]] = []
    for i, word in enumerate(words):
        row = [f"w={lows[i]}", f"s={shapes[i]}", f"suf={lows[i][-3:]}",
               f"s-1s0={shapes[i - 1] if i else '<>'}{shapes[i]}"]
        if i == 0:
            row.append("first")
        if cores[i] != word.strip(EDGE):
            row.append("poss")
        for d in WINDOW:
            j = i + d
            inside = 0 <= j < len(words)
            row.append(f"w{d}={lows[j] if inside else '<>'}")
            row.append(f"s{d}={shapes[j] if inside else '<>'}")
        out.append(row)
    return out


def repeatable_tools(examples: Sequence[Example], catalog: Catalog) -> tuple[str, ...]:
    """Tools with a verbatim first parameter that enough plans of the bank call twice, most first."""
    counts: dict[str, int] = {}
    for example in examples:
        for name in example.repeated:
            counts[name] = counts.get(name, 0) + 1
    floor = max(1, REPEAT_SHARE * len(examples))
    eligible = [
        name for name, n in counts.items()
        if n >= floor and name in catalog.known and catalog.known[name].params
        and catalog.known[name].params[0].verbatim and catalog.known[name].params[0].type == "str"
    ]
    return tuple(sorted(eligible, key=lambda name: -counts[name])[:MAX_TOOLS])


def word_labels(example: Example, tools: Sequence[str]) -> list[int]:
    """Per word of the query, the set (bit i: ``tools[i]``) of tools whose first argument
    the plan copied it into: the first run of query words that says the argument."""
    words = example.query.split()
    labels = [0] * len(words)
    lows = [word_core(w).lower() for w in words]
    for _, name, literal in _FIRST_ARG.findall(example.plan):
        if name not in tools:
            continue
        try:
            argument = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            continue
        target = [word_core(w).lower() for w in str(argument).split()]
        if not target:
            continue
        for i in range(len(words) - len(target) + 1):
            if lows[i : i + len(target)] == target:
                for k in range(i, i + len(target)):
                    labels[k] |= 1 << tools.index(name)
                break
    return labels


@dataclass(frozen=True, eq=False)  # holds arrays: identity, not value, equality
class MentionTagger:
    tools: tuple[str, ...]  # bit i of a class is tools[i]
    vocab: dict[str, int]  # feature -> row of weights
    weights: np.ndarray  # float32 (features, classes)
    intercept: np.ndarray  # float32 (classes,)
    classes: np.ndarray  # int32 (classes,): each a set of tools as bits

    def probabilities(self, words: Sequence[str]) -> np.ndarray:
        """(words, tools): the probability that each word is part of each tool's argument."""
        import numpy as np

        if not words or not self.tools:
            return np.zeros((len(words), len(self.tools)))
        z = np.tile(self.intercept.astype(np.float64), (len(words), 1))
        for i, row in enumerate(features(words)):
            index = [self.vocab[f] for f in row if f in self.vocab]
            if index:
                z[i] += self.weights[index].sum(axis=0)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        bits = (self.classes[:, None] >> np.arange(len(self.tools))) & 1  # (classes, tools)
        return p @ bits

    def counts(self, query: str) -> dict[str, int]:
        """How many separate things the query names for each repeatable tool. A mention is
        a run of tagged words other than pronouns; a comma, semicolon or colon ends it
        ("Ana, Raj")."""
        words = query.split()
        tagged = self.probabilities(words) >= MENTION
        tagged[[word_core(w).lower() in PRONOUNS for w in words]] = False
        found: dict[str, int] = {}
        for t, name in enumerate(self.tools):
            runs = 0
            for i in range(len(words)):
                if tagged[i, t] and (i == 0 or not tagged[i - 1, t] or words[i - 1][-1:] in ",;:"):
                    runs += 1
            found[name] = runs
        return found

    @classmethod
    def train(cls, examples: Sequence[Example], catalog: Catalog) -> MentionTagger:
        """Trained on the example bank; with no repeatable tool, a tagger that finds nothing."""
        import numpy as np
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression

        tools = repeatable_tools(examples, catalog)
        # ~110k words of ~16 features each: kept as int32 ids, not 1.8M strings (the
        # shipped bank trains in 107 MB less).
        ids: dict[str, int] = {}
        columns = array("i")
        ends = array("q")
        labels: list[int] = []
        if tools:
            for example in examples:
                for row in features(example.query.split()):
                    columns.extend(ids.setdefault(f, len(ids)) for f in row)
                    ends.append(len(columns))
                labels.extend(word_labels(example, tools))
        if len(set(labels)) < 2:
            return cls((), {}, np.zeros((0, 0), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))
        column = np.frombuffer(columns, dtype=np.int32)
        kept = np.bincount(column, minlength=len(ids)) >= MIN_COUNT
        renumber = np.cumsum(kept) - 1
        inside = kept[column]
        before = np.concatenate([[0], np.cumsum(inside)])  # kept entries before each position
        indptr = before[np.concatenate([[0], np.frombuffer(ends, dtype=np.int64)])]
        x = csr_matrix((np.ones(int(inside.sum()), np.float32), renumber[column[inside]], indptr),
                       shape=(len(labels), int(kept.sum())))
        vocab = {f: int(renumber[i]) for f, i in ids.items() if kept[i]}
        model = LogisticRegression(C=C, tol=TOL, max_iter=2000)
        model.fit(x, np.array(labels))
        classes = model.classes_.astype(np.int32)
        coef, intercept = model.coef_, model.intercept_
        if len(classes) == 2:  # scikit-learn fits one column for two classes: make it softmax's two
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
        return cls(tools, vocab, coef.T.astype(np.float32), intercept.astype(np.float32), classes)
