"""Shared fixtures: an isolated TINYAGENT_HOME, the test pack, and a real CLI subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from typing import Any

import pytest

from tinyagent_cli.plan.tasks import Plan, TaskResult
from tinyagent_cli.settings import Settings
from tinyagent_cli.tools.spec import Catalog

REPO = Path(__file__).resolve().parent.parent
TESTPACK = Path(__file__).resolve().parent / "testpack"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TINYAGENT_HOME: config/, data/ and cache/ all live under it."""
    root = tmp_path / "home"
    (root / "config").mkdir(parents=True)
    monkeypatch.setenv("TINYAGENT_HOME", str(root))
    # khal's, todoman's and khard's configs are looked for here: never the real person's
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "xdg"))
    for var in ("TINYAGENT_MODEL", "TINYAGENT_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.fixture
def testpack(home: Path) -> Path:
    """Installs the test pack (echo, sleep, fail, hang, write) as a user pack."""
    target = home / "config" / "toolpacks" / "testpack"
    shutil.copytree(TESTPACK, target)
    return target


def reuse_cache(cache: Path, home: Path) -> None:
    """Give ``home`` the ToolRAG another home fitted, if it fitted one: with the shipped
    packs alone the shipped fit is loaded and nothing is cached."""
    if cache.is_dir():
        shutil.copytree(cache, home / "cache", dirs_exist_ok=True)


def write_config(home: Path, text: str) -> None:
    (home / "config" / "config.yaml").write_text(text, encoding="utf-8")


def run_cli(home: Path, *args: str, input: str | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``tinyagent`` as a real subprocess without a TTY (stdin is a pipe)."""
    full_env = {**os.environ, "TINYAGENT_HOME": str(home), "COLUMNS": "200", **(env or {})}
    full_env.pop("TINYAGENT_MODEL", None)
    full_env.pop("TINYAGENT_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "tinyagent_cli", *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )


def run_plan(plan: Plan, catalog: Catalog, settings: Settings, **kwargs: Any) -> dict[int, TaskResult]:
    """Execute a complete plan as if confirmed: the executor without a turn around it."""
    import asyncio

    from tinyagent_cli.plan.executor import Executor

    return asyncio.run(Executor(catalog, settings, **kwargs).run(plan.tasks))


def use_local_server(home: Path, url: str) -> None:
    """A planner named "local": an OpenAI-compatible server on loopback (tests/test_openai_compat's
    ``server`` fixture), which answers with the plan a test gave it."""
    (home / "config" / "models.yaml").write_text(
        "models:\n  - name: local\n    description: a server on loopback that writes a fixed plan\n"
        "    backend: openai_compatible\n"
        f"    source: {{base_url: '{url}', model: planner}}\n"
        "    license: test\n    n_ctx: 4096\n    prompt_style: completion\n",
        encoding="utf-8",
    )
