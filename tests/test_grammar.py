"""The plan grammar: its text, llama.cpp accepting it, and real constrained generation."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tinyagent_cli.errors import ModelError, PackError
from tinyagent_cli.plan.grammar import DATE_RULES, MAX_STRING, OWN_WORDS, plan_grammar, request_dates, string_bound
from tinyagent_cli.plan.parser import literal_args, numbered_call, parse_plan
from tinyagent_cli.settings import Config, Paths, Settings
from tinyagent_cli.tools.dates import resolve_date
from tinyagent_cli.tools.spec import Catalog, Param, ToolSpec, load_pack, shipped_packs_dir

ROOT = Path(__file__).resolve().parent.parent
PACK = load_pack(shipped_packs_dir() / "tinyagent")
TOOLS = {t.name: t for t in PACK.tools}
CATALOG = Catalog((PACK,), "macos")  # every tool; parsing runs none of them
PLAN_SHAPE = re.compile(
    r"(?:Thought: [^\n]+\n)?(?:\d+\. [a-z_]+\(.*\)\n(?:Thought: [^\n]+\n)?)+\d+\. join\(\)\n?(?:<END_OF_PLAN>)?"
)


def test_grammar_names_only_the_given_tools_with_their_arity() -> None:
    text = plan_grammar([TOOLS["get_email_address"], TOOLS["compose_new_email"]])
    assert 'line-1 ::= "1. " ((call-get-email-address-1 | call-compose-new-email-1) "\\n" (join-2 | line-2))' in text
    assert 'call-get-email-address-1 ::= "get_email_address(" str-1 ")"' in text
    assert ('call-compose-new-email-3 ::= "compose_new_email(" list-3 ", " list-3 ", " str-3 ", " str-3 ", " list-3 ")"'
            in text)
    assert "send_sms" not in text
    assert "line-8 ::=" in text and "line-9" not in text and "{0,5}" in text


def test_steps_are_numbered_and_refer_only_backwards() -> None:
    text = plan_grammar([TOOLS["get_phone_number"], TOOLS["send_sms"]], max_tasks=3)
    assert r'line-1 ::= "1. " ((call-get-phone-number-1 | call-send-sms-1) "\n" (join-2 | line-2))' in text
    assert r'line-3 ::= "3. " ((call-get-phone-number-3 | call-send-sms-3) "\n" join-4)' in text
    assert "char-1 ::= plain | esc\n" in text  # step 1 has nothing to refer to
    assert 'ref-2 ::= id-2 | "{" id-2 "}"' in text and "id-2 ::= [1]" in text
    assert 'ref-3 ::= id-3 | "{" id-3 "}"' in text and "id-3 ::= [1-2]" in text


def test_grammar_types() -> None:
    tool = ToolSpec(
        "t", "", (Param("a", "int"), Param("b", "bool"), Param("c", "date"), Param("d", "list[str]")), False, (), (), "p"
    )
    assert 'call-t-1 ::= "t(" int ", " bool ", " date ", " list-1 ")"' in plan_grammar([tool])
    no_args = ToolSpec("now", "", (), False, (), (), "p")
    assert 'call-now-1 ::= "now()"' in plan_grammar([no_args])


def test_grammar_is_deterministic_and_deduplicates() -> None:
    tools = list(PACK.tools)
    assert plan_grammar(tools) == plan_grammar(tools + tools[:3])
    assert "line-3 ::=" in plan_grammar(tools, max_tasks=3) and "line-4" not in plan_grammar(tools, max_tasks=3)
    with pytest.raises(ValueError):
        plan_grammar(tools, max_tasks=10)


def test_no_tools_means_only_join() -> None:
    assert plan_grammar([]) == 'root ::= "1. join()"\n'


def test_required_tools_come_before_join() -> None:
    text = plan_grammar([TOOLS["get_phone_number"], TOOLS["send_sms"], TOOLS["create_reminder"]],
                        required=["send_sms", "create_reminder", "not_offered"], max_tasks=3)
    rules = dict(line.split(" ::= ", 1) for line in text.splitlines())
    assert rules["root"] == "line-1-00"  # two required tools, neither called yet
    assert "join" not in rules["line-1-00"]
    # A phone lookup on line 1 would leave two required tools for one line after line 2.
    assert "get-phone-number" not in rules["line-2-00"]
    assert rules["line-2-10"] == (r'"2. " ((call-get-phone-number-2 | call-send-sms-2) "\n" line-3-10 | '
                                  r'call-create-reminder-2 "\n" (join-3 | line-3-11))')
    assert rules["line-3-10"] == r'"3. " (call-create-reminder-3 "\n" join-4)'


def _sample(rule: str, rng: random.Random) -> str:
    """A random phrase of the date language, following its rules and character classes."""
    text = ""
    for item in rng.choice(DATE_RULES[rule]):
        if item.startswith("@"):
            text += _sample(item[1:], rng)
        elif item.startswith("["):
            chars = re.sub(r"(.)-(.)", lambda m: "".join(map(chr, range(ord(m[1]), ord(m[2]) + 1))), item[1:-1])
            text += rng.choice(chars)
        else:
            text += item
    return text


def test_every_date_the_grammar_allows_resolves() -> None:
    """The date language only says what resolve_date understands; the one gap is a day
    the month lacks ("Feb 30", or "the 31st" in a 30-day month)."""
    now = datetime(2026, 11, 21, 11, 0).astimezone()
    rng = random.Random(7)
    phrases = {_sample("when", rng) for _ in range(4000)}
    assert len(phrases) > 1500
    unresolved = []
    for phrase in sorted(phrases):
        try:
            resolve_date(phrase, now)
        except ValueError:
            unresolved.append(phrase)
    assert all(re.search(r"\b(29|30|31)(st|th)?\b|-(29|30|31)(?!\d)", p) for p in unresolved), unresolved


# ---------------------------------------------------------------- with llama.cpp


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The embedded Gemma, assembled once per test session under pytest's temp folder."""
    from tinyagent_cli.llm.backends import open_model
    from tinyagent_cli.llm.registry import load_registry

    home = tmp_path_factory.getbasetemp() / "shared-gemma-home"
    settings = Settings(Paths(home / "config", home / "data", home / "cache"), Config())
    return open_model(load_registry(settings).get("gemma3-270m"), settings)


