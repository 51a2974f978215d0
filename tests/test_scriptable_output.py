"""Output scripts read: `run -q` piped prints its run folder alone (a long path unbroken), and --format json, csv,
md give the same tables as the terminal's, parseable and plain."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    deep = tmp_path_factory.mktemp("out") / ("a-rather-long-folder-name-for-the-results-" * 3) / "and-deeper"
    env = {**os.environ, "COLUMNS": "80"}
    res = subprocess.run([sys.executable, "-m", "mobeval", "run", "--limit", "3", "--orderings", "cyclic",
                          "--output-dir", str(deep), "-q"], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    # piped: exactly the folder and a newline, however long (rich would wrap it at 80 columns)
    assert res.stdout.count("\n") == 1 and res.stdout.endswith("\n")
    path = Path(res.stdout[:-1])
    assert len(str(path)) > 80 and path.parent == deep and (path / "result.json").is_file()
    return path


def _invoke(*args: str) -> str:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    return res.output


def test_report_json_is_the_checked_result(run_dir):
    data = json.loads(_invoke("report", str(run_dir), "--format", "json"))
    on_disk = json.loads((run_dir / "result.json").read_text())
    assert {k: data[k] for k in on_disk if k != "provenance"} == {k: v for k, v in on_disk.items() if k != "provenance"}
    assert data["kind"] == "mcq" and data["data"]["n_items_selected"] == 3


def test_report_csv_and_md_hold_the_summary_rows(run_dir):
    result = json.loads((run_dir / "result.json").read_text())
    text = _invoke("report", str(run_dir), "--format", "csv")
    blocks = text.strip().split("\n\n")
    assert blocks[0].startswith("# Summary\n")
    rows = list(csv.reader(io.StringIO(blocks[0].split("\n", 1)[1])))
    assert rows[0] == ["figure", "value", "how"]
    by_name = {r[0]: r[1] for r in rows[1:]}
    assert by_name["accuracy, original order"] == f"{100 * result['task']['scores']['accuracy_original']:.1f}%"
    md = _invoke("report", str(run_dir), "--format", "md")
    assert "### Summary" in md and "| figure | value | how |" in md and "\x1b[" not in md


def test_compare_and_list_and_env_as_json(run_dir):
    tables = json.loads(_invoke("compare", str(run_dir), str(run_dir), "--format", "json"))
    assert tables[0]["title"] == "Runs side by side" and len(tables[0]["columns"]) == 3
    runners = json.loads(_invoke("list", "runners", "--format", "json"))[0]
    assert runners["columns"][:2] == ["runner", "tasks"]
    assert {"llama.cpp", "onnxruntime", "spectrum-torch", "hybrid"} <= {r[0] for r in runners["rows"]}
    benches = json.loads(_invoke("list", "benches", "--format", "json"))[0]
    assert "pip install 'mobeval[torchsig]'" in {r[0]: r[2] for r in benches["rows"]}["torchsig-wideband"]
    env = json.loads(_invoke("env", "--format", "json"))
    assert env["cpu_logical"] >= 1 and "energy_sources" in env
