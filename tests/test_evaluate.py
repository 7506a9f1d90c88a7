"""Evaluation: the DAG metric on hand-made plans, the figures, and `eval` on the real datasets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from tinyagent_cli.commands.evaluate_cmd import eval_command, eval_target
from tinyagent_cli.errors import DatasetError
from tinyagent_cli.evaluate import (EVAL_NOW, QueryResult, compare_plans, lookups, mistake, percentile, plan_graph,
                                    same_dag, summarize)
from tinyagent_cli.plan.parser import parse_plan
from tinyagent_cli.settings import Config, Paths, Settings
from tinyagent_cli.tools.spec import load_catalog

from .conftest import REPO, run_cli

DEV = REPO / "datasets" / "dev.jsonl"


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home shared by this module, so ToolRAG is trained and Gemma assembled once."""
    return tmp_path_factory.getbasetemp() / "shared-eval-home"


@pytest.fixture(scope="module")
def macos(shared_home: Path) -> tuple[Settings, object]:
    settings = Settings(Paths(shared_home / "config", shared_home / "data", shared_home / "cache"), Config(backend="macos"))
    return settings, load_catalog(settings)


@pytest.fixture(scope="module")
def trained(macos) -> tuple[Settings, object]:
    """The macos settings and catalog with ToolRAG trained into the shared cache."""
    from tinyagent_cli.retrieval.toolrag import ToolRAG

    settings, catalog = macos
    ToolRAG.load_or_train(catalog, settings, progress=lambda message: None)
    return macos


def plan(text: str, catalog) -> object:
    return parse_plan(text, catalog, now=EVAL_NOW)


GOLD = """\
1. get_email_address("Sarah Lin")
2. open_and_get_file_path("Q3 deck")
3. compose_new_email(["$1"], [], "Q3 deck", "Here it is", ["$2"])
4. create_calendar_event("review", "Thursday at 3", "", "", ["$1"], "", "")
5. join()
"""


def test_renumbered_and_reordered_tasks_are_the_same_dag(macos) -> None:
    _, catalog = macos
    reordered = """\
Thought: the file first this time
1. open_and_get_file_path("the deck")
2. get_email_address("Sarah")
3. create_calendar_event("Q3 review", "tomorrow", "", "", ["$2"], "", "")
4. compose_new_email(["${2}"], [], "deck", "see attached", ["$1"])
5. join()
"""
    assert same_dag(plan(GOLD, catalog), plan(reordered, catalog))
    graph = plan_graph(plan(GOLD, catalog))
    assert graph.number_of_nodes() == 5 and graph.has_edge(1, 3) and graph.has_edge(2, 3) and graph.has_edge(1, 4)
    assert all(graph.has_edge(n, "join") for n in (1, 2, 3, 4))


def test_a_missing_edge_a_wrong_tool_or_an_extra_task_is_a_failure(macos) -> None:
    _, catalog = macos
    gold = plan(GOLD, catalog)
    missing_edge = GOLD.replace('["$1"], "", "")', '[], "", "")')  # the event no longer waits for the lookup
    wrong_tool = GOLD.replace('get_email_address("Sarah Lin")', 'get_phone_number("Sarah Lin")')
    extra_task = GOLD.replace("5. join()", '5. create_note("deck", "sent", "")\n6. join()')
    for text in (missing_edge, wrong_tool, extra_task):
        assert text != GOLD
        assert not same_dag(gold, plan(text, catalog))
    # Same tools and edge count, different wiring: only the isomorphism test tells them apart.
    chain = '1. get_email_address("A")\n2. get_email_address("$1")\n3. get_phone_number("B")\n4. join()\n'
    fork = '1. get_email_address("A")\n2. get_email_address("B")\n3. get_phone_number("$1")\n4. join()\n'
    assert not same_dag(plan(chain, catalog), plan(fork, catalog))


