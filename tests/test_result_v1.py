"""Run folders written before task kinds (result.json schema 1) still report, compare, submit and resume.

The fixture is a real run folder written by mobeval at commit b01182a (schema 1): SmolLM2-135M on three
bundled questions under cyclic orderings, copied as it was written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.results.schema import load_result

V1 = next((Path(__file__).parent / "fixtures" / "v1_run").iterdir())
cli = CliRunner()


def invoke(*args: str):
    return cli.invoke(app, list(args), env={"COLUMNS": "200"})


def test_the_fixture_is_schema_1():
    assert json.loads((V1 / "result.json").read_text())["schema_version"] == "mobeval.result/1"


def test_a_v1_result_is_read_as_a_v2_one():
    raw = json.loads((V1 / "result.json").read_text())
    r = load_result(V1 / "result.json")
    assert r.schema_version == "mobeval.result/2" and r.kind == "mcq"
    assert r.provenance.upgraded_from == "mobeval.result/1"
    assert r.task["scores"] == raw["scores"] and r.task["per_field"] == raw["per_field"]
    assert r.integrity is not None and r.integrity.samples_sha256 == raw["integrity"]["samples_sha256"]
    assert r.data["n_items_selected"] == raw["data"]["n_questions_selected"] == 3
    assert r.section().scores.n_questions == 3


def test_a_v1_folder_reports_and_submits(tmp_path):
    res = invoke("report", str(V1))
    assert res.exit_code == 0, res.output
    assert "accuracy, original order" in res.output and "mobeval.result/1" in res.output
    folder = Path(shutil.copytree(V1, tmp_path / V1.name))
    res = invoke("submit", str(folder))
    assert res.exit_code == 0 and "3 questions, valid" in res.output, res.output


def test_a_v1_run_compares_with_a_v2_run_of_the_same_settings(tmp_path):
    res = invoke("run", "--limit", "3", "--orderings", "cyclic", "--output-dir", str(tmp_path), "-q")
    assert res.exit_code == 0, res.output
    (v2,) = tmp_path.iterdir()
    assert json.loads((v2 / "result.json").read_text())["schema_version"] == "mobeval.result/2"
    res = invoke("compare", str(V1), str(v2))
    assert res.exit_code == 0, res.output
    assert "same choice as #1" in res.output and "100.0% of 3" in res.output


def test_a_killed_v1_run_resumes_under_this_mobeval(tmp_path):
    """Identity keys added since (kind) default to what an older folder meant: it continues."""
    folder = Path(shutil.copytree(V1, tmp_path / V1.name))
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    (folder / "samples.jsonl").write_text("".join(lines[:4]))  # the first question's 4 orderings
    (folder / "result.json").unlink()
    res = invoke("run", "--limit", "3", "--orderings", "cyclic", "--output-dir", str(tmp_path), "--resume",
                 "--run-dir", str(folder), "-q")
    assert res.exit_code == 0, res.output
    result = json.loads((folder / "result.json").read_text())
    assert result["schema_version"] == "mobeval.result/2" and result["task"]["scores"]["n_questions"] == 3
