"""The task fetching unit: parallel, dependency order, substitution, timeouts, skips."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tinyagent_cli.plan.executor import Executor, substitute
from tinyagent_cli.plan.join import join
from tinyagent_cli.plan.parser import StreamingParser, parse_plan
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import load_catalog

from .conftest import run_plan, write_config


@pytest.fixture
def catalog(testpack):
    return load_catalog(Settings.load())


def _settings() -> Settings:
    return Settings.load()


def test_three_independent_one_second_tasks_take_about_one_second(catalog):
    plan = parse_plan('1. sleep(1, "a")\n2. sleep(1, "b")\n3. sleep(1, "c")\n4. join()', catalog)
    start = time.perf_counter()
    results = run_plan(plan, catalog, _settings())
    elapsed = time.perf_counter() - start
    assert [r.output for r in results.values()] == ["a", "b", "c"]
    assert elapsed < 1.8, f"independent tasks ran in series: {elapsed:.2f}s"


def test_dependents_wait_and_receive_substituted_values(catalog):
    plan = parse_plan(
        '1. sleep(1, "alpha")\n2. echo("beta")\n3. join_list(["$1", "x-${2}", "$1$2"])\n4. echo("got $3")\n5. join()',
        catalog,
    )
    results = run_plan(plan, catalog, _settings())
    assert results[3].output == "alpha+x-beta+alphabeta"
    assert results[4].output == "got alpha+x-beta+alphabeta"
    assert results[3].args == (["alpha", "x-beta", "alphabeta"],)


def test_hanging_task_is_killed_at_its_timeout_while_others_finish(home, testpack, tmp_path):
    write_config(home, "timeout: 1\n")
    catalog = load_catalog(Settings.load())
    pid_file = tmp_path / "pid"
    plan = parse_plan(f'1. hang("{pid_file}")\n2. sleep(0, "quick")\n3. echo("$1")\n4. join()', catalog)
    start = time.perf_counter()
    results = run_plan(plan, catalog, Settings.load())
    assert time.perf_counter() - start < 3
    assert results[1].status == "failed" and "timed out after 1 s" in results[1].error
    assert results[2].status == "done" and results[2].output == "quick"
    assert results[3].status == "skipped"
    pid = int(pid_file.read_text())
    deadline = time.time() + 2
    while time.time() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), "the tool's subprocess survived its timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too: it only waits to be reaped
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_failure_skips_dependents_only(catalog):
    plan = parse_plan('1. fail("no such contact")\n2. echo("$1")\n3. echo("$2")\n4. echo("independent")\n5. join()',
                      catalog)
    results = run_plan(plan, catalog, _settings())
    assert results[1].status == "failed" and results[1].error == "no such contact"
    assert [results[i].status for i in (2, 3, 4)] == ["skipped", "skipped", "done"]
    answer = join(plan, results)
    assert not answer.ok
    assert "fail failed: no such contact" in answer.text
    assert answer.failures == ('1. fail("no such contact") failed: no such contact',)


def test_tasks_start_while_the_plan_is_still_arriving(catalog):
    """A streamed plan: task 1 runs before task 2 has even been parsed."""
    started: dict[int, float] = {}

    async def scenario() -> dict:
        parser = StreamingParser(catalog)
        loop = asyncio.get_running_loop()

        async def stream():
            for chunk in ['1. echo("first")\n', '2. sleep(0, "sec', 'ond")\n', "3. join()\n"]:
                for task in parser.feed(chunk):
                    yield task
                await asyncio.sleep(0.3)
            for task in parser.finish():
                yield task

        executor = Executor(catalog, _settings(),
                            on_update=lambda i: started.setdefault(i, loop.time()))
        t0 = loop.time()
        results = await executor.run(stream())
        return {"t0": t0, "results": results}

    out = asyncio.run(scenario())
    assert out["results"][1].status == "done"
    assert started[1] - out["t0"] < 0.2
    assert started[2] - out["t0"] >= 0.3


def test_side_effects_wait_for_the_gate_and_decline_cleanly(catalog, tmp_path):
    target = tmp_path / "out.txt"
    plan = parse_plan(f'1. echo("read")\n2. write("{target}", "$1")\n3. join()', catalog)

    async def scenario(answer: bool):
        gate = asyncio.get_running_loop().create_future()
        executor = Executor(catalog, _settings(), gate=gate)
        running = asyncio.create_task(executor.run(plan.tasks))
        await asyncio.sleep(0.2)
        assert executor.status[1] == "done"  # read-only work did not wait
        assert not target.exists()
        gate.set_result(answer)
        return await running

    declined = asyncio.run(scenario(False))
    assert declined[2].status == "declined" and not target.exists()
    approved = asyncio.run(scenario(True))
    assert approved[2].status == "done" and target.read_text() == "read\n"


def test_substitute_leaves_other_dollars_alone():
    assert substitute(["$1", "cost $", "${2}x"], {1: "a", 2: "b"}) == ["a", "cost $", "bx"]
    assert substitute("I owe $$20, $$$1 and $$1", {1: "Sam"}) == "I owe $20, $Sam and $1"


def test_a_macos_task_waits_past_osascripts_own_limit(home):
    """A first call can sit on macOS's permission dialog: osascript's limit, with its message
    about that dialog, must come before the executor's plain "timed out"."""
    write_config(home, "timeout: 30\nosascript_timeout: 90\n")
    mac = Settings.load(backend="macos")
    assert Executor(load_catalog(mac), mac).timeout > 90
    portable = Settings.load(backend="portable")
    assert Executor(load_catalog(portable), portable).timeout == 30
