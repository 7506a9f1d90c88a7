"""`tinyagent run`: the real embedded model plans, the plan streams into the executor."""

from __future__ import annotations

import json

import pytest

from .conftest import run_cli, use_local_server, write_config
from .test_openai_compat import server  # noqa: F401  (a fixture)

CONTACTS = """BEGIN:VCARD
VERSION:3.0
FN:Omar Haddad
EMAIL;TYPE=INTERNET:omar@example.org
TEL;TYPE=CELL:+1 555 0100
END:VCARD
"""


def _plan(out) -> list[str]:
    assert out.returncode == 0, out.stderr
    return [task["tool"] for task in json.loads(out.stdout)["plan"]]


def test_model_not_installed_says_how_to_pull_it(home):
    out = run_cli(home, "run", "--dry-run", "--model", "tinyagent-1.1b", "remind me to stretch")
    assert out.returncode == 2
    assert "tinyagent models pull tinyagent-1.1b" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_model_lists_the_known_ones(home):
    out = run_cli(home, "run", "--dry-run", "--model", "gpt-17", "remind me to stretch")
    assert out.returncode == 2
    assert "gemma3-270m" in out.stderr and "Traceback" not in out.stderr


def test_corrupt_models_yaml_names_the_line(home):
    (home / "config" / "models.yaml").write_text("models:\n  - name: mine\n    backend: [llama_cpp\n")
    out = run_cli(home, "run", "--dry-run", "remind me to stretch")
    assert out.returncode == 2
    assert "config/models.yaml:4: not valid YAML" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_repeated_call_ends_the_plan(home, server):  # noqa: F811
    """A small model with nothing more to plan writes an earlier line again: the plan ends there."""
    use_local_server(home, server.url)
    server.chunks = ['1. get_phone_number("Omar")\n2. send_sms(["$1"], "late")\n',
                     '3. send_sms(["$1"], "late")\n4. send_sms(["$1"], "late")\n5. join()']
    out = run_cli(home, "run", "--dry-run", "--json", "--backend", "macos", "--model", "local",
                  "text Omar that I'm late")
    assert _plan(out) == ["get_phone_number", "send_sms"]


def test_a_dry_run_without_a_valid_plan_says_so(home, server):  # noqa: F811
    """No valid plan after the replan: exit 3, and the JSON still says it was a dry run."""
    use_local_server(home, server.url)
    server.chunks = ['1. no_such_tool("x")\n2. join()']
    out = run_cli(home, "run", "--dry-run", "--json", "--backend", "macos", "--model", "local", "do a thing")
    data = json.loads(out.stdout)
    assert out.returncode == 3 and data["exit_code"] == 3
    assert data["dry_run"] is True and "no valid plan after 2 attempt(s)" in data["error"]


def test_empty_request_is_a_usage_error(home):
    out = run_cli(home, "run", "-", input="  \n")
    assert out.returncode == 2 and "nothing to do" in out.stderr


EASY = [
    ("remind me to buy milk tomorrow at 9", ["create_reminder"]),
    ("get me Ana Lopez's number", ["get_phone_number"]),
    ("create a note called Groceries with milk and eggs", ["create_note"]),
    ("text Omar that I'm running late", ["get_phone_number", "send_sms"]),
]


@pytest.mark.slow
def test_real_model_plans_within_the_selection(home):
    """Every plan is valid and uses only the tools ToolRAG offered: that holds by construction.
    Which tools the model picks is measured by `tinyagent eval`; here only a margin is asked
    of four easy requests, since greedy output differs from CPU to CPU."""
    right = 0
    for query, tools in EASY:
        out = run_cli(home, "run", "--dry-run", "--json", "--backend", "macos", query, timeout=300)
        planned = _plan(out)
        data = json.loads(out.stdout)
        assert data["dry_run"] is True and data["results"] == []
        assert planned and set(planned) <= set(data["selected_tools"]), out.stdout
        right += planned == tools
    assert right >= 3, right


def _required(home, query: str, backend: str) -> set[str]:
    """The tools ToolRAG is sure of for ``query``: the grammar makes the plan call each one."""
    from tinyagent_cli.retrieval.toolrag import ToolRAG
    from tinyagent_cli.settings import Settings
    from tinyagent_cli.tools.spec import load_catalog

    settings = Settings.load(backend=backend)
    return set(ToolRAG.load_or_train(load_catalog(settings), settings).select(query).certain)


@pytest.mark.slow
def test_first_task_starts_before_the_plan_is_complete(home):
    write_config(home, "portable:\n  open_files: false\n")
    contacts = home / "data" / "contacts"
    contacts.mkdir(parents=True)
    (contacts / "omar.vcf").write_text(CONTACTS)
    query = "send an email to Omar Haddad saying the meeting moved to Friday"
    # Both are required, and compose waits for the lookup its hints name: a plan of at
    # least two tasks, the lookup first, whatever the model's other choices.
    assert {"get_email_address", "compose_new_email"} <= _required(home, query, "portable")
    out = run_cli(home, "run", "--json", "--yes", "--backend", "portable", query, timeout=300)
    data = json.loads(out.stdout)
    assert data["plan"][0]["tool"] == "get_email_address" and len(data["plan"]) >= 2, out.stdout
    timings = data["timings"]
    assert timings["first_start_s"] < timings["plan_s"], timings
    if data["plan"][0]["args"][0] in ("Omar", "Omar Haddad"):
        assert data["results"][0]["output"] == "omar@example.org"