@pytest.mark.slow
def test_llama_cpp_accepts_the_grammar_for_each_tool_and_all_together(gemma) -> None:  # type: ignore[no-untyped-def]
    from tinyagent_cli.llm.llama import _Candidates, _Grammar

    def check_grammar(llama: Any, text: str) -> None:  # ModelError when llama.cpp cannot parse it
        _Grammar(llama, text, _Candidates(llama.n_vocab()))

    for tool in PACK.tools:
        check_grammar(gemma.llama, plan_grammar([tool]))
    check_grammar(gemma.llama, plan_grammar(PACK.tools))
    check_grammar(gemma.llama, plan_grammar(PACK.tools, required=["send_sms"], request=[REQUEST, "cc Nick"]))
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


LINE = re.compile(r"(?:Thought: [^\n]+|\d+\. join\(\)(?:<END_OF_PLAN>)?|\d+\. ([a-z_]+)\(.*\))")


@pytest.mark.slow
@pytest.mark.parametrize(
    "query",
    [
        "Text Bob Marley that I will be late",
        "Write a note called groceries with milk and eggs",
        "Send the budget spreadsheet to Alice by email",
    ],
)
def test_real_generation_follows_the_grammar(gemma, query: str) -> None:  # type: ignore[no-untyped-def]
    """Every line the model writes under the grammar is a call to an offered tool; a finished plan parses."""
    grammar = plan_grammar([TOOLS[n] for n in TOOL_NAMES])
    text = "".join(gemma.stream(EXAMPLE.format(query=query), grammar=grammar, max_tokens=160))
    lines = text.split("\n")
    finished = bool(re.search(r"join\(\)(?:<END_OF_PLAN>)?\n?$", text))
    complete = lines if finished else lines[:-1]  # a plan cut by max_tokens ends mid-line
    for line in filter(None, complete):
        match = LINE.fullmatch(line)
        assert match, line
        assert match.group(1) in (None, *TOOL_NAMES), line
    if finished:
        assert PLAN_SHAPE.fullmatch(text), text
        _parses(text)


