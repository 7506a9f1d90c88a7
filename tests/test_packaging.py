"""A non-editable install finds the shipped toolpacks and models.yaml inside the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import REPO


def test_wheel_ships_toolpacks_and_models_and_works_installed(tmp_path: Path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
         str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("tinyagent_cli-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tinyagent_cli/toolpacks/tinyagent/pack.yaml" in names
    assert "tinyagent_cli/toolpacks/tinyagent/examples.jsonl" in names
    assert "tinyagent_cli/models.yaml" in names
    assert "tinyagent_cli/adapters/gemma3-270m-planner.gguf" in names
    assert "tinyagent_cli/planners/formats/tinyagent.yaml" in names  # TinyAgent's prompt format, as data

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target), "TINYAGENT_HOME": str(tmp_path / "home")}
    # run from an unrelated folder so nothing can come from the source tree
    out = subprocess.run([sys.executable, "-m", "tinyagent_cli", "tools", "list", "--json", "--backend", "macos"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["tools"]) == 16
    # the trained planner's adapter is found inside the installed package, beside models.yaml
    models = subprocess.run([sys.executable, "-m", "tinyagent_cli", "models", "list", "--json"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    planner = next(row for row in json.loads(models.stdout) if row["name"] == "gemma3-270m-planner")
    assert planner["base"] == "gemma3-270m"
    assert planner["where"].endswith(f"adapter {target / 'tinyagent_cli' / 'adapters' / 'gemma3-270m-planner.gguf'}")
    where = subprocess.run([sys.executable, "-c", "import tinyagent_cli; print(tinyagent_cli.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(target))
