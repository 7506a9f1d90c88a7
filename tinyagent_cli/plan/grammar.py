"""A GBNF grammar that only admits plans over the given tools, with their exact signatures.

With it, llama.cpp cannot sample a token that breaks the plan format: every line is
``N. tool(args)`` with a known tool, the right number of arguments of the right types,
then ``N. join()``. A small model's usual failures (prose, a made-up tool, a missing
quote, a list where a string goes) become impossible. What a grammar cannot express —
task ids increasing, ``$N`` naming an earlier task, dates that make sense — the parser
checks. Strings, lists and plans are bounded so a looping model still ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tools.spec import ToolSpec

MAX_TASKS = 8
MAX_STRING = 200  # characters in one string argument or thought
MAX_LIST = 6  # items in one list argument: a looping model repeats items until the bound

_TYPE_RULES = {"str": "str", "date": "str", "int": "int", "bool": "bool", "list[str]": "list"}


def _rule_name(tool: str) -> str:
    # GBNF rule names allow letters, digits and '-', not '_'.
    return "call-" + tool.replace("_", "-")


def _tool_rule(tool: ToolSpec) -> str:
    args = ' ", " '.join(_TYPE_RULES[p.type] for p in tool.params)
    body = f'"{tool.name}(" {args} ")"' if args else f'"{tool.name}()"'
    return f"{_rule_name(tool.name)} ::= {body}"


def plan_grammar(
    tools: Sequence[ToolSpec], *, max_tasks: int = MAX_TASKS, max_string: int = MAX_STRING, max_list: int = MAX_LIST
) -> str:
    """GBNF for a plan of 1..max_tasks calls to ``tools`` then ``join()``.

    The text is a pure function of its arguments (same tools, same text), so callers can
    cache what llama.cpp compiles from it.
    """
    unique: dict[str, ToolSpec] = {}
    for tool in tools:
        unique.setdefault(tool.name, tool)
    if not unique:  # nothing to call: the only plan is an empty one
        return 'root ::= "1. join()" end\nend ::= "\\n"? "<END_OF_PLAN>"?\n'
    lines = [
        f"root ::= step{{1,{max_tasks}}} thought? num \". join()\" end",
        'step ::= thought? num ". " call "\\n"',
        f'thought ::= "Thought: " [^\\n]{{1,{max_string}}} "\\n"',
        "num ::= [1-9] [0-9]?",
        'end ::= "\\n"? "<END_OF_PLAN>"?',
        "call ::= " + " | ".join(_rule_name(name) for name in unique),
        *(_tool_rule(tool) for tool in unique.values()),
        # A Python string literal: no raw quote, backslash or control character inside;
        # only the escapes ast.literal_eval reads the same way everywhere.
        f'str ::= "\\"" char{{0,{max_string}}} "\\""',
        'char ::= [^"\\\\\\x00-\\x1F] | "\\\\" (["\\\\nt] | "u" [0-9a-fA-F]{4})',
        'int ::= "0" | [1-9] [0-9]{0,8}',
        'bool ::= "True" | "False"',
        f'list ::= "[" (str (", " str){{0,{max_list - 1}}})? "]"',
    ]
    return "\n".join(lines) + "\n"
