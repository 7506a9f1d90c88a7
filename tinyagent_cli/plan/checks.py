"""What a plan must respect that the context-free grammar cannot say: the kinds of results.

The grammar lets ``$N`` name any earlier task, since a rule per combination of earlier
tools would be exponential. The decoder asks ``ResultKinds`` about each token instead:
a ``$N`` in an argument of a ``kind`` (an email's recipients, a file's path) may only name
a task that ``returns`` that kind, so a phone number cannot become an invitee nor an
opened file a recipient. A lookup of what the request already gave (the address of
"hr@company.com") is refused as a whole line, and the model writes its next likeliest one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import PlanError
from ..tools.spec import ToolSpec
from .parser import literal_args, numbered_call

# Literal values of a kind, as a request writes them: a lookup of one is pointless.
LITERALS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[^@\s\"]+@[^@\s\"]+\.[A-Za-z]{2,}"),
    "phone": re.compile(r"\+?[0-9][0-9 ()./-]{5,}[0-9]"),
}
_LINE = re.compile(r"\s*(\d+)\.\s*([A-Za-z_]\w*)\(")
_REFERENCE = re.compile(r"\$\{?(\d?)")  # as far as it is written: "$", "${", "$1", "${1"


class ResultKinds:
    """Checks plan text, as it is written, against the kinds of ``tools``' results."""

    def __init__(self, tools: Mapping[str, ToolSpec]) -> None:
        self.tools = tools

    def forbids(self, text: str) -> bool:
        """True if ``text``, a plan up to a candidate token, refers to a result of the wrong
        kind, or starts a reference where no earlier result has the kind its argument takes."""
        *done, line = text.split("\n")
        call = _LINE.match(line)
        spec = self.tools.get(call.group(2)) if call else None
        if spec is None:
            return False
        returns = {}
        for earlier in done:
            match = _LINE.match(earlier)
            if match and match.group(2) in self.tools:
                returns[match.group(1)] = self.tools[match.group(2)].returns
        for index, number in _references(line[call.end():]):
            kind = spec.params[index].kind if index < len(spec.params) else ""
            if not kind:
                continue
            if number and returns.get(number) != kind:
                return True
            if not number and kind not in returns.values():
                return True
        return False

    def pointless(self, line: str) -> bool:
        """True for a finished line that looks up what it was given: a tool returning a kind,
        called with nothing but a literal of that kind (``get_email_address("jo@acme.io")``)."""
        found = numbered_call(line)
        spec = self.tools.get(found[0]) if found else None
        literal = LITERALS.get(spec.returns) if spec else None
        if found is None or literal is None:
            return False
        try:
            strings = [value for value in literal_args(*found, 0) if isinstance(value, str)]
        except PlanError:
            return False  # the parser says what is wrong with it
        return bool(strings) and all(literal.fullmatch(s.strip()) for s in strings)


def _references(args: str) -> list[tuple[int, str]]:
    """(argument index, task number) of each ``$N`` inside a string of a call's argument text
    (its end may be unwritten yet); the number is "" while only "$" or "${" is written."""
    found: list[tuple[int, str]] = []
    index, depth, in_string, i = 0, 0, False, 0
    while i < len(args):
        char = args[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
            elif char == "$":
                number = _REFERENCE.match(args, i)
                found.append((index, number.group(1) if number else ""))
        elif char == '"':
            in_string = True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            index += 1
        elif char == ")" and depth == 0:
            break
        i += 1
    return found
