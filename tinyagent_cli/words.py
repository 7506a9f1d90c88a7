"""The words of a request: how the plan grammar copies them and how retrieval reads them."""

from __future__ import annotations

import re

# Punctuation a word may carry at its ends without it being part of the word: "Friday,"
# or "(Wifi)" in a request is quoted as Friday or Wifi.
EDGE = "\"'“”‘’«»()[]<>,.;:!?"
PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # letters, maybe with ' or - inside


def word_core(word: str) -> str:
    """``word`` without the punctuation at its ends or a possessive 's: "(Okafor's," -> "Okafor"."""
    core = word.strip(EDGE)
    return core[:-2] if core.lower().endswith(("'s", "’s")) else core
