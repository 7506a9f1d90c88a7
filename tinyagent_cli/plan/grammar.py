"""A GBNF grammar that only admits plans over the given tools, with their exact signatures.

With it, llama.cpp cannot sample a token that breaks the plan format: every line is
``N. tool(args)`` with a known tool, the right number of arguments of the right types,
tasks numbered 1, 2, 3..., ``$N`` only for an earlier task, then ``N. join()``. A small
model's usual failures (prose, a made-up tool, a missing quote, a list where a string
goes, a reference to itself) become impossible. Date arguments follow a small language
of phrases the date resolver understands, so a place or stray text cannot land in one.
Arguments a pack marks ``verbatim`` (names, titles, messages) may only copy words of
the request, so a name or a reminder cannot come from an example instead.
The tools ToolRAG is sure of must all be called before ``join()``, and a tool waits for
the required tools its hints say come first. Plans, lists and strings are bounded; the
caller bounds the tokens, so a looping model still ends.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..tools.spec import Param, ToolSpec
from .parser import END_OF_PLAN
from ..words import EDGE, PLAIN_WORD, word_core

MAX_TASKS = 8  # at most 9: a reference is one digit
MAX_LIST = 6  # items in one list argument
# Characters in a string argument and in a list item (a name, an address, a $N): far more
# than a request needs (the datasets' longest is 42), but a model that drifts writes one
# string until it runs out of tokens ("10000000..."); bounded, its plan still ends.
MAX_STRING = 400
MAX_ITEM = 100
# Planning for a request, a string is at most that long plus room for words of the
# planner's own ("Here is the Q3 deck"): a drifting string then ends within tokens the
# rest of the plan can still use (400 characters twice ran a plan out of its tokens).
OWN_WORDS = 40
MAX_DATE_WORDS = 6  # "on the 3rd at 5:30 pm" is the longest date phrase a request needs
MAX_THOUGHT = 300  # characters of a "Thought:" line



@dataclass(frozen=True)
class GrammarPolicy:
    """How far a planner style's grammar holds its model, beyond a valid plan."""

    sure_tools: bool  # ToolRAG's sure tools are called before join() (a repeat is refused while one is missing)
    copies: bool  # verbatim arguments and dates are words of the request
    # Without copies: the verbatim arguments of lookups (``ToolSpec.is_lookup``) still are, and a
    # request that says no date gets none.
    lookups_copy: bool = False
    thoughts: bool = False  # LLMCompiler's conventions: "Thought:" lines, None, <END_OF_PLAN>

    def required(self, sure: Sequence[str]) -> tuple[str, ...]:
        """The tools a plan must call: ToolRAG's ``sure`` ones, if this policy holds to them."""
        return tuple(sure) if self.sure_tools else ()

    def grammar(self, tools: Sequence[ToolSpec], *, sure: Sequence[str], given: Sequence[str]) -> str:
        """The plan grammar for ``tools`` under this policy; ``given`` is the request (and the
        standing instructions) whose words verbatim arguments may copy."""
        copied = given if self.copies or self.lookups_copy else ()
        return plan_grammar(tools, required=self.required(sure), request=copied, lookups_only=not self.copies,
                            thoughts=self.thoughts, max_string=string_bound(given),
                            dollars=any("$" in text for text in given))

_TYPE_RULES = {"str": "str", "date": "date", "int": "int", "bool": "bool", "list[str]": "list"}
_EMPTY = {"str": '"\\"\\""', "int": '"0"', "bool": '"False"', "list[str]": '"[]"'}  # Param.said_by

# Shared by every step: characters of a Python string literal that are not "$" (no raw
# quote, backslash or control character; only escapes ast.literal_eval reads the same
# way everywhere), numbers and booleans.
_COMMON = [
    r'plain ::= [^"\\$\x00-\x1F]',
    r'esc ::= "\\" (["\\nt] | "u" [0-9a-fA-F]{4})',
    # What may follow an unbraced $N inside a string: not a digit, which the parser would
    # read as part of the number ("$1" then "23 Main St" is $123), nor another "$".
    r'after ::= [^0-9"\\$\x00-\x1F] | esc',
    r'int ::= "0" | [1-9] [0-9]{0,8}',
    r'bool ::= "True" | "False"',
]


def _words(*words: str) -> list[list[str]]:
    """Alternatives for each word as written and capitalised ("friday", "Friday")."""
    return [[form] for word in words for form in (word, word.capitalize())]


