"""Datasets of solved queries: JSONL lines ``{"query", "plan", optional "template" or "author"}``.

The tools of an example come from its plan text by the call-line pattern
(``plan.parser.plan_calls``), not by parsing it: a pack's examples must be readable even
when a tool's signature changed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError
from ..plan.parser import plan_calls


@dataclass(frozen=True)
class Example:
    query: str
    plan: str
    tools: tuple[str, ...]  # distinct tools of the plan, in order of first use
    # The generator template it came from, or "author:BRIEF" for a hand-written example: what
    # examples are held out together when tuning and training, as a new phrasing would be.
    template: str = ""
    repeated: tuple[str, ...] = ()  # tools the plan calls more than once ("invite Ana and Raj")


def parse_example(data: object) -> Example:
    """One decoded JSON line as an Example; ValueError or TypeError says what is wrong with it."""
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    for key in ("query", "plan"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ValueError(f"{key!r} must be a non-empty string")
    template, author = data.get("template", ""), data.get("author", "")
    if not isinstance(template, str) or not isinstance(author, str):
        raise TypeError("'template' and 'author' must be strings")
    if not template and author.strip():
        template = f"author:{author.strip()}"
    calls = plan_calls(data["plan"])
    if not calls:
        raise ValueError("the plan has no numbered tool call ('1. tool(...)')")
    counts = Counter(calls)
    return Example(data["query"].strip(), data["plan"], tuple(counts), template,
                   tuple(name for name, n in counts.items() if n > 1))


def read_dataset(path: Path | str) -> list[Example]:
    """Every example of a JSONL file; blank lines are skipped, anything else malformed is a DatasetError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read ({exc})") from None
    examples: list[Example] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(parse_example(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from None
    return examples
