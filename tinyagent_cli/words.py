"""The words of a request: how the plan grammar copies them and how retrieval reads them."""

from __future__ import annotations

import re

EDGE = "\"'“”‘’«»()[]<>,.;:!?"  # punctuation that may end or start a word without being part of it
PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # letters, maybe with ' or - inside


def word_core(word: str) -> str:
    """``word`` without the punctuation at its ends or a possessive 's: "(Okafor's," -> "Okafor"."""
    core = word.strip(EDGE)
    return core[:-2] if core.lower().endswith(("'s", "’s")) else core