# The date phrases a plan may write, as rules of alternatives: an item is a literal, a
# "@rule" or a "[character class]". Every phrase of this language is one resolve_date
# understands (tests/test_grammar.py samples thousands), except a day a month lacks
# ("Feb 30"), so a date argument can no longer hold a place ("Friday at Nando's") or
# anything else the model drifted into. The forms are those dateparser reads reliably, with
# those resolve_date rewrites for it ("half past four", "9 o'clock", "3p", "tmrw"):
# "this Sat evening" is not among them.
DATE_RULES: dict[str, list[list[str]]] = {
    "when": [["@day"], ["@day", " ", "@time"], ["@time"], ["@clocktime", " ", "@dayp"], ["@dayp", " ", "@part"],
             ["@dayp", " ", "@part", " ", "@time"], ["this ", "@part"], ["this ", "@part", " ", "@time"],
             ["tonight"], ["tonight ", "@time"], ["Tonight"], ["Tonight ", "@time"],
             ["in ", "@count", " ", "@unit"], ["in a ", "@one"], ["in an hour"], ["in half an hour"], ["@iso"],
             ["now"]],
    "day": [["@dayp"], ["@short"], ["the day after tomorrow"], ["the ", "@nth"], ["on the ", "@nth"],
            ["next week"], ["next month"]],
    "dayp": [["@weekday"], ["next ", "@weekday"], ["this ", "@weekday"], ["on ", "@weekday"], ["@near"],
             ["@month", " ", "@dom"], ["@month", " ", "@nth"], ["@dom", " ", "@month"], ["on ", "@month", " ", "@dom"]],
    "near": _words("today", "tomorrow", "tmrw"),
    "weekday": _words("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    "short": _words("mon", "tue", "tues", "wed", "weds", "thu", "thur", "thurs", "fri", "sat", "sun"),
    "month": _words("january", "february", "march", "april", "may", "june", "july", "august", "september",
                    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
                    "sept", "oct", "nov", "dec"),
    "dom": [["[1-9]"], ["[12]", "[0-9]"], ["3", "[01]"]],
    "nth": [["1st"], ["2nd"], ["3rd"], ["[4-9]", "th"], ["1", "[0-9]", "th"], ["2", "[04-9]", "th"], ["21st"],
            ["22nd"], ["23rd"], ["30th"], ["31st"]],
    "time": [["@clocktime"], ["at ", "@hour"]],
    "clocktime": [["@clock"], ["at ", "@clock"], ["noon"], ["at noon"], ["midnight"], ["at midnight"], ["@spoken"],
                  ["at ", "@spoken"]],
    "clock": [["@hour", "@ampm"], ["@hour", " ", "@ampm"], ["@hour", ":", "@min"], ["@hour", ":", "@min", "@ampm"],
              ["@hour", ":", "@min", " ", "@ampm"], ["@h24", ":", "@min"], ["@hour", "[ap]"],
              ["@hour", ":", "@min", "[ap]"]],
    "spoken": [["half past ", "@hourw"], ["quarter past ", "@hourw"], ["quarter to ", "@hourw"],
               ["a quarter to ", "@hourw"], ["half ", "@hourw"], ["@hourw", " o'clock"]],
    "hour": [["[1-9]"], ["1", "[012]"]],
    "hourw": [["@hour"], *_words("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                 "eleven", "twelve")],
    "h24": [["0", "[0-9]"], ["1", "[3-9]"], ["2", "[0-3]"]],
    "min": [["[0-5]", "[0-9]"]],
    "ampm": [["am"], ["pm"], ["AM"], ["PM"], ["a.m."], ["p.m."]],
    "part": [["morning"], ["afternoon"], ["evening"], ["night"]],
    "count": [["[1-9]"], ["[1-9]", "[0-9]"]],
    "unit": [[unit + plural] for unit in ("minute", "hour", "day", "week", "month") for plural in ("s", "")],
    "one": [["minute"], ["day"], ["week"], ["month"]],
    "iso": [["@ymd"], ["@ymd", "[ Tt]", "@isotime"]],
    "isotime": [["@h24", ":", "@min"], ["@hour", ":", "@min"], ["@h24", ":", "@min", ":", "@min"],
                ["@hour", ":", "@min", ":", "@min"]],
    "ymd": [["20", "[0-9]", "[0-9]", "-", "@mm", "-", "@dd"]],
    "mm": [["0", "[1-9]"], ["1", "[0-2]"]],
    "dd": [["0", "[1-9]"], ["[12]", "[0-9]"], ["3", "[01]"]],
}


def _date_gbnf() -> list[str]:
    def item(text: str) -> str:
        if text.startswith("@"):
            return f"date-{text[1:]}"
        return text if text.startswith("[") else '"' + text + '"'

    rules = ['date ::= "\\"" date-when? "\\""']
    for name, alternatives in DATE_RULES.items():
        rules.append(f"date-{name} ::= " + " | ".join(" ".join(item(i) for i in alt) for alt in alternatives))
    return rules


@functools.cache
def _date_pattern() -> re.Pattern[str]:
    """DATE_RULES as one regular expression (the rules refer to each other but never loop)."""
    def expand(rule: str) -> str:
        return "(?:" + "|".join(
            "".join(expand(i[1:]) if i.startswith("@") else i if i.startswith("[") else re.escape(i) for i in alt)
            for alt in DATE_RULES[rule]) + ")"

    return re.compile(expand("when"))


def _casings(text: str) -> tuple[str, str, str]:
    """``text`` as written, lower-case and capitalised: how a person's words may be copied."""
    return text, text.lower(), text[:1].upper() + text[1:]


def request_dates(request: Sequence[str]) -> list[str]:
    """The date phrases of the date language that the ``request`` texts say word for word
    ("next monday" in "renew it next monday, its urgent"), also lower-case or capitalised
    as the language allows ("Sunday 10am" for "sunday 10am"), at most once each."""
    pattern = _date_pattern()
    found: dict[str, None] = {}
    for text in request:
        words = text.split()
        for i in range(len(words)):
            for j in range(i + 1, min(i + MAX_DATE_WORDS, len(words)) + 1):
                phrase = " ".join(words[i:j])
                for form in (phrase, phrase.lstrip(EDGE), phrase.rstrip(EDGE), phrase.strip(EDGE)):
                    found.update((cased, None) for cased in _casings(form) if pattern.fullmatch(cased))
    return list(found)


def _date_span_rule(request: Sequence[str]) -> list[str]:
    """``date``: one of the request's own date phrases, or nothing."""
    phrases = request_dates(request)
    if not phrases:
        return ['date ::= "\\"\\""']
    return [f'date ::= "\\"" ({" | ".join(_literal(p) for p in phrases)})? "\\""']


_EDGE_BUT_CLOSERS = EDGE.replace(")", "").replace("]", "")


def _word_forms(word: str) -> list[str]:
    """How one word of the request may appear in a verbatim argument: as typed, without
    the punctuation at its ends (but for a bracket the span opens or closes: "Informe
    (2).pdf," names Informe (2).pdf) or a possessive 's ("Okafor's number" names Okafor), and
    for a plain word lower-case or capitalised ("jo@acme.io" and "Q3_v2.pdf" keep their
    case) or without a final s (a possessive typed without its apostrophe: "what is Freyas
    email" names Freya, as 17 plans of the bank say). No form has a "$" (only a reference
    may) or a control character (no string may).
    """
    core = word.strip(EDGE)
    forms = [word, core, word_core(word)]
    # Brackets stay where the span opened or closes one: "(2).pdf," and "2026)»".
    opened, closed = word.rstrip(EDGE), word.rstrip(_EDGE_BUT_CLOSERS)
    forms += [opened] if opened.startswith(("(", "[")) else []
    forms += [closed] if closed.endswith((")", "]")) else []
    if PLAIN_WORD.fullmatch(core):
        forms += [core[:-1]] if len(core) > 2 and core.endswith("s") else []
        forms = [cased for form in forms for cased in _casings(form)]
    return [form for form in dict.fromkeys(forms)
            if form and "$" not in form and not any(ord(c) < 32 or ord(c) == 127 for c in form)]


def _literal(text: str) -> str:
    """The GBNF literal for ``text`` as written inside a Python string literal in a plan."""
    python = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + python.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said_rules(request: Sequence[str]) -> list[str]:
    """``said``: any run of consecutive words of one of the ``request`` texts.

    One rule per word, which may go on to the next word of its text: a span of n words
    costs n rules, not n squared. A word with no usable form ends a run.
    """
    rules: list[str] = []
    starts: list[str] = []
    for text in request:
        words = [_word_forms(word) for word in text.split()]
        for i, forms in enumerate(words):
            if not forms:
                continue
            name = f"said-{len(starts)}"
            follows = i + 1 < len(words) and words[i + 1]
            then = f' (" " said-{len(starts) + 1})?' if follows else ""
            rules.append(f"{name} ::= ({' | '.join(_literal(form) for form in forms)}){then}")
            starts.append(name)
    return [f"said ::= {' | '.join(starts)}", *rules] if starts else []


def string_bound(request: Sequence[str]) -> int:
    """Characters a string argument may take in a plan for the ``request`` texts."""
    return min(MAX_STRING, max(map(len, request), default=MAX_STRING) + OWN_WORDS)


def _rule_name(tool: str, step: int) -> str:
    # GBNF rule names allow letters, digits and '-', not '_'.
    return f"call-{tool.replace('_', '-')}-{step}"


def _call_rules(step: int, tools: Sequence[ToolSpec], max_list: int, verbatim: bool, said: bool,
                thoughts: bool = False, max_string: int = MAX_STRING, lookups_only: bool = False,
                unsaid: frozenset[tuple[str, str]] = frozenset(), dollars: bool = False) -> list[str]:
    """Each tool's call on plan line ``step``, whose strings may refer only to earlier steps
    (and with ``dollars`` write "$$", a dollar sign itself); with ``verbatim``, verbatim
    strings (only those of lookups, with ``lookups_only``) are a reference or (with ``said``)
    words of the request; an ``unsaid`` (tool, parameter) is its empty value; with
    ``thoughts`` (LLMCompiler's conventions), any argument may be None."""
    def arg(tool: ToolSpec, param: Param) -> str:
        if (tool.name, param.name) in unsaid:
            return _EMPTY[param.type]
        kind = _TYPE_RULES[param.type]
        if verbatim and param.verbatim and (not lookups_only or tool.is_lookup):
            kind = "quote" if kind == "str" else "quotes"
        rule = f"{kind}-{step}" if kind in ("str", "list", "quote", "quotes") else kind
        return f'({rule} | "None")' if thoughts else rule

    rules = []
    for tool in tools:
        args = ' ", " '.join(arg(tool, p) for p in tool.params)
        rules.append(f'{_rule_name(tool.name, step)} ::= "{tool.name}(" {args} ")"' if args
                     else f'{_rule_name(tool.name, step)} ::= "{tool.name}()"')
    # A $N inside a string is braced or followed by a character that ends it; one may end it.
    reference = f' | "$" ("{{" id-{step} "}}" | id-{step} after)' if step > 1 else ""
    last = f'("$" ref-{step})? ' if step > 1 else ""
    rules += [
        f'str-{step} ::= "\\"" char-{step}{{0,{max_string}}} {last}"\\""',
        f'item-{step} ::= "\\"" char-{step}{{0,{min(MAX_ITEM, max_string)}}} {last}"\\""',
        f"char-{step} ::= plain | esc{reference}" + (' | "$$"' if dollars else ""),
        f'list-{step} ::= "[" (item-{step} (", " item-{step}){{0,{max_list - 1}}})? "]"',
        _join_rule(step + 1, thoughts),
    ]
    if verbatim:
        copies = " | ".join((["said"] if said else []) + ([f'"$" ref-{step}'] if step > 1 else []))
        rules += [
            f'quote-{step} ::= "\\"" ({copies})? "\\""' if copies else f'quote-{step} ::= "\\"\\""',
            f'quotes-{step} ::= "[" (quote-{step} (", " quote-{step}){{0,{max_list - 1}}})? "]"',
        ]
    if step > 1:
        last_id = "1" if step == 2 else f"1-{step - 1}"
        rules += [f'ref-{step} ::= id-{step} | "{{" id-{step} "}}"', f"id-{step} ::= [{last_id}]"]
    return rules


def _line_rules(step: int, tools: Sequence[ToolSpec], required: Sequence[str], max_tasks: int,
                waiting: set[frozenset[str]], thoughts: bool = False) -> tuple[list[str], set[frozenset[str]]]:
    """Rules for plan line ``step``, one per set of required tools still to be called
    (``waiting``), and the sets the next line may start with.

    A line offers every tool, except that it must leave no more required tools than
    there are lines left, and a tool waits while a required tool its ``after`` hints
    name is still missing; ``join()`` may follow once none is left.
    """
    rules, following = [], set()
    for missing in sorted(waiting, key=sorted):
        def waits(tool: ToolSpec) -> bool:
            return bool(missing & set(tool.after))

        # Hints that wait on each other (a pack's A after B, B after A) would offer nothing.
        ordered = any(tool.name in missing and not waits(tool) for tool in tools) or not missing
        options: dict[frozenset[str], list[str]] = {}
        for tool in tools:
            left = missing - {tool.name}
            if len(left) <= max_tasks - step and not (ordered and waits(tool)):
                options.setdefault(left, []).append(_rule_name(tool.name, step))
        alternatives = []
        for left, calls in options.items():
            call = f"({' | '.join(calls)})" if len(calls) > 1 else calls[0]
            if left:
                then = _line_name(step + 1, left, required)
            elif step == max_tasks:
                then = f"join-{step + 1}"
            else:
                then = f"(join-{step + 1} | {_line_name(step + 1, left, required)})"
            if step < max_tasks:
                following.add(left)
            alternatives.append(f'{call} "\\n" {then}')
        thought = "thought? " if thoughts else ""
        rules.append(f'{_line_name(step, missing, required)} ::= {thought}"{step}. " ({" | ".join(alternatives)})')
    return rules, following


def _join_rule(step: int, thoughts: bool) -> str:
    """``N. join()``; with ``thoughts``, maybe after a thought and followed by <END_OF_PLAN>,
    as LLMCompiler's fine-tuned planners write it."""
    if thoughts:
        return f'join-{step} ::= thought? "{step}. join()" "{END_OF_PLAN}"?'
    return f'join-{step} ::= "{step}. join()"'


def _line_name(step: int, missing: frozenset[str], required: Sequence[str]) -> str:
    """``line-3-10``: line 3 while required tool 0 is called and tool 1 is not (``line-3``: none required)."""
    called = "".join("0" if name in missing else "1" for name in required)
    return f"line-{step}-{called}" if called else f"line-{step}"


def plan_grammar(tools: Sequence[ToolSpec], *, required: Sequence[str] = (), request: Sequence[str] = (),
                 lookups_only: bool = False, thoughts: bool = False, max_tasks: int = MAX_TASKS,
                 max_list: int = MAX_LIST, max_string: int = MAX_STRING, dollars: bool = False) -> str:
    """GBNF for a plan of 1..max_tasks calls to ``tools`` then ``join()``.

    Each line has its own rules, so the grammar itself numbers the tasks 1, 2, 3... and
    lets a string say ``$N``/``${N}`` only for an earlier task: a plan the model writes
    cannot refer forward or to itself (Gemma 270M copies "$1" from examples otherwise).
    A "$" is otherwise only ever "$$", a dollar sign itself, and only with ``dollars`` (the
    request has one): the model used any other "$" to sneak a reference in.

    ``required`` tools (those ToolRAG is sure of) must each be called before ``join()``:
    a small model otherwise ends the plan after the first of two requests. The lines
    are rules per (line number, required tools still unused), so that is a grammar too.

    ``request`` is the texts whose words a ``verbatim`` argument may copy (the query and
    the person's standing instructions); without it such arguments are free strings.
    Gemma 270M otherwise writes the example's "call mom" for "buy milk". ``lookups_only``
    holds only the arguments of lookups to that (a name to look up, a file to find) and
    leaves everything else free, but for dates where the request says none: those are empty.

    ``max_string`` bounds each string argument (``string_bound`` of the request).

    ``thoughts`` admits what planners fine-tuned on LLMCompiler's format also write: a
    "Thought: ..." line before any line, None for an argument, <END_OF_PLAN> after join().

    The text is a pure function of its arguments, so callers can cache what llama.cpp
    compiles from it.
    """
    if not 1 <= max_tasks <= 9:
        raise ValueError("max_tasks must be 1 to 9")
    unique = list({tool.name: tool for tool in tools}.values())
    if not unique:  # nothing to call: the only plan is an empty one
        return 'root ::= "1. join()"\n'
    names = {tool.name for tool in unique}
    required = [name for name in dict.fromkeys(required) if name in names][:max_tasks]
    waiting = {frozenset(required)}
    verbatim = bool(request) and any(p.verbatim and (not lookups_only or tool.is_lookup)
                                     for tool in unique for p in tool.params)
    said = _said_rules(request) if verbatim else []
    words = {w.lower() for text in request for w in re.findall(r"\w+", text)}
    unsaid = frozenset((tool.name, p.name) for tool in unique for p in tool.params
                       if request and p.said_by and not words & set(p.said_by))
    lines = [f"root ::= {_line_name(1, frozenset(required), required)}"]
    for step in range(1, max_tasks + 1):
        rules, waiting = _line_rules(step, unique, required, max_tasks, waiting, thoughts)
        lines += rules + _call_rules(step, unique, max_list, verbatim, bool(said), thoughts, max_string,
                                     lookups_only, unsaid, dollars)
    if any(p.type == "date" for tool in unique for p in tool.params):
        # With lookups_only a request that says no date still gets none: no dataset plan has one.
        spans = request and (not lookups_only or not request_dates(request))
        lines += _date_span_rule(request) if spans else _date_gbnf()
    lines += said
    if thoughts:
        lines.append(f'thought ::= "Thought: " [^\\n]{{1,{MAX_THOUGHT}}} "\\n"')
    return "\n".join(lines + _COMMON) + "\n"
