"""Finding the thing a person named: contacts, notes, files (shared by both backends)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

SENDERS_SCANNED = 500  # "reply to Omar": his newest message among the inbox's newest
_WORD = re.compile(r"[^\W\d_]{3,}")


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


def words(text: str) -> set[str]:
    """The words of three letters or more, lower-cased: how a request names a person."""
    return set(_WORD.findall(text.lower()))


def sender_words(from_value: str) -> set[str]:
    """The words of a From header's display name and mailbox ("Omar Haddad <omar.h@x>")."""
    from email.utils import parseaddr

    name, address = parseaddr(from_value)
    return words(f"{name} {address.partition('@')[0]}")