def _parses(text: str) -> None:
    """Under the grammar a finished plan always parses: numbering and $N included."""
    assert 1 <= len(parse_plan(text, CATALOG).tasks) <= 8


@pytest.mark.slow
def test_the_grammar_refuses_what_a_free_model_writes_wrong(gemma) -> None:  # type: ignore[no-untyped-def]
    """What a small model gets wrong alone is refused token by token. Which mistake the free
    model makes depends on the CPU's kernels, so none is asserted; what it writes under the
    grammar is checked by test_real_generation_follows_the_grammar."""
    grammar = plan_grammar([TOOLS[n] for n in TOOL_NAMES])
    assert _accepts(gemma, grammar, '1. get_phone_number("Bob Marley")\n2. send_sms(["$1"], "I will be late")\n3. join()')
    # A $N in a string ends where the parser ends it: "$1" then "23 Main St" would read as $123.
    first = '1. get_phone_number("Bob Marley")\n2. send_sms(["$1"], '
    for right in ('"at $1 now")', '"at ${1}23 Main St")', '"$1")', '"$1\\n")'):
        assert _accepts(gemma, grammar, first + right), right
    for wrong in ('"$123 Main St")', '"$12")', '"$1$1")'):
        assert not _accepts(gemma, grammar, first + wrong), wrong
    for wrong in ('1. send_sms("Bob Marley", "I will be late")',  # a str where the list goes
                  '1. send_sms(["Bob"])',  # an argument short
                  '1. text_bob("late")',  # no such tool
                  '1. get_phone_number("$2")',  # a task that is not written yet
                  '2. join()',  # numbering starts at 1
                  '1. get_phone_number(name="Bob")'):  # positional only
        assert not _accepts(gemma, grammar, wrong), wrong


@pytest.mark.slow
def test_a_dollar_sign_itself_is_written_twice_only_where_the_request_has_one(gemma) -> None:  # type: ignore[no-untyped-def]
    tools = [TOOLS["get_phone_number"], TOOLS["send_sms"]]
    plan = '1. get_phone_number("Sam")\n2. send_sms(["$1"], "I owe you $$20")\n3. join()'
    assert _accepts(gemma, plan_grammar(tools, dollars=True), plan)
    assert not _accepts(gemma, plan_grammar(tools), plan)  # "$" otherwise only begins a reference
    assert not _accepts(gemma, plan_grammar(tools, dollars=True), plan.replace("$$20", "$20"))


