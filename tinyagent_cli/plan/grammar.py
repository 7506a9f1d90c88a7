"""A GBNF grammar that only admits plans over the given tools, with their exact signatures.

With it, llama.cpp cannot sample a token that breaks the plan format: every line is
``N. tool(args)`` with a known tool, the right number of arguments of the right types,
tasks numbered 1, 2, 3..., ``$N`` only for an earlier task, then ``N. join()``. A small
model's usual failures (prose, a made-up tool, a missing quote, a list where a string
goes, a reference to itself) become impossible. What a grammar cannot judge — whether a
date phrase makes sense — the parser checks. Plans and lists are bounded; the caller
bounds the tokens, so a looping model still ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tools.spec import ToolSpec

MAX_TASKS = 8  # at most 9: a reference is one digit
MAX_LIST = 6  # items in one list argument

_TYPE_RULES = {"str": "str", "date": "str", "int": "int", "bool": "bool", "list[str]": "list"}

# Shared by every step: characters of a Python string literal that are not "$" (no raw
# quote, backslash or control character; only escapes ast.literal_eval reads the same
# way everywhere), numbers and booleans.
_COMMON = [
    r'plain ::= [^"\\$\x00-\x1F]',
    r'esc ::= "\\" (["\\nt] | "u" [0-9a-fA-F]{4})',
    r'int ::= "0" | [1-9] [0-9]{0,8}',
    r'bool ::= "True" | "False"',
]


def _rule_name(tool: str, step: int) -> str:
    # GBNF rule names allow letters, digits and '-', not '_'.
    return f"call-{tool.replace('_', '-')}-{step}"


def _step_rules(step: int, tools: Sequence[ToolSpec], last: bool, max_list: int) -> list[str]:
    """Rules for plan line ``step``: its number, a call whose strings may refer only to
    earlier steps, then either the next step or ``join()``."""
    after = f'"\\n" join-{step + 1}' if last else f'"\\n" (join-{step + 1} | step-{step + 1})'
    rules = [
        f'step-{step} ::= "{step}. " call-{step} {after}',
        f'join-{step + 1} ::= "{step + 1}. join()"',
        f"call-{step} ::= " + " | ".join(_rule_name(t.name, step) for t in tools),
    ]
    for tool in tools:
        args = ' ", " '.join(f"{_TYPE_RULES[p.type]}-{step}" if _TYPE_RULES[p.type] in ("str", "list")
                             else _TYPE_RULES[p.type] for p in tool.params)
        rules.append(f'{_rule_name(tool.name, step)} ::= "{tool.name}(" {args} ")"' if args
                     else f'{_rule_name(tool.name, step)} ::= "{tool.name}()"')
    reference = f' | "$" ref-{step}' if step > 1 else ""
    rules += [
        f'str-{step} ::= "\\"" char-{step}* "\\""',
        f"char-{step} ::= plain | esc{reference}",
        f'list-{step} ::= "[" (str-{step} (", " str-{step}){{0,{max_list - 1}}})? "]"',
    ]
    if step > 1:
        last_id = "1" if step == 2 else f"1-{step - 1}"
        rules.append(f'ref-{step} ::= [{last_id}] | "{{" [{last_id}] "}}"')
    return rules


def plan_grammar(tools: Sequence[ToolSpec], *, max_tasks: int = MAX_TASKS, max_list: int = MAX_LIST) -> str:
    """GBNF for a plan of 1..max_tasks calls to ``tools`` then ``join()``.

    Each line has its own rules, so the grammar itself numbers the tasks 1, 2, 3... and
    lets a string say ``$N``/``${N}`` only for an earlier task: a plan the model writes
    cannot refer forward or to itself (Gemma 270M copies "$1" from examples otherwise).
    A "$" is only ever a reference: the model used any other "$" to sneak one in. The text is a pure
    function of its arguments, so callers can cache what llama.cpp compiles from it.
    """
    if not 1 <= max_tasks <= 9:
        raise ValueError("max_tasks must be 1 to 9")
    unique = list({tool.name: tool for tool in tools}.values())
    if not unique:  # nothing to call: the only plan is an empty one
        return 'root ::= "1. join()"\n'
    lines = ["root ::= step-1"]
    for step in range(1, max_tasks + 1):
        lines += _step_rules(step, unique, step == max_tasks, max_list)
    return "\n".join(lines + _COMMON) + "\n"
