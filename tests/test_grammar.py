"""The plan grammar: its text, llama.cpp accepting it, and real constrained generation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinyagent_cli.errors import ModelError
from tinyagent_cli.plan.grammar import plan_grammar
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.settings import Config, Paths, Settings
from tinyagent_cli.tools.spec import Catalog, Param, ToolSpec, load_pack, shipped_packs_dir

PACK = load_pack(shipped_packs_dir() / "tinyagent")
TOOLS = {t.name: t for t in PACK.tools}
CATALOG = Catalog((PACK,), "portable")
PLAN_SHAPE = re.compile(
    r"(?:Thought: [^\n]+\n)?(?:\d+\. [a-z_]+\(.*\)\n(?:Thought: [^\n]+\n)?)+\d+\. join\(\)\n?(?:<END_OF_PLAN>)?"
)


def test_grammar_names_only_the_given_tools_with_their_arity() -> None:
    text = plan_grammar([TOOLS["get_email_address"], TOOLS["compose_new_email"]])
    assert 'call ::= call-get-email-address | call-compose-new-email\n' in text
    assert 'call-get-email-address ::= "get_email_address(" str ")"' in text
    assert 'call-compose-new-email ::= "compose_new_email(" list ", " list ", " str ", " str ", " list ")"' in text
    assert "send_sms" not in text
    assert "step{1,8}" in text and "char{0,200}" in text


def test_grammar_types() -> None:
    tool = ToolSpec(
        "t", "", (Param("a", "int"), Param("b", "bool"), Param("c", "date"), Param("d", "list[str]")), False, (), (), "p"
    )
    assert 'call-t ::= "t(" int ", " bool ", " str ", " list ")"' in plan_grammar([tool])
    no_args = ToolSpec("now", "", (), False, (), (), "p")
    assert 'call-now ::= "now()"' in plan_grammar([no_args])


def test_grammar_is_deterministic_and_deduplicates() -> None:
    tools = list(PACK.tools)
    assert plan_grammar(tools) == plan_grammar(tools + tools[:3])
    assert plan_grammar(tools, max_tasks=3).startswith("root ::= step{1,3}")


def test_no_tools_means_only_join() -> None:
    assert plan_grammar([]).startswith('root ::= "1. join()"')


# ---------------------------------------------------------------- with llama.cpp


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The embedded Gemma, assembled once per test session under pytest's temp folder."""
    from tinyagent_cli.llm.registry import load_registry, open_model

    home = tmp_path_factory.getbasetemp() / "shared-gemma-home"
    settings = Settings(Paths(home / "config", home / "data", home / "cache"), Config())
    return open_model(load_registry(settings).get("gemma3-270m"), settings)


@pytest.mark.slow
def test_llama_cpp_accepts_the_grammar_for_each_tool_and_all_together(gemma) -> None:  # type: ignore[no-untyped-def]
    from tinyagent_cli.llm.llama import check_grammar

    for tool in PACK.tools:
        check_grammar(gemma.llama, plan_grammar([tool]))
    check_grammar(gemma.llama, plan_grammar(PACK.tools))
    assert len(PACK.tools) == 16
    with pytest.raises(ModelError, match="rejected the plan grammar"):
        check_grammar(gemma.llama, 'root ::= "unterminated')


EXAMPLE = """\
You plan function calls. Available functions:
get_email_address(name: str) -> str
get_phone_number(name: str) -> str
compose_new_email(recipients: list[str], cc: list[str], subject: str, context: str, attachments: list[str]) -> str
send_sms(recipients: list[str], message: str) -> str
open_and_get_file_path(file_name: str) -> str
create_note(name: str, content: str, folder: str) -> str

Question: Email Sarah Lin the Q3 deck
1. get_email_address("Sarah Lin")
2. open_and_get_file_path("Q3 deck")
3. compose_new_email(["$1"], [], "Q3 deck", "Here is the Q3 deck", ["$2"])
4. join()<END_OF_PLAN>

Question: {query}
"""
TOOL_NAMES = ["get_email_address", "get_phone_number", "compose_new_email", "send_sms", "open_and_get_file_path", "create_note"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "query",
    [
        "Text Bob Marley that I will be late",
        "Write a note called groceries with milk and eggs",
        "Send the budget spreadsheet to Alice by email",
    ],
)
def test_real_generation_follows_the_grammar_and_parses(gemma, query: str) -> None:  # type: ignore[no-untyped-def]
    grammar = plan_grammar([TOOLS[n] for n in TOOL_NAMES])
    text = "".join(gemma.stream(EXAMPLE.format(query=query), grammar=grammar, max_tokens=200))
    assert PLAN_SHAPE.fullmatch(text), text
    called = re.findall(r"^\d+\. ([a-z_]+)\(", text, re.MULTILINE)
    assert set(called) <= {*TOOL_NAMES, "join"} and called[-1] == "join"
    plan = parse_plan(text, CATALOG)
    assert 1 <= len(plan.tasks) <= 8


@pytest.mark.slow
def test_without_grammar_the_base_model_is_free(gemma) -> None:  # type: ignore[no-untyped-def]
    """The control: the same model and prompt without a grammar is not held to the tool set."""
    text = "".join(gemma.stream("Here is a poem about the sea:\n", max_tokens=30))
    assert text and not PLAN_SHAPE.fullmatch(text)
    grammar = plan_grammar([TOOLS["create_note"]])
    constrained = "".join(gemma.stream("Here is a poem about the sea:\n", grammar=grammar, max_tokens=200))
    assert PLAN_SHAPE.fullmatch(constrained), constrained
    assert set(re.findall(r"^\d+\. ([a-z_]+)\(", constrained, re.MULTILINE)) <= {"create_note", "join"}