def test_a_plan_that_is_not_exact_is_named_by_what_went_wrong(macos) -> None:
    _, catalog = macos
    gold = plan(GOLD, catalog)

    def kind(text: str | None) -> str | None:
        made = plan(text, catalog) if text is not None else None
        return mistake(gold, made, compare_plans(gold, made, catalog) if made is not None else compare_plans(gold, gold, catalog))

    assert kind(GOLD) is None
    assert kind(None) == "invalid"
    assert kind(GOLD.replace('"review"', '"sync"')) == "arguments"
    assert kind(GOLD.replace('get_email_address("Sarah Lin")', 'get_phone_number("Sarah Lin")')) == "wrong tool"
    assert kind(GOLD.replace("5. join()", '5. create_note("deck", "sent", "")\n6. join()')) == "extra call"
    dropped = GOLD.replace('4. create_calendar_event("review", "Thursday at 3", "", "", ["$1"], "", "")\n5.', "4.")
    assert kind(dropped) == "dropped request"
    assert kind(GOLD.replace('["$1"], "", "")', '[], "", "")')) == "wiring"  # the event no longer waits


def test_figures_by_size_of_the_gold_plan_and_mistakes_in_totals() -> None:
    def result(i: int, calls: int, recalled: bool, success: bool, slip: str | None) -> QueryResult:
        selected = ("send_sms",) if recalled else ()
        return QueryResult(i, f"q{i}", "", ("send_sms",), selected, 0.001, calls, plan_text="", valid=True,
                           success=success, exact=slip is None, mistake=slip)

    report = summarize([result(1, 1, True, True, None), result(2, 1, False, False, "wrong tool"),
                        result(3, 4, True, True, "arguments"), result(4, 7, True, False, "extra call")])
    assert report["per_call_count"] == {
        "1": {"queries": 2, "tool_recall": 0.5, "tools_per_query": 0.5, "success_rate": 0.5, "exact_plan_rate": 0.5},
        "4-5": {"queries": 1, "tool_recall": 1.0, "tools_per_query": 1, "success_rate": 1.0, "exact_plan_rate": 0.0},
        "6+": {"queries": 1, "tool_recall": 1.0, "tools_per_query": 1, "success_rate": 0.0, "exact_plan_rate": 0.0},
    }
    assert report["mistakes"] == {"invalid": 0, "wrong tool": 1, "extra call": 1, "dropped request": 0,
                                  "wiring": 0, "arguments": 1}


def test_lookup_arguments_are_compared_as_a_multiset(macos) -> None:
    _, catalog = macos
    swapped = GOLD.replace('get_email_address("Sarah Lin")\n2. open_and_get_file_path("Q3 deck")',
                           'open_and_get_file_path("Q3 deck")\n2. get_email_address("Sarah Lin")')
    assert lookups(plan(GOLD, catalog), catalog) == lookups(plan(swapped, catalog), catalog)
    assert lookups(plan(GOLD, catalog), catalog) != lookups(plan(GOLD.replace("Sarah Lin", "Sarah"), catalog), catalog)