def _accepts(gemma, grammar: str, text: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether llama.cpp's sampler for ``grammar`` lets the model write ``text``, token by token."""
    import numpy as np

    constraint = gemma.grammar(grammar)
    constraint.reset()
    logits = np.zeros(gemma.llama.n_vocab(), dtype=np.float32)
    for token in gemma.llama.tokenize(text.encode(), add_bos=False, special=False):
        if not constraint.allows(token, logits):
            return False
        constraint.accept(token)
    return True


@pytest.mark.slow
def test_the_trained_planners_grammar_refuses_no_dev_plan(gemma) -> None:  # type: ignore[no-untyped-def]
    """Every plan a person wrote for dev can be written: its dates are in the date language,
    and the names, files and places it looks up are words of its request."""
    tools = list(PACK.tools)
    for line in (ROOT / "datasets" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        grammar = plan_grammar(tools, request=[example["query"]], lookups_only=True)
        assert _accepts(gemma, grammar, example["plan"]), example


@pytest.mark.slow
def test_llama_cpp_holds_dates_and_required_tools(gemma) -> None:  # type: ignore[no-untyped-def]
    tools = [TOOLS["get_email_address"], TOOLS["create_calendar_event"], TOOLS["create_reminder"]]
    grammar = plan_grammar(tools, required=["create_calendar_event", "create_reminder"])
    event = '1. create_calendar_event("yoga", "Sunday 10am", "", "Lincoln Park", [], "", "")\n'
    reminder = '2. create_reminder("buy wine", "saturday afternoon", "", "", 0, False)\n'
    assert _accepts(gemma, grammar, event + reminder + "3. join()")
    assert not _accepts(gemma, grammar, event + "2. join()")  # the reminder is still owed
    place_as_date = '1. create_calendar_event("yoga", "Sunday 10am", "Lincoln Park"'
    assert not _accepts(gemma, grammar, place_as_date)
    assert _accepts(gemma, grammar, '1. create_reminder("x", "next Tuesday at 9", "", "", 0, False)\n')
    assert _accepts(gemma, grammar, '1. create_reminder("x", "2026-03-20 13:00", "", "", 0, False)\n')


def test_a_tool_waits_for_the_required_tools_its_hints_name() -> None:
    text = plan_grammar([TOOLS["get_email_address"], TOOLS["compose_new_email"]],
                        required=["get_email_address", "compose_new_email"], max_tasks=3)
    rules = dict(line.split(" ::= ", 1) for line in text.splitlines())
    assert "compose" not in rules["line-1-00"]  # the address first
    assert "call-compose-new-email-2" in rules["line-2-10"]


def test_hints_that_wait_on_each_other_still_leave_a_plan() -> None:
    a = ToolSpec("a", "", (), False, (), ("b",), "p")
    b = ToolSpec("b", "", (), False, (), ("a",), "p")
    rules = dict(line.split(" ::= ", 1) for line in plan_grammar([a, b], required=["a", "b"]).splitlines())
    assert "call-a-1" in rules["line-1-00"] and "call-b-1" in rules["line-1-00"]
    assert not any(body.endswith('" ()') for body in rules.values())  # no line without a call to offer


REQUEST = 'text Omar that I\'m "late" and remind me to buy milk tomorrow at 9, it costs $20 ok'


def test_verbatim_arguments_are_runs_of_the_requests_words() -> None:
    text = plan_grammar([TOOLS["get_phone_number"], TOOLS["send_sms"]], request=[REQUEST], max_tasks=2)
    rules = dict(line.split(" ::= ", 1) for line in text.splitlines())
    assert rules["call-get-phone-number-1"] == '"get_phone_number(" quote-1 ")"'
    assert rules["call-send-sms-2"] == '"send_sms(" quotes-2 ", " quote-2 ")"'
    assert rules["quote-2"] == r'"\"" (said | "$" ref-2)? "\""'
    assert rules["said-1"] == '("Omar" | "omar") (" " said-2)?'
    assert rules["said-4"] == r'("\\\"late\\\"" | "late" | "Late") (" " said-5)?'
    # "$20" is no word to copy (a "$" is only ever a reference): the run stops before it.
    # A final s may go, as a possessive typed without its apostrophe ("Freyas email").
    assert rules["said-15"] == '("costs" | "Costs" | "cost" | "Cost")' and rules["said-16"] == '("ok" | "Ok")'
    # A name keeps a bracket it opens or closes, whatever punctuation follows it.
    bracketed = dict(line.split(" ::= ", 1) for line in plan_grammar(
        [TOOLS["open_and_get_file_path"]], request=["send Informe (2).pdf, then (Noël 2026)»"]).splitlines())
    assert '"(2).pdf"' in bracketed["said-2"] and '"2026)"' in bracketed["said-5"]
    # Without the request (nothing to copy from) they are free strings; with a request
    # that has no word to copy, only "" (or a reference) is left.
    assert "quote-1" not in plan_grammar([TOOLS["get_phone_number"]])
    nothing = plan_grammar([TOOLS["get_phone_number"]], request=["$5"], max_tasks=1).splitlines()
    assert r'quote-1 ::= "\"\""' in nothing


def test_with_lookups_only_a_name_to_look_up_is_the_requests_and_the_rest_is_free() -> None:
    tools = [TOOLS["get_phone_number"], TOOLS["send_sms"], TOOLS["create_reminder"]]
    rules = dict(line.split(" ::= ", 1) for line in
                 plan_grammar(tools, request=[REQUEST], lookups_only=True, max_tasks=2).splitlines())
    assert rules["call-get-phone-number-1"] == '"get_phone_number(" quote-1 ")"'  # changes nothing, returns a phone
    assert rules["call-send-sms-2"] == '"send_sms(" list-2 ", " str-2 ")"'  # sends: the planner writes it
    assert rules["call-create-reminder-1"].startswith('"create_reminder(" str-1 ", " date ')
    assert rules["date"] != '"\\"\\""' and "tomorrow at 9" not in rules["date"]  # any date phrase
    # ... where the request says one: no plan in any dataset dates a request that says none.
    undated = plan_grammar(tools, request=["text Omar that I'm late"], lookups_only=True).splitlines()
    assert 'date ::= "\\"\\""' in undated


def test_a_priority_is_written_only_when_the_request_says_one() -> None:
    tools = [TOOLS["create_reminder"]]

    def reminder_rule(query: str) -> str:
        rules = dict(line.split(" ::= ", 1) for line in
                     plan_grammar(tools, request=[query], lookups_only=True, max_tasks=1).splitlines())
        return rules["call-create-reminder-1"]

    assert reminder_rule("remind me to stretch at 5pm").endswith('", " "0" ", " bool ")"')
    assert reminder_rule("remind me to pay rent, it's URGENT").endswith('", " int ", " bool ")"')
    assert '", " int ", " bool ")"' in plan_grammar(tools)  # without a request nothing is held


@pytest.mark.parametrize("dataset", ["toolpacks/tinyagent/examples.jsonl", "datasets/dev.jsonl", "datasets/test.jsonl",
                                     *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "toolpacks/tinyagent/natural").glob("*.jsonl")),
                                     *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "datasets/train_only").glob("*.jsonl"))])
