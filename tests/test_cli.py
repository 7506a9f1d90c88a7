"""The CLI as a script sees it: a real subprocess, no TTY, exit codes and JSON."""

from __future__ import annotations

import json

from .conftest import run_cli, write_config


def test_tools_list_shows_the_sixteen_tools(home):
    out = run_cli(home, "tools", "list", "--json", "--backend", "macos")
    assert out.returncode == 0, out.stderr
    names = [t["name"] for t in json.loads(out.stdout)["tools"]]
    assert len(names) == 16 and "send_sms" in names and "get_zoom_meeting_link" in names
    portable = json.loads(run_cli(home, "tools", "list", "--json", "--backend", "portable").stdout)
    assert "send_sms" not in [t["name"] for t in portable["tools"]]


def test_dry_run_draws_the_tree_and_runs_nothing(home, testpack, tmp_path):
    target = tmp_path / "never.txt"
    out = run_cli(home, "exec", "--dry-run", "-", input=f'1. echo("hi")\n2. write("{target}", "$1")\n3. join()\n')
    assert out.returncode == 0, out.stderr
    assert "1. echo" in out.stdout and "2. write" in out.stdout and "dry run" in out.stdout
    assert not target.exists()


def test_exit_0_when_all_tasks_are_done(home, testpack):
    out = run_cli(home, "exec", "-", input='1. echo("hello")\n2. join()\n')
    assert out.returncode == 0, out.stderr
    assert "✓ echo: hello" in out.stdout


def test_exit_1_when_a_task_fails(home, testpack):
    out = run_cli(home, "exec", "-", input='1. fail("contact not found: Zed")\n2. echo("ok")\n3. join()\n')
    assert out.returncode == 1
    assert "fail failed: contact not found: Zed" in out.stdout


def test_exit_2_for_usage_and_configuration_errors(home, testpack):
    assert run_cli(home, "exec", "--no-such-option", "-").returncode == 2
    missing = run_cli(home, "exec", "/no/such/plan.txt")
    assert missing.returncode == 2 and "cannot read /no/such/plan.txt" in missing.stderr
    write_config(home, "timeout: [1, 2\n")
    corrupt = run_cli(home, "tools", "list")
    assert corrupt.returncode == 2
    assert "config/config.yaml:2: not valid YAML" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr and len(corrupt.stderr.strip().splitlines()) == 1
    write_config(home, "timeoutt: 3\n")
    typo = run_cli(home, "tools", "list")
    assert typo.returncode == 2 and "unknown key 'timeoutt'" in typo.stderr


def test_exit_3_for_a_malformed_plan(home, testpack):
    out = run_cli(home, "exec", "-", input='1. echo("a")\n2. echo("$7")\n3. join()\n')
    assert out.returncode == 3
    assert out.stderr.strip() == "tinyagent: line 2: echo argument 'text' refers to $7, which is not an earlier task"


def test_a_doubled_dollar_sign_is_written_as_one(home, testpack, tmp_path):
    target = tmp_path / "owed.txt"
    out = run_cli(home, "exec", "--yes", "-", input=f'1. echo("Sam")\n2. write("{target}", "$1 owes $$20, not $$1")\n3. join()\n')
    assert out.returncode == 0, out.stderr
    assert target.read_text() == "Sam owes $20, not $1\n"


def test_exit_4_refuses_side_effects_without_a_terminal_or_yes(home, testpack, tmp_path):
    target = tmp_path / "out.txt"
    out = run_cli(home, "exec", "-", input=f'1. write("{target}", "x")\n2. join()\n', timeout=20)
    assert out.returncode == 4
    assert "--yes" in out.stderr
    assert not target.exists()
    yes = run_cli(home, "exec", "--yes", "-", input=f'1. write("{target}", "x")\n2. join()\n')
    assert yes.returncode == 0 and target.read_text() == "x\n"


def test_json_round_trips_through_exec(home, testpack, tmp_path):
    target = tmp_path / "out.txt"
    plan = f'1. echo("a \\"quoted\\" \\\\ value")\n2. write("{target}", "$1")\n3. join()\n'
    dry = run_cli(home, "exec", "--dry-run", "--json", "-", input=plan)
    assert dry.returncode == 0, dry.stderr
    saved = json.loads(dry.stdout)
    assert saved["dry_run"] is True and saved["results"] == []
    assert [t["tool"] for t in saved["plan"]] == ["echo", "write"]
    assert saved["plan"][1]["deps"] == [1]

    ran = run_cli(home, "exec", "--yes", "--json", "-", input=dry.stdout)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["plan"] == saved["plan"]
    assert [r["status"] for r in result["results"]] == ["done", "done"]
    assert result["results"][0]["output"] == 'a "quoted" \\ value'
    assert set(result) >= {"query", "plan", "results", "answer", "timings"}
    assert target.read_text() == 'a "quoted" \\ value\n'


def test_version_and_help(home):
    assert run_cli(home, "--version").stdout.startswith("tinyagent ")
    out = run_cli(home, "--help")
    assert out.returncode == 0 and "exec" in out.stdout