def test_figures_from_hand_made_results() -> None:
    def result(i: int, gold: tuple[str, ...], selected: tuple[str, ...], success: bool, plan_s: float) -> QueryResult:
        return QueryResult(i, f"q{i}", "", gold, selected, 0.001 * i, plan_text="", valid=success, success=success,
                           lookup_match=success if "get_phone_number" in gold else None, plan_s=plan_s,
                           first_task_s=plan_s / 2, prompt_tokens=100, all_tools_prompt_tokens=400)

    results = [
        result(1, ("get_phone_number", "send_sms"), ("get_phone_number", "send_sms", "create_note"), True, 1.0),
        result(2, ("get_phone_number", "send_sms"), ("send_sms",), False, 2.0),
        result(3, ("create_note",), ("create_note",), True, 3.0),
        result(4, ("create_note",), ("create_note", "open_note"), False, 4.0),
    ]
    report = summarize(results)
    assert report["success_rate"] == 0.5 and report["valid_plan_rate"] == 0.5
    assert report["lookup_args_exact"] == 0.5 and report["lookup_queries"] == 2
    assert report["retrieval"] == {"tool_recall": 0.75, "tools_per_query": 1.75, "gold_tools_per_query": 1.5,
                                   "micro_recall": 0.8333, "micro_precision": 0.7143}
    assert report["latency_s"]["plan"] == {"p50": 2.5, "p95": 3.85, "n": 4}
    assert report["prompt_tokens"] == {"mean": 100, "all_tools_mean": 400, "share_of_all_tools": 0.25}
    assert report["per_tool"]["get_phone_number"] == {"queries": 2, "retrieval_recall": 0.5,
                                                      "retrieval_precision": 1.0, "success_rate": 0.5}
    assert report["per_tool"]["create_note"]["retrieval_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["failures"] == 2
    assert percentile([5.0], 95) == 5.0 and percentile([], 50) is None


def test_eval_defaults_to_the_macos_catalog_and_respects_a_chosen_backend(shared_home: Path) -> None:
    paths = Paths(shared_home / "config", shared_home / "data", shared_home / "cache")
    auto = Settings(paths, Config())
    settings, catalog = eval_target(auto, load_catalog(auto), None)
    assert settings.backend == "macos" and "send_sms" in catalog.tools
    portable = Settings(paths, Config(backend="portable"))
    settings, catalog = eval_target(portable, load_catalog(portable), "tinyagent-1.1b")
    assert settings.backend == "portable" and "send_sms" not in catalog.tools
    assert settings.config.model == "tinyagent-1.1b"


def _eval(settings, catalog, dataset: Path, capsys, **options) -> tuple[int, dict]:
    defaults = dict(model=None, retrieval_only=True, limit=None, as_json=True, save=None, verbose=False,
                    console=Console(stderr=True))
    code = eval_command(settings, catalog, dataset, **{**defaults, **options})
    return code, json.loads(capsys.readouterr().out)


def test_retrieval_only_eval_on_the_dev_set_is_sane_and_deterministic(trained, capsys, tmp_path: Path) -> None:
    settings, catalog = trained
    save = tmp_path / "failures.jsonl"
    code, report = _eval(settings, catalog, DEV, capsys, save=save)
    assert code == 0
    assert report["queries"] == len([line for line in DEV.read_text().splitlines() if line.strip()])
    assert report["skipped"] == 0 and report["model"] is None and report["backend"] == "macos"
    retrieval = report["retrieval"]
    assert 0.5 <= retrieval["tool_recall"] <= 1 and 0 < retrieval["micro_precision"] <= 1
    assert retrieval["tools_per_query"] >= retrieval["gold_tools_per_query"] > 0
    assert report["success_rate"] is None and report["latency_s"]["plan"]["n"] == 0
    assert report["latency_s"]["retrieval"]["p50"] > 0
    assert set(report["per_tool"]) <= set(catalog.tools) and len(report["per_tool"]) >= 12
    failures = [json.loads(line) for line in save.read_text().splitlines()]
    assert len(failures) == report["failures"]
    assert all(f["missing_tools"] and f["gold_plan"] for f in failures)

    _, again = _eval(settings, catalog, DEV, capsys)
    drop = ("latency_s", "saved")
    assert {k: v for k, v in again.items() if k not in drop} == {k: v for k, v in report.items() if k not in drop}


def test_portable_backend_skips_queries_it_cannot_plan(shared_home: Path) -> None:
    from tinyagent_cli.agent import Agent
    from tinyagent_cli.evaluate import Skipped, evaluate_query
    from tinyagent_cli.retrieval.dataset import read_dataset

    paths = Paths(shared_home / "config", shared_home / "data", shared_home / "cache")
    settings = Settings(paths, Config(backend="portable"))
    sms = next(e for e in read_dataset(DEV) if "send_sms" in e.tools)
    skipped = evaluate_query(Agent(settings, load_catalog(settings)), 7, sms)
    assert isinstance(skipped, Skipped) and skipped.index == 7
    assert "send_sms" in skipped.reason and "portable" in skipped.reason


def test_a_malformed_line_is_named_and_means_exit_2(macos, tmp_path: Path) -> None:
    settings, catalog = macos
    dataset = tmp_path / "bad.jsonl"
    good = DEV.read_text().splitlines()[0]
    dataset.write_text(f"{good}\n\n{good}\n{{\"query\": \"no plan\"}}\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:4:") as caught:
        eval_command(settings, catalog, dataset, model=None, retrieval_only=True, limit=None, as_json=True,
                     save=None, console=Console(stderr=True), verbose=False)
    assert caught.value.exit_code == 2


def test_eval_command_end_to_end(trained, home: Path, tmp_path: Path) -> None:
    save = tmp_path / "misses.jsonl"
    out = run_cli(home, "eval", str(DEV), "--retrieval-only", "--limit", "20", "--json", "--save", str(save))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["queries"] == 20 and report["backend"] == "macos" and report["saved"] == str(save)
    assert 0 <= report["retrieval"]["tool_recall"] <= 1 and report["retrieval"]["tools_per_query"] > 0
    table = run_cli(home, "eval", str(DEV), "--retrieval-only", "--limit", "20")
    assert table.returncode == 0 and "tool recall" in table.stdout and "get_email_address" in table.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(DEV.read_text().splitlines()[0] + "\nnot json\n")
    broken = run_cli(home, "eval", str(bad), "--retrieval-only")
    assert broken.returncode == 2 and f"{bad}:2: not valid JSON" in broken.stderr


@pytest.mark.slow
def test_full_eval_with_the_real_model_reports_every_figure(trained, capsys, tmp_path: Path) -> None:
    settings, catalog = trained
    save = tmp_path / "failures.jsonl"
    code, report = _eval(settings, catalog, DEV, capsys, retrieval_only=False, limit=3, save=save)
    assert code == 0 and report["queries"] == 3 and report["model"] == settings.config.model
    for key in ("success_rate", "valid_plan_rate"):
        assert 0 <= report[key] <= 1
    assert 0 <= report["exact_plan_rate"] <= report["success_rate"]  # exact is a success with its arguments right
    assert report["lookup_queries"] > 0 and 0 <= report["lookup_args_exact"] <= 1
    for stage in ("retrieval", "first_task", "plan"):
        spread = report["latency_s"][stage]
        assert spread["n"] >= 1 and 0 < spread["p50"] <= spread["p95"]
    tokens = report["prompt_tokens"]
    assert 0 < tokens["mean"] < tokens["all_tools_mean"] and 0 < tokens["share_of_all_tools"] < 1
    assert all(row["success_rate"] is not None for row in report["per_tool"].values())
    failed = [json.loads(line) for line in save.read_text().splitlines()]
    assert len(failed) == report["failures"] == round(3 * (1 - report["exact_plan_rate"]))
    assert all("plan" in f and "gold_plan" in f for f in failed)


def test_repeat_guard_refuses_a_repeat_only_while_a_required_tool_is_missing() -> None:
    from tinyagent_cli.agent import RepeatGuard

    guard = RepeatGuard(("compose_new_email",))
    assert not guard('1. get_email_address("Jamal")\n')
    assert not guard('2. get_email_address("Ana")\n')  # another call of the same tool
    assert guard('3. get_email_address("Jamal")\n')
    assert not guard("Thought: then the file\n") and not guard("4. join()\n")
    assert not guard('4. compose_new_email(["$1", "$2"], [], "", "", [])\n')
    assert not guard('5. get_email_address("Jamal")\n')  # nothing is missing: the agent ends the plan


def test_a_lookup_of_a_kind_the_request_gives_is_not_required(trained) -> None:
    """ToolRAG is sure texting needs get_phone_number, but this request gives the number: a
    plan held to look it up could only write the refused lookup of the number or repeat a
    line, and a repeat ends the plan before anything is texted."""
    from tinyagent_cli.agent import Agent

    settings, catalog = trained
    request = Agent(settings, catalog).prepare("map the way to the station on foot and text the link to 415-555-0199")
    assert {"get_phone_number", "send_sms"} <= set(request.selection.certain)
    assert "get_phone_number" not in request.required and "send_sms" in request.required
    assert "get_phone_number" in request.selection.tools  # still offered, for a name beside the number


@pytest.mark.slow
def test_two_people_get_examples_that_look_up_two_and_a_plan_with_every_required_tool(trained) -> None:
    """"email Jamal and Ana the expense report.xlsx": the mention tagger brings examples that
    look up two people; and a plan that repeats a line while a required tool is missing has
    that line refused, so the finished plan calls every tool ToolRAG is sure of. How many
    lookups Gemma writes is its choice, measured by `tinyagent eval`."""
    from tinyagent_cli.agent import Agent

    settings, catalog = trained
    few_shot = replace(settings, config=replace(settings.config, model="gemma3-270m"))  # the planner that reads examples
    agent = Agent(few_shot, catalog)
    plan, request, trace, error = agent.plan("email Jamal and Ana the expense report.xlsx", now=EVAL_NOW)
    assert error is None and plan is not None
    assert any(e[1].count("get_email_address(") == 2 for e in request.examples)
    assert {"get_email_address", "compose_new_email"} <= set(request.selection.certain)
    if not trace.repeat:  # a plan ended by a repeat may stop short (after MAX_REJECTED refusals)
        assert set(request.selection.certain) <= {task.tool for task in plan.tasks}, trace.text


def _compared(gold: str, generated: str, catalog):
    from tinyagent_cli.evaluate import compare_plans

    return compare_plans(plan(gold, catalog), plan(generated, catalog), catalog)


def test_identical_plans_and_plans_differing_in_case_spaces_or_edge_punctuation_are_exact(macos) -> None:
    _, catalog = macos
    assert _compared(GOLD, GOLD, catalog).exact
    loose = (GOLD.replace('"Sarah Lin"', '"  sarah   LIN. "').replace('"Here it is"', '"here it is!"')
             .replace('"Q3 deck", "Here', '"(Q3 Deck),", "Here'))
    assert loose != GOLD
    comparison = _compared(GOLD, loose, catalog)
    assert comparison.exact and comparison.differences == ()


def test_a_different_argument_is_a_success_but_not_exact_and_is_named(macos) -> None:
    from tinyagent_cli.evaluate import ArgumentDiff

    _, catalog = macos
    comparison = _compared(GOLD, GOLD.replace('"Q3 deck", "Here', '"budget", "Here'), catalog)
    assert comparison.same_dag and not comparison.exact
    assert comparison.differences == (ArgumentDiff(3, "compose_new_email", "subject", "Q3 deck", "budget"),)
    wrong_tool = _compared(GOLD, GOLD.replace("get_email_address", "get_phone_number"), catalog)
    assert not wrong_tool.same_dag and not wrong_tool.exact and wrong_tool.differences == ()


def test_references_are_compared_through_the_matching_of_reordered_tasks(macos) -> None:
    _, catalog = macos
    reordered = """\
1. open_and_get_file_path("Q3 deck")
2. get_email_address("Sarah Lin")
3. create_calendar_event("review", "Thursday at 3", "", "", ["${2}"], "", "")
4. compose_new_email(["$2"], [], "Q3 deck", "Here it is", ["$1"])
5. join()
"""
    assert _compared(GOLD, reordered, catalog).exact
    # The same DAG (the email still waits for both tasks), but the lookup and the file swap places.
    crossed = reordered.replace('["$2"], [], "Q3 deck", "Here it is", ["$1"]', '["$1"], [], "Q3 deck", "Here it is", ["$2"]')
    comparison = _compared(GOLD, crossed, catalog)
    assert comparison.same_dag and not comparison.exact
    # Gold's $N are shown renumbered as the plan's tasks: gold's lookup is the plan's task 2.
    assert [(d.task, d.argument, d.gold, d.plan) for d in comparison.differences] == [
        (4, "recipients", ["${2}"], ["${1}"]), (4, "attachments", ["${1}"], ["${2}"])]


def test_two_lookups_of_one_tool_may_be_matched_either_way_round(macos) -> None:
    _, catalog = macos
    gold = """\
1. get_phone_number("Priya")
2. get_phone_number("Lars")
3. send_sms(["$1"], "running late")
4. send_sms(["$2"], "see you soon")
5. join()
"""
    swapped = """\
1. get_phone_number("Lars")
2. get_phone_number("Priya")
3. send_sms(["$2"], "running late")
4. send_sms(["$1"], "see you soon")
5. join()
"""
    assert _compared(gold, swapped, catalog).exact
    messages_crossed = swapped.replace('"running late"', '"X"').replace('"see you soon"', '"running late"')
    comparison = _compared(gold, messages_crossed.replace('"X"', '"see you soon"'), catalog)
    assert comparison.same_dag and not comparison.exact
    assert len(comparison.differences) == 2  # the closest matching: each text to the other person


def test_dates_are_compared_as_resolved_at_the_eval_clock_and_lists_as_multisets(macos) -> None:
    from datetime import timedelta

    _, catalog = macos
    phrase = '1. create_reminder("buy milk", "tomorrow at 9", "", "", 0, False)\n2. join()\n'
    tomorrow_nine = (EVAL_NOW + timedelta(days=1)).replace(hour=9, minute=0).isoformat()
    assert _compared(phrase, phrase.replace("tomorrow at 9", tomorrow_nine), catalog).exact
    later = _compared(phrase, phrase.replace("tomorrow at 9", "tomorrow at 10"), catalog)
    assert later.same_dag and not later.exact and [d.argument for d in later.differences] == ["due_date"]

    mail = '1. compose_new_email(["a@x.org", "b@x.org"], [], "hi", "", ["one.pdf", "two.pdf"])\n2. join()\n'
    reversed_lists = '1. compose_new_email(["B@x.org", "a@x.org"], [], "hi", "", ["two.pdf", "one.pdf"])\n2. join()\n'
    assert _compared(mail, reversed_lists, catalog).exact
    twice = mail.replace('["a@x.org", "b@x.org"]', '["a@x.org", "a@x.org"]')
    assert not _compared(mail, twice, catalog).exact  # a multiset, not a set


def test_lookup_names_are_normalised_as_exact_plans_compare_them(macos) -> None:
    _, catalog = macos
    normalised = plan(GOLD.replace('"Sarah Lin"', '"sarah lin."'), catalog)
    assert lookups(plan(GOLD, catalog), catalog) == lookups(normalised, catalog)


def test_exact_plans_in_the_figures_the_failures_and_the_table(macos) -> None:
    from tinyagent_cli.commands.evaluate_cmd import _print_report
    from tinyagent_cli.evaluate import ArgumentDiff

    diff = ArgumentDiff(2, "send_sms", "message", "running late", "late")

    def result(i: int, success: bool, exact: bool, differences: tuple = ()) -> QueryResult:
        return QueryResult(i, f"q{i}", "gold", ("get_phone_number", "send_sms"), ("get_phone_number", "send_sms"),
                           0.001, plan_text="plan", valid=True, success=success, exact=exact, differences=differences)

    results = [result(1, True, True), result(2, True, False, (diff,)), result(3, False, False), result(4, True, True)]
    report = summarize(results)
    assert report["success_rate"] == 0.75 and report["exact_plan_rate"] == 0.5
    assert report["dag_right_arguments_wrong"] == 1 and report["failures"] == 2
    assert report["per_tool"]["send_sms"]["exact_plan_rate"] == 0.5
    records = [r.failure_record() for r in results if r.failed]
    assert [(r["index"], r["dag_right"]) for r in records] == [(2, True), (3, False)]
    assert records[0]["differing_arguments"] == [
        {"task": 2, "tool": "send_sms", "argument": "message", "gold": "running late", "plan": "late"}]
    assert records[1]["differing_arguments"] == []

    console = Console(record=True, width=120)
    _print_report(console, {"dataset": "d.jsonl", "backend": "macos", "model": "m", "retrieval_only": False,
                            **report}, [])
    text = console.export_text()
    assert "exact plans" in text and "50.0%" in text and "right DAG, an argument wrong" in text
    assert "exact" in text.split("per gold tool")[1]
    assert "per size of the gold plan" in text and "plans not exact, by mistake:" in text
