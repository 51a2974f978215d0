"""Plugins: the example package in examples/plugins/ installed for real (pip, into a folder of its own), seen by
`mobeval list runners` and run on the bundled set; without it on the path it is gone. Broken and clashing
plugins are lines in `mobeval list`, never a traceback, and other commands keep working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "mobeval-callable-runner"


def mobeval(*args: str, plugins: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("PYTHONPATH", None)
    if plugins is not None:
        env["PYTHONPATH"] = str(plugins)
    return subprocess.run([sys.executable, "-m", "mobeval", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("plugin-site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(EXAMPLE)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "mobeval_callable_runner").is_dir()
    return target


def test_installed_plugin_is_listed_with_its_package(installed):
    res = mobeval("list", "runners", plugins=installed)
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if line.strip("│ ").startswith("callable"))
    assert "mcq" in row and "mobeval-callable-runner" in row
    assert "left out" not in res.stderr


def test_uninstalled_plugin_is_gone():
    res = mobeval("list", "runners")
    assert res.returncode == 0, res.stderr
    assert not any(line.strip("│ ").startswith("callable") for line in res.stdout.splitlines())
    res = mobeval("run", "--runner", "callable", "--model", "x:y", "--limit", "2")
    assert res.returncode == 2 and "unknown runner 'callable'" in res.stderr and "Traceback" not in res.stderr


def test_plugin_runner_runs_the_bundled_set(installed, tmp_path):
    res = mobeval("run", "--runner", "callable", "--model", "mobeval_callable_runner.baselines:uniform",
                  "--orderings", "cyclic", "--output-dir", str(tmp_path), "-q", plugins=installed)
    assert res.returncode == 0, res.stderr
    run = Path(res.stdout.strip().splitlines()[-1])
    result = json.loads((run / "result.json").read_text())
    assert result["runner"]["name"] == "callable" and result["data"]["bench"] == "everyday-mobile"
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    questions = {s["question_id"] for s in samples}
    assert len(questions) == result["data"]["n_items_selected"] > 0
    # the uniform scorer ties every option, so the first position is chosen; under cyclic orderings each option
    # sits first once, so each keyed question is right under exactly one of its orderings: mean accuracy is chance
    assert all(s["choice"] == 0 for s in samples)
    n_options = {s["question_id"]: len(s["order"]) for s in samples}
    chance = sum(1 / n for n in n_options.values()) / len(n_options)
    assert result["task"]["scores"]["accuracy_mean"] == pytest.approx(chance)


def _fake_distribution(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_broken_and_clashing_plugins_are_reported_and_the_rest_works(installed, tmp_path):
    site = tmp_path / "site"
    _fake_distribution(site, "clashing-plugin", "[mobeval.runners]\nllama.cpp = mobeval_callable_runner.catalog:RUNNER\n")
    _fake_distribution(site, "broken-plugin", "[mobeval.runners]\nbroken = no_such_module_here:RUNNER\n"
                                              "[mobeval.benchmarks]\nwrong-type = mobeval_callable_runner.catalog:RUNNER\n")
    path = f"{site}{os.pathsep}{installed}"
    res = mobeval("list", "runners", plugins=Path(path))
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert "'llama.cpp' of package clashing-plugin: the name is taken by a built-in" in res.stderr
    assert "'broken' of package broken-plugin: no_such_module_here:RUNNER failed to import" in res.stderr
    row = next(line for line in res.stdout.splitlines() if line.strip("│ ").startswith("llama.cpp "))
    assert "mobeval " in row + " "  # the built-in is kept
    res = mobeval("list", "benches", plugins=Path(path))
    assert res.returncode == 0
    assert "'wrong-type' of package broken-plugin" in res.stderr and "not a mobeval.core.entries.BenchmarkEntry" in res.stderr
    res = mobeval("run", "--limit", "2", "--orderings", "original", "--output-dir", str(tmp_path / "out"), "-q",
                  plugins=Path(path))
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.strip().splitlines()[-1], "result.json").is_file()
