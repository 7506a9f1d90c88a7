"""What a plan must respect that the context-free grammar cannot say: the kinds of results.

The grammar lets ``$N`` name any earlier task, since a rule per combination of earlier
tools would be exponential. The decoder asks ``ResultKinds`` about each token instead:
a ``$N`` may only name a task whose tool says what it ``returns`` (a created note answers
with a confirmation, nothing to pass on), and in an argument of a ``kind`` (an email's
recipients, a file's path) only a task that returns that kind, so a phone number cannot
become an invitee nor an opened file a recipient. Where the request can write a value of
the kind itself (an address, a phone number), such an argument may also hold one the
request gave, and nothing else: a name among the recipients is a lookup not written. A
lookup of what the request already gave (the address of "hr@company.com", or "hr" of it),
or by an address or number instead of a name, is refused as a whole line, and the model
writes its next likeliest one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..errors import PlanError
from ..tools.spec import ToolSpec
from .parser import PLAN_CALL, literal_args, numbered_call

# How a request writes a value of a kind, where it can.
LITERALS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"),
    "phone": re.compile(r"\+?\(?[0-9][0-9 ()./-]{5,}[0-9]"),
}
# A reference as far as it is written ("$", "${", "$1", "${1"), or "$$", a dollar sign itself.
_REFERENCE = re.compile(r"\$\$|\$\{?(\d?)")


class ResultKinds:
    """Checks plan text, as it is written, against the kinds of ``tools``' results and the
    values of each kind that the ``given`` texts (the request, standing instructions) hold."""

    def __init__(self, tools: Mapping[str, ToolSpec], given: Iterable[str] = ()) -> None:
        self.tools = tools
        texts = list(given)
        self.given = {kind: {m.group(0).lower() for text in texts for m in pattern.finditer(text)}
                      for kind, pattern in LITERALS.items()}
        self.dollars = any("$" in text for text in texts)  # so a "$" may begin "$$" (grammar.py)

    def forbids(self, text: str) -> bool:
        """True if ``text``, a plan up to a candidate token, refers to a result that is not
        a value or of the wrong kind, starts a reference where no earlier result could do,
        or writes in an argument of a kind a value that the request did not give."""
        *done, line = text.split("\n")
        call = PLAN_CALL.match(line)
        spec = self.tools.get(call.group(2)) if call else None
        if spec is None:
            return False
        returns = {}
        for earlier in done:
            match = PLAN_CALL.match(earlier)
            if match and match.group(2) in self.tools:
                returns[match.group(1)] = self.tools[match.group(2)].returns
        for index, value, closed in _strings(line[call.end():]):
            param = spec.params[index] if index < len(spec.params) else None
            kind = param.kind if param else ""
            references = []
            for m in _REFERENCE.finditer(value):
                pending = m.group(0) == "$" and not closed and m.end() == len(value)
                if m.group(0) == "$$" or (pending and self.dollars and not kind):
                    continue  # a dollar sign itself, or free text's "$" that may begin one
                references.append(m.group(1))
            for number in references:
                if number in returns and (not returns[number] or kind and returns[number] != kind):
                    return True
                if not number and not any(kind in ("", got) and got for got in returns.values()):
                    return True
            if not references and kind in self.given and param is not None:
                said = value.lower()
                if said and not any(g == said if closed else g.startswith(said) for g in self.given[kind]):
                    return True
                if not said and param.type.startswith("list") and (
                        closed or not self.given[kind] and kind not in returns.values()):
                    return True  # an empty item, or one with nothing it could hold: the list stays empty
        return False

    def unanswered(self, tools: Iterable[str]) -> tuple[str, ...]:
        """``tools`` but the lookups the request already answers: those of a kind it gives a
        value of. "Text it to 650-555-0147" may need no get_phone_number: a plan held to call
        one could only look up the number itself (refused as pointless) or write an earlier
        call again, which ends the plan before the text is sent."""
        return tuple(name for name in tools
                     if not (name in self.tools and self.given.get(self.tools[name].returns)))

    def pointless(self, line: str) -> bool:
        """True for a finished line that looks up what it was given, or looks up no name: a
        tool returning a kind that can be written as a literal, called with nothing but
        literals (``get_email_address("jo@acme.io")``, ``get_phone_number("jo@acme.io")``)
        or parts of one of its kind that the request gave ("jo" of "jo@acme.io")."""
        found = numbered_call(line)
        spec = self.tools.get(found[0]) if found else None
        if found is None or spec is None or spec.returns not in LITERALS:
            return False
        try:
            strings = [value.strip() for value in literal_args(*found, 0) if isinstance(value, str)]
        except PlanError:
            return False  # the parser says what is wrong with it
        given = self.given[spec.returns]
        return bool(strings) and all(
            any(literal.fullmatch(s) for literal in LITERALS.values()) or (s and any(s.lower() in g for g in given))
            for s in strings)


def _strings(args: str) -> list[tuple[int, str, bool]]:
    """(argument index, text, closed) of each string in a call's argument text, whose end
    may be unwritten yet; the text is as written, escapes and all."""
    found: list[tuple[int, str, bool]] = []
    index, depth, start, i = 0, 0, -1, 0
    while i < len(args):
        char = args[i]
        if start >= 0:
            if char == "\\":
                i += 1
            elif char == '"':
                found.append((index, args[start:i], True))
                start = -1
        elif char == '"':
            start = i + 1
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            index += 1
        elif char == ")" and depth == 0:
            break
        i += 1
    if start >= 0:
        found.append((index, args[start:], False))
    return found
