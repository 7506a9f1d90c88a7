"""The plan language: strict parsing, streaming, round trips, and PlanError only."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tinyagent_cli.errors import PlanError
from tinyagent_cli.plan.parser import StreamingParser, parse_plan, plan_from_json
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import load_catalog

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)

GOOD = """Thought: find Sarah's address first
1. get_email_address("Sarah Lin")
2. open_and_get_file_path("Q3 deck")
3. compose_new_email(["$1"], [], "Q3 deck", "Here is the Q3 deck", ["${2}"])
4. join()
<END_OF_PLAN>
"""


@pytest.fixture
def catalog(home):
    return load_catalog(Settings.load(backend="macos"))


def test_good_plan_gives_tasks_with_dependencies(catalog):
    plan = parse_plan(GOOD, catalog, now=NOW)
    assert [t.tool for t in plan.tasks] == ["get_email_address", "open_and_get_file_path", "compose_new_email"]
    assert plan.tasks[0].thought == "find Sarah's address first"
    assert plan.tasks[2].deps == (1, 2)
    assert plan.tasks[2].args == (["$1"], [], "Q3 deck", "Here is the Q3 deck", ["${2}"])


def test_plan_text_round_trips(catalog):
    plan = parse_plan(GOOD, catalog, now=NOW)
    assert parse_plan(plan.to_text(), catalog, now=NOW) == plan


def test_dates_are_resolved_to_iso(catalog):
    plan = parse_plan('1. create_reminder("milk", "2026-11-22 09:00", "", "", 0, False)\n2. join()', catalog, now=NOW)
    assert plan.tasks[0].args[1].startswith("2026-11-22T09:00")


def test_bad_date_is_a_plan_error_with_its_line(catalog):
    text = '1. get_phone_number("Ana")\n2. create_reminder("x", "blorptember the 45th", "", "", 0, False)\n3. join()'
    with pytest.raises(PlanError) as err:
        parse_plan(text, catalog, now=NOW)
    assert err.value.line == 2 and "due_date" in str(err.value)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('1. nosuch_tool("a")\n2. join()', 1, "unknown tool 'nosuch_tool'"),
        ('1. get_phone_number("a", "b")\n2. join()', 1, "takes 1 arguments"),
        ("1. get_phone_number(42)\n2. join()", 1, "must be a str"),
        ('1. send_sms("555", "hi")\n2. join()', 1, "must be a list of strings"),
        ('1. get_phone_number("$2")\n2. get_phone_number("b")\n3. join()', 1, "not an earlier task"),
        ('2. get_phone_number("a")\n1. get_phone_number("b")\n3. join()', 2, "ids must increase"),
        ('1. get_phone_number("a")\n2. join()\n3. get_phone_number("b")', 3, "join() must be the last"),
        ('1. get_phone_number("a")', 2, "does not end with join()"),
        ("1. join()", 1, "no tasks"),
        ('1. get_phone_number(name="a")\n2. join()', 1, "positional"),
        ("1. get_phone_number(open('x'))\n2. join()", 1, "literals"),
        ("hello there\n1. join()", 1, "expected 'N. tool(...)'"),
        ('1. get_phone_number("a", )x)\n2. join()', 1, "cannot read the arguments"),
        ('1. get_phone_number("a"\n2. join()', 1, "expected a call like"),
        ('1. create_reminder("a", "", "", "", True, False)\n2. join()', 1, "priority"),
    ],
)
def test_defects_name_line_and_reason(catalog, text, line, reason):
    with pytest.raises(PlanError) as err:
        parse_plan(text, catalog, now=NOW)
    assert err.value.line == line
    assert reason in str(err.value)


def test_disabled_and_backend_tools_are_refused(home, tmp_path, monkeypatch):
    (home / "config" / "config.yaml").write_text("disabled_tools: [get_phone_number]\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no kdeconnect-cli: the portable backend cannot text
    portable = load_catalog(Settings.load(backend="portable"))
    with pytest.raises(PlanError, match="disabled in config"):
        parse_plan('1. get_phone_number("a")\n2. join()', portable)
    with pytest.raises(PlanError, match="cannot run on the portable backend here: kdeconnect-cli is not on PATH"):
        parse_plan('1. send_sms(["555"], "hi")\n2. join()', portable)


def test_streaming_yields_each_task_when_its_line_completes(catalog):
    parser = StreamingParser(catalog, now=NOW)
    assert parser.feed('1. get_phone_number("Om') == []
    first = parser.feed('ar")\n2. send_sms(["$1"], "late")')
    assert [t.tool for t in first] == ["get_phone_number"]
    second = parser.feed("\n3. join()")
    assert [t.tool for t in second] == ["send_sms"]
    assert parser.finish() == []
    assert parser.plan().tasks[1].deps == (1,)


def test_json_plan_is_checked_like_text(catalog):
    plan = parse_plan(GOOD, catalog, now=NOW)
    assert plan_from_json([t.to_json() for t in plan.tasks], catalog, now=NOW) == plan
    with pytest.raises(PlanError):
        plan_from_json([{"tool": "get_phone_number", "args": [1]}], catalog)
    with pytest.raises(PlanError):
        plan_from_json("not a list", catalog)


def test_a_dollar_sign_itself_is_written_twice(catalog):
    plan = parse_plan('1. get_phone_number("Sam")\n2. send_sms(["$1"], "I owe you $$20, $$$1 left")\n'
                      '3. create_reminder("pay the $$45 bill", "", "", "", 0, False)\n4. join()', catalog, now=NOW)
    assert [t.deps for t in plan.tasks] == [(), (1,), ()]  # "$$45" is no reference to a task 45
    assert parse_plan(plan.to_text(), catalog, now=NOW) == plan
    # The tree to confirm shows what will be sent: one dollar sign, references in a colour of their own.
    import io

    from rich.console import Console

    from tinyagent_cli.ui.render import PlanView

    view = PlanView(catalog)
    for task in plan.tasks:
        view.add(task)
    out = io.StringIO()
    Console(file=out, width=200, color_system="standard", force_terminal=True).print(view)
    drawn = out.getvalue()
    assert 'message="I owe you $20, $\x1b[1;36m$1\x1b[0m left"' in drawn and 'name="pay the $45 bill"' in drawn
    assert "$$20" not in drawn and "$$45" not in drawn


def test_hostile_strings_round_trip(catalog):
    hostile = 'a"b\\c\n" & do shell script "touch /tmp/x" & "\u202e\U0001f600'
    from tinyagent_cli.plan.tasks import Plan, Task

    plan = Plan((Task(1, "get_phone_number", (hostile,)),))
    assert parse_plan(plan.to_text(), catalog).tasks[0].args == (hostile,)


# Property tests: random text and mutated good plans only ever raise PlanError.

_MUTATIONS = ["(", ")", '"', "[", "]", ",", "$", "$9", "${", "\\", "\x00", "\n", "join()", "<END_OF_PLAN>",
              "Thought:", "1.", "99.", " ", "True", "None", "'", "\u2028", "[[[[[[[[[[", "lambda: 0"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_random_text_only_raises_plan_error(catalog, text):
    try:
        parse_plan(text, catalog, now=NOW)
    except PlanError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(GOOD)), st.sampled_from(_MUTATIONS), st.integers(0, 3)), max_size=4))
def test_mutated_plans_only_raise_plan_error(catalog, edits):
    text = GOOD
    for position, insert, cut in edits:
        position = min(position, len(text))
        text = text[:position] + insert + text[position + cut :]
    try:
        plan = parse_plan(text, catalog, now=NOW)
    except PlanError:
        return
    assert parse_plan(plan.to_text(), catalog, now=NOW) == plan


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200), st.lists(st.integers(1, 50), max_size=6))
def test_streaming_in_any_chunks_equals_whole_parse(catalog, noise, cuts):
    text = GOOD.replace("Here is the Q3 deck", noise.replace("\n", " ").replace('"', "'").replace("\\", "/"))
    try:
        whole = parse_plan(text, catalog, now=NOW)
    except PlanError:
        return
    parser = StreamingParser(catalog, now=NOW)
    position = 0
    for cut in cuts:
        parser.feed(text[position : position + cut])
        position += cut
    parser.feed(text[position:])
    parser.finish()
    assert parser.plan() == whole


def test_plan_with_skipped_ids_round_trips(catalog):
    """Found by the mutation test: a plan numbered from 2 wrote its join() as 2 again."""
    plan = parse_plan('2. get_email_address("Sarah Lin")\n3. get_phone_number("Sarah Lin")\n4. join()\n', catalog, now=NOW)
    assert plan.to_text().endswith("3. get_phone_number(\"Sarah Lin\")\n4. join()\n")
    assert parse_plan(plan.to_text(), catalog, now=NOW) == plan


def test_an_end_on_an_earlier_weekday_counts_from_the_start(catalog):
    """Said on a Saturday, "Monday 8am" is in two days and "Sunday 5pm" alone is tomorrow: the
    end of a span Monday to Sunday is the Sunday after that Monday."""
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
    plan = parse_plan('1. create_calendar_event("conference", "Monday 8am", "Sunday 5pm", "", [], "", "")\n'
                      "2. join()", catalog, now=saturday)
    assert plan.tasks[0].args[1:3] == ("2026-11-23T08:00:00+00:00", "2026-11-29T17:00:00+00:00")


def test_an_end_earlier_on_the_same_day_is_left_as_said(catalog):
    plan = parse_plan('1. create_calendar_event("review", "Friday 2pm", "Friday 1pm", "", [], "", "")\n2. join()',
                      catalog, now=NOW)
    assert plan.tasks[0].args[1:3] == ("2026-11-27T14:00:00+00:00", "2026-11-27T13:00:00+00:00")