def test_no_plan_sets_a_priority_its_request_does_not_say(dataset: str) -> None:
    """What lets the grammar hold a reminder's priority at 0 where the request says none."""
    said_by = set(next(p for p in TOOLS["create_reminder"].params if p.name == "priority").said_by)
    for line in (ROOT / dataset).read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        for call in re.findall(r"create_reminder\((.*)\)\s*$", example["plan"], re.MULTILINE):
            if not re.search(r",\s*0\s*,\s*(True|False)\s*$", call):
                assert set(re.findall(r"\w+", example["query"].lower())) & said_by, example


@pytest.mark.parametrize("dataset", ["toolpacks/tinyagent/examples.jsonl", "datasets/dev.jsonl", "datasets/test.jsonl"])
def test_no_plan_dates_a_request_that_says_no_date(dataset: str) -> None:
    """What lets the trained planner's grammar leave dates empty where the request says none."""
    for line in (ROOT / dataset).read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        if not request_dates([example["query"]]):
            calls = [call for call in map(numbered_call, example["plan"].splitlines()) if call and call[0] in TOOLS]
            dates = [value for name, args in calls
                     for p, value in zip(TOOLS[name].params, literal_args(name, args, 0)) if p.type == "date"]
            assert not any(dates), example


def test_date_arguments_are_the_requests_own_date_phrases() -> None:
    assert request_dates(["remind me to renew it next monday, its urgent"]) == ["next monday", "monday", "Monday"]
    assert "tomorrow at 9" in request_dates([REQUEST]) and "9" not in request_dates([REQUEST])
    assert request_dates(["call the plumber"]) == []
    said = ["in an hour, this evening at 7, friday morning at 9:30 or 2026-03-14t10:00 then"]
    assert {"in an hour", "this evening at 7", "friday morning at 9:30", "2026-03-14t10:00"} <= set(request_dates(said))
    spoken = ["pick me up tmrw at half past four, or thurs at 3p, in half an hour if you can"]
    assert {"tmrw at half past four", "thurs at 3p", "in half an hour"} <= set(request_dates(spoken))
    reminder = [TOOLS["create_reminder"]]
    assert 'date ::= "\\"\\""' in plan_grammar(reminder, request=["call the plumber"]).splitlines()


@pytest.mark.slow
def test_a_string_is_no_longer_than_the_request_allows(gemma) -> None:  # type: ignore[no-untyped-def]
    request = "note that the wifi password is hunter2"
    bound = string_bound([request, "always cc Nick"])
    assert bound == len(request) + OWN_WORDS and string_bound(["x" * 2000]) == MAX_STRING
    grammar = plan_grammar([TOOLS["create_note"]], max_string=bound)
    assert _accepts(gemma, grammar, f'1. create_note("wifi", "{"a" * bound}", "")')
    assert not _accepts(gemma, grammar, f'1. create_note("wifi", "{"a" * (bound + 1)}"')


