"""`doctor`, `models list` and `history` wherever they are printed: one tab-separated
line per row through a pipe, one block per row on a narrow terminal, a table on a wide one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tinyagent_cli.commands.doctor import doctor_command
from tinyagent_cli.commands.history_cmds import list_command as history_list
from tinyagent_cli.commands.models import list_command as models_list
from tinyagent_cli.history import HistoryLog, RunRecord
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import load_catalog
from tinyagent_cli.ui.listing import NARROW

from .conftest import run_cli

QUERIES = ["remind me to buy milk", "a request\nof two lines\twith a tab", "[bold]not markup[/bold]"]


def log_runs(settings: Settings) -> None:
    log = HistoryLog.for_settings(settings)
    for n, query in enumerate(QUERIES):
        log.record(RunRecord(query=query, model="gemma3-270m", backend="portable", confirmation="yes",
                             plan='1. create_note("a", "b", "")\n2. join()', exit_code=0, edited=n == 1,
                             timings={"total_s": 1.5}))


def rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_through_a_pipe_each_row_is_one_line_of_tab_separated_cells(home: Path) -> None:
    doctor = run_cli(home, "doctor", "--backend", "portable")
    checks = json.loads(run_cli(home, "doctor", "--backend", "portable", "--json").stdout)["checks"]
    assert [line[:2] for line in rows(doctor.stdout)] == [[c["name"], c["status"].upper() if c["status"] == "fail"
                                                           else c["status"]] for c in checks]
    assert {len(line) for line in rows(doctor.stdout)} == {4}  # check, status, detail, how to fix
    assert doctor.returncode == 0 and "No check failed" not in doctor.stdout  # rows only; the exit code says it

    models = run_cli(home, "models", "list")
    names = [m["name"] for m in json.loads(run_cli(home, "models", "list", "--json").stdout)]
    assert models.returncode == 0 and [line[0] for line in rows(models.stdout)] == names
    assert {len(line) for line in rows(models.stdout)} == {8}  # name, kind, backend, base, installed, size, default, where
    assert ["gemma3-270m", "planner", "llama_cpp"] == rows(models.stdout)[0][:3]

    log_runs(Settings.load())
    history = run_cli(home, "history")
    assert [line[2] for line in rows(history.stdout)] == [
        "[bold]not markup[/bold]", "a request of two lines with a tab", "remind me to buy milk"]
    assert [line[3] for line in rows(history.stdout)] == ["create_note", "create_note (edited)", "create_note"]
    assert {len(line) for line in rows(history.stdout)} == {6}


def terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None), out


def test_a_narrow_terminal_gets_a_block_per_row_and_home_as_tilde(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(home.parent))  # the data folder is under "home", so shown as ~/home/...
    settings = Settings.load(backend="portable")
    log_runs(settings)
    console, out = terminal(80)
    doctor_command(settings, load_catalog(settings), console, False)
    models_list(settings, console)
    history_list(settings, console)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "│" not in out.getvalue() and "━" not in out.getvalue()
    starts = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert {"backend", "toolpacks", "portable.notes_dir", "texting", "zoom", "gemma3-270m", "whisper-tiny.en"} <= set(starts)
    notes = lines[lines.index(next(line for line in lines if line.startswith("portable.notes_dir"))) + 1]
    assert notes.strip().startswith("~/home/data/notes") and str(home) not in out.getvalue()
    assert "    how to fix: import contacts with `tinyagent contacts import FILE.vcf`" in lines
    assert "    a request of two lines with a tab" in lines  # a list shows each request on one line
    assert "    tools: create_note (edited)" in lines  # the second long cell is labelled


def test_a_wide_terminal_keeps_the_table(home: Path) -> None:
    settings = Settings.load(backend="portable")
    console, out = terminal(NARROW + 20)
    doctor_command(settings, load_catalog(settings), console, False)
    models_list(settings, console)
    text = out.getvalue()
    assert text.splitlines()[0].split() == ["check", "status", "detail", "how", "to", "fix"]
    assert "name  " in text and "where" in text and "No check failed." in text
