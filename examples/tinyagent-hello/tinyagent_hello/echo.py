"""The ``echo`` model backend: a planner without weights that always plans one greeting.

A backend's ``open(spec, settings, *, verbose, console)`` returns a LanguageModel
(tinyagent_cli/llm/base.py): ``name``, ``stream(prompt, ...)`` and ``count_tokens``; as a
subclass, it has the optional abilities' defaults (no prefix cache, no adapter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from tinyagent_cli.llm.base import LanguageModel


class EchoModel(LanguageModel):
    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.name = spec.name

    def stream(self, prompt: str, *, grammar: str | None = None, stop: Sequence[str] = (), max_tokens: int = 256,
               reject: Any = None, forbid: Any = None) -> Iterator[str]:
        # The request is the prompt's last "Request: ..." line; greet its last name (a word
        # with a capital), else its last word.
        requests = re.findall(r"^Request: (.*)$", prompt, flags=re.MULTILINE)
        words = re.findall(r"\w+", requests[-1]) if requests else []
        names = [word for word in words if word[0].isupper()]
        name = (names or words or ["world"])[-1]
        yield f'1. say_hello("{name}")\n'
        yield "2. join()"

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def open_echo(spec: Any, settings: Any, **options: Any) -> EchoModel:
    return EchoModel(spec)
