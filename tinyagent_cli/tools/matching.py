"""Finding the thing a person named: contacts, notes, files (shared by both backends)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def normalise(text: str) -> str:
    """Case-, accent- and space-insensitive form of a name: "  José   NÚÑEZ " -> "jose nunez"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def best_match(query: str, candidates: Sequence[str], cutoff: float = 80.0) -> str | None:
    """The candidate the query names: an exact (``normalise``d) match, else the best fuzzy one.

    Fuzzy scores are rapidfuzz WRatio (0-100), which copes with partial names ("Sarah" for
    "Sarah Lin") and word order; below ``cutoff`` nothing matches. Returns the candidate as
    given, or None.
    """
    wanted = normalise(query)
    if not wanted or not candidates:
        return None
    for candidate in candidates:
        if normalise(candidate) == wanted:
            return candidate
    from rapidfuzz import fuzz, process

    found = process.extractOne(wanted, [normalise(c) for c in candidates], scorer=fuzz.WRatio, score_cutoff=cutoff)
    return candidates[found[2]] if found else None
