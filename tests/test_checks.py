"""Result kinds: a "$N" names a result of the kind its argument takes; no lookup of a literal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyagent_cli.errors import PackError
from tinyagent_cli.plan.checks import ResultKinds
from tinyagent_cli.tools.spec import load_pack, shipped_packs_dir

PACK = load_pack(shipped_packs_dir() / "tinyagent")
REQUEST = "email the q3 deck to Ana and Jo@Acme.io, text Chris and (212) 555-0187 that it's out"
KINDS = ResultKinds({t.name: t for t in PACK.tools}, given=[REQUEST])
LOOKUPS = '1. get_phone_number("Chris")\n2. get_email_address("Ana")\n3. open_and_get_file_path("q3 deck")\n'


def test_the_shipped_pack_says_what_each_result_is() -> None:
    tools = {t.name: t for t in PACK.tools}
    assert tools["get_email_address"].returns == "email" and tools["get_phone_number"].returns == "phone"
    assert [p.kind for p in tools["compose_new_email"].params] == ["email", "email", "", "", "path"]
    assert tools["send_sms"].params[0].kind == "phone" and tools["summarize_pdf"].params[0].kind == "path"


@pytest.mark.parametrize("text", [
    LOOKUPS + '4. compose_new_email(["$1',  # a phone number among the recipients
    LOOKUPS + '4. compose_new_email(["$2"], [], "Q3", "here it is", ["$2',  # an address as an attachment
    LOOKUPS + '4. create_calendar_event("lunch", "", "", "", ["${1',
    LOOKUPS + '4. send_sms(["$3',
    '1. get_phone_number("Chris")\n2. create_calendar_event("lunch", "", "", "", ["$',  # no address to name
    '1. summarize_pdf("$',
])
def test_a_reference_to_a_result_of_another_kind_is_forbidden(text: str) -> None:
    assert KINDS.forbids(text)


@pytest.mark.parametrize("text", [
    LOOKUPS + '4. compose_new_email(["$2"], [], "Q3", "here it is", ["$3"])',
    LOOKUPS + '4. compose_new_email(["$2", "jo@acme.io"], ["$',  # an address to name exists
    LOOKUPS + '4. create_note("numbers", "$1", "")',  # a note may hold any result
    LOOKUPS + '4. create_calendar_event("lunch", "", "", "$1',  # so may a location
    LOOKUPS + '4. compose_new_email(["$2"], [], "costs \\"$',  # an escaped quote stays in the string
    '1. get_phone_number("Chris")\n2. send_sms(["$1"], "call me"',
    'Thought: look up Chris\n1. get_phone_number("Chris")',
])
def test_a_reference_of_the_right_kind_or_to_free_text_is_allowed(text: str) -> None:
    assert not KINDS.forbids(text)


@pytest.mark.parametrize("dataset", ["toolpacks/tinyagent/examples.jsonl", "datasets/dev.jsonl", "datasets/test.jsonl"])
def test_no_gold_plan_breaks_a_check(dataset: str) -> None:
    """The checks only ever turn a planner from plans no dataset writes: every gold plan,
    checked with its own request, passes them at every point of its text and looks up no
    literal."""
    for line in (Path(__file__).resolve().parent.parent / dataset).read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        plan, kinds = example["plan"], ResultKinds(KINDS.tools, given=[example["query"]])
        assert not any(kinds.forbids(plan[:i]) for i in range(1, len(plan) + 1)), plan
        assert not any(kinds.pointless(step + "\n") for step in plan.splitlines()), plan


@pytest.mark.parametrize("text", [
    '1. create_note("plan", "buy milk", "")\n2. append_note_content("plan", "$1',  # a confirmation
    '1. create_reminder("pay rent", "", "", "", 0, False)\n2. create_note("plan", "$',
    LOOKUPS + '4. compose_new_email(["Ana',  # a name is not an address: look it up
    LOOKUPS + '4. compose_new_email(["jo@acme.io"], ["ana@acme.io',  # an address nobody gave
    LOOKUPS + '4. send_sms(["(212) 555-0187", "Chris',
])
def test_a_result_that_is_not_a_value_or_a_value_nobody_gave_is_forbidden(text: str) -> None:
    assert KINDS.forbids(text)


def test_free_text_may_write_a_dollar_sign_only_where_the_request_has_one() -> None:
    start = '1. create_reminder("pay the $'
    assert not ResultKinds(KINDS.tools, given=["remind me to pay the $45 bill"]).forbids(start)  # "$$45" may follow
    assert ResultKinds(KINDS.tools, given=["remind me to pay the 45 dollar bill"]).forbids(start)  # no result yet
    # Where a kind goes, a "$" still starts a reference, and none can fill it here.
    assert ResultKinds(KINDS.tools, given=["text Sam I owe him $20"]).forbids('1. send_sms(["$')


def test_a_list_of_a_kind_stays_empty_when_nothing_could_fill_it() -> None:
    kinds = ResultKinds(KINDS.tools, given=["email the deck to Ana"])
    assert kinds.forbids('1. compose_new_email(["')
    assert kinds.forbids('1. compose_new_email([""')
    assert not kinds.forbids('1. compose_new_email([]')
    assert not kinds.forbids('1. get_email_address("Ana")\n2. compose_new_email(["')


@pytest.mark.parametrize("text", [
    '1. compose_new_email(["jo',  # on its way to the address the request gave
    '1. compose_new_email(["jo@acme.io"], [], "Q3", "here", [])',  # in any case
    '1. send_sms(["(212) 555-0187"], "it\'s out")',
    '1. get_email_address("Ana")\n2. compose_new_email(["',  # "$1" may follow
    '1. compose_new_email([], [], "Q3 for Ana", "Ana: ',  # names are free elsewhere
])
def test_a_value_the_request_gave_is_allowed_where_its_kind_is(text: str) -> None:
    assert not KINDS.forbids(text)


def test_a_lookup_of_what_the_request_already_gave_is_pointless() -> None:
    assert KINDS.pointless('1. get_email_address("jo")\n')  # part of the address it gave
    assert not KINDS.pointless('1. get_phone_number("jo")\n')  # a phone number it did not
    assert KINDS.pointless('1. get_phone_number("jo@acme.io")\n')  # a contact is looked up by name
    assert KINDS.pointless('2. get_email_address("hr@company.com")\n')
    assert KINDS.pointless('1. get_phone_number("+1 (555) 010-0199")\n')
    assert not KINDS.pointless('1. get_email_address("Dr. Amara Okafor")\n')
    assert not KINDS.pointless('1. get_phone_number("mom")\n')
    assert not KINDS.pointless('1. compose_new_email(["jo@acme.io"], [], "Hi", "hello", [])\n')
    assert not KINDS.pointless("3. join()\n")


@pytest.mark.parametrize(("line", "message"), [
    ("returns: Email-Address", r"tools\[0\] \(t\)\.returns: 'Email-Address' is not a kind"),
    ("params:\n      - {name: n, type: int, kind: email}", r"params\[0\]\.kind: only a str or list\[str\]"),
])
def test_kinds_in_a_pack_are_checked(tmp_path, line: str, message: str) -> None:  # type: ignore[no-untyped-def]
    params = "" if line.startswith("params") else "    params: []\n"
    (tmp_path / "pack.yaml").write_text(
        "name: p\nimplementations: {portable: p.py}\ntools:\n  - name: t\n    description: d\n"
        f"    side_effects: false\n{params}    {line}\n")
    with pytest.raises(PackError, match=message):
        load_pack(tmp_path)


def test_a_lookup_is_needed_only_where_the_request_gives_no_value_of_its_kind() -> None:
    tools = ("get_email_address", "get_phone_number", "open_and_get_file_path", "send_sms")
    assert KINDS.unanswered(tools) == ("open_and_get_file_path", "send_sms")  # it gave an address and a number
    email_only = ResultKinds(KINDS.tools, given=["email the deck to jo@acme.io and text Chris"])
    assert email_only.unanswered(tools) == ("get_phone_number", "open_and_get_file_path", "send_sms")
    assert ResultKinds(KINDS.tools, given=["email Ana the deck"]).unanswered(tools) == tools
