"""What a planner model is to the rest of tinyagent: a streaming text completer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

# Every backend samples greedily with this seed, so one query gives one plan.
SEED = 1234


@runtime_checkable
class LanguageModel(Protocol):
    """A model that completes a prompt, deterministically (temperature 0, fixed seed).

    ``grammar`` is GBNF text (see ``plan.grammar``); a backend that cannot constrain
    output ignores it, so callers still parse and validate what comes back. ``reject``
    is offered each finished line; a backend that can take a line back writes its next
    likeliest line instead of one it refuses, and one that cannot ignores it too.
    ``forbid`` is asked about the text so far plus each candidate token; a backend that
    samples locally takes the next likeliest token instead of a forbidden one, a server
    ignores it.

    A backend's model class subclasses this protocol, so the optional abilities below have
    their defaults: no prefix cache, no adapter.
    """

    name: str

    def stream(
        self, prompt: str, *, grammar: str | None = None, stop: Sequence[str] = (), max_tokens: int = 256,
        reject: Callable[[str], bool] | None = None, forbid: Callable[[str], bool] | None = None,
    ) -> Iterator[str]:
        """Yield the completion in text chunks as they are generated."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes in this model's context (approximate for servers)."""
        ...

    def warm_prefix(self, prefix: str, cache_dir: Path | None = None) -> None:
        """Evaluate ``prefix`` now (and keep it under ``cache_dir``), so a prompt starting with
        it pays only for its tail; a model without a prefix cache does nothing."""

    def trained_toolset(self) -> tuple[str, ...] | None:
        """The tools the planner's adapter was trained with; None when it does not say."""
        return None