def test_only_strings_can_be_verbatim(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pack.yaml").write_text(
        "name: p\nimplementations: {portable: p.py}\ntools:\n  - name: t\n    description: d\n"
        "    side_effects: false\n    params:\n      - {name: n, type: int, verbatim: true}\n")
    with pytest.raises(PackError, match=r"params\[0\]\.verbatim: only a str or list\[str\]"):
        load_pack(tmp_path)


@pytest.mark.slow
def test_llama_cpp_holds_verbatim_arguments_to_the_request(gemma) -> None:  # type: ignore[no-untyped-def]
    tools = [TOOLS["get_phone_number"], TOOLS["send_sms"], TOOLS["create_reminder"], TOOLS["open_and_get_file_path"]]
    request = REQUEST + r" and open C:\tmp\a.txt"
    grammar = plan_grammar(tools, request=[request])
    plan = ('1. get_phone_number("Omar")\n2. send_sms(["$1"], "I\'m \\"late\\"")\n'
             '3. create_reminder("buy milk", "tomorrow at 9", "", "", 0, False)\n'
             '4. open_and_get_file_path("C:\\\\tmp\\\\a.txt")\n5. join()')
    assert _accepts(gemma, grammar, plan)
    tasks = parse_plan(plan, CATALOG).tasks
    assert tasks[1].args[1] == 'I\'m "late"' and tasks[3].args[0] == r"C:\tmp\a.txt"
    assert not _accepts(gemma, grammar, '1. create_reminder("call mom"')  # an example's words
    assert not _accepts(gemma, grammar, '1. get_phone_number("Oma")')  # half a word
    assert not _accepts(gemma, grammar, '1. create_reminder("buy milk", "june 9"')  # a date not said
    assert _accepts(gemma, plan_grammar(tools), '1. create_reminder("call mom", "june 9"')  # no request: free


@pytest.mark.slow
def test_the_grammar_picks_the_likeliest_allowed_token(gemma) -> None:  # type: ignore[no-untyped-def]
    """Trying the likeliest tokens before the whole vocabulary changes no choice: both when
    one of them is allowed and when the grammar allows only rare tokens."""
    import numpy as np

    rng = np.random.default_rng(5)
    for text in ('root ::= [a-z] [a-z]*', 'root ::= "Zebra crossing"'):
        constraint = gemma.grammar(text)
        for _ in range(3):
            logits = rng.normal(size=gemma.llama.n_vocab()).astype(np.float32)
            buffers = constraint._candidates  # the whole vocabulary through llama.cpp's grammar
            buffers.view["id"], buffers.view["logit"], buffers.view["p"] = buffers.ids, logits, 0.0
            constraint.reset()
            constraint._apply(buffers.all, len(buffers.view))
            view = buffers.view
            best = int(np.argmax(view["logit"]))
            constraint.reset()
            likeliest = int(np.argmax(logits))
            assert (likeliest if constraint.allows(likeliest, logits) else constraint.best_allowed(logits)) == best


@pytest.mark.slow
def test_llama_cpp_lets_tinyagent_planners_write_their_conventions(gemma) -> None:  # type: ignore[no-untyped-def]
    """The validity-only grammar of the tinyagent style admits what TinyAgent's planners were
    tuned to write (thoughts, ISO dates with seconds, composed strings, "" bodies, None,
    <END_OF_PLAN>) and still refuses an invalid plan."""
    tools = [TOOLS[n] for n in ("get_email_address", "compose_new_email", "create_reminder")]
    grammar = plan_grammar(tools, thoughts=True)
    plan = ("Thought: First I need Ana's email address.\n"
            '1. get_email_address("Ana")\n'
            '2. compose_new_email(["$1"], [], "Running late", "", [])\n'
            '3. create_reminder("Buy milk", "2026-11-22 10:00:00", "", None, 0, False)\n'
            "Thought: I have written the email and made the reminder.\n"
            "4. join()<END_OF_PLAN>")
    assert _accepts(gemma, grammar, plan)
    for wrong in ('1. compose_new_email("Ana")',  # arguments short
                  '1. get_email_address("$1")',  # no earlier task
                  '1. create_reminder("x", "Lincoln Park", "", "", 0, False)',  # not a date
                  "Thought: a\n2. join()"):  # numbering starts at 1
        assert not _accepts(gemma, grammar, wrong), wrong
    _parses(plan)
