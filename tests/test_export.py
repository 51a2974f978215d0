"""`mobeval export` on a real run of the bundled model: lm-evaluation-harness's results layout with the
figures result.json holds, the long table of every figure with its unit and interval, the per-item table
of samples.jsonl, MLflow (a real file store, read back with MLflow's own client), and the refusals."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app

cli = CliRunner()


def invoke(*args: str):
    res = cli.invoke(app, list(args), env={"COLUMNS": "80"})
    assert "Traceback" not in res.output, res.output
    return res


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    res = invoke("run", "--limit", "8", "--orderings", "cyclic", "--output-dir", str(out), "-q")
    assert res.exit_code == 0, res.output
    return Path(res.output.strip())


def test_lm_eval_layout_holds_the_runs_own_figures(run):
    res = invoke("export", str(run), "--to", "lm-eval")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    result = json.loads((run / "result.json").read_text())
    scores, bench = result["task"]["scores"], result["data"]["bench"]
    block = doc["results"][bench]
    p, n = scores["accuracy_original"], scores["n_keyed"]
    assert block["acc,none"] == p  # lm-eval's acc: the options in their original order
    assert block["acc_stderr,none"] == pytest.approx(math.sqrt(p * (1 - p) / (n - 1)))
    assert block["accuracy,none"] == scores["accuracy_debiased"]  # mobeval's headline, under its own name
    assert block["consistency,none"] == scores["consistency"]
    assert doc["n-samples"][bench] == {"original": 8, "effective": 8}
    assert doc["higher_is_better"][bench]["acc"] is True and doc["n-shot"][bench] == result["config"]["shots"]
    interval = doc["mobeval"]["intervals"]["acc"]
    assert interval["method"] == "wilson" and interval["low"] <= p <= interval["high"]
    assert doc["config"]["model_args"].startswith("pretrained=") and doc["mobeval"]["run"] == str(run)


def test_lm_evaluation_harness_reads_the_export_with_its_own_code(run):
    """lm-eval's make_table (what its CLI prints results with) renders the file: each figure, its stderr."""
    pytest.importorskip("lm_eval", reason="lm-evaluation-harness (in the test extra)")
    from lm_eval.utils import make_table

    doc = json.loads(invoke("export", str(run), "--to", "lm-eval").output)
    bench = json.loads((run / "result.json").read_text())["data"]["bench"]
    block = doc["results"][bench]
    table = make_table(doc)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    acc = next(r for r in rows if r[4] == "acc")
    # pytablewriter, which lm-eval writes with, may shorten the digits of a column ("0.00"): compare numbers
    assert float(acc[6]) == pytest.approx(block["acc,none"], abs=1e-4)
    assert float(acc[8]) == pytest.approx(block["acc_stderr,none"], abs=1e-4) and acc[7] == "±"
    assert acc[5] == "↑" and acc[3] == str(doc["n-shot"][bench])
    assert {r[4] for r in rows} >= {"acc", "accuracy", "consistency"}


def test_the_long_table_has_every_figure_with_its_unit_and_interval(run, tmp_path):
    out = tmp_path / "figures.csv"
    res = invoke("export", str(run), str(run), "--to", "csv", "--output", str(out))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) % 2 == 0 and rows[: len(rows) // 2] == rows[len(rows) // 2:]  # the run twice
    by = {r["metric"]: r for r in rows[: len(rows) // 2]}
    acc = by["accuracy"]
    assert acc["unit"] == "fraction" and float(acc["ci_low"]) <= float(acc["value"]) <= float(acc["ci_high"])
    assert acc["ci_method"] == "wilson" and acc["source"] == "task"
    result = json.loads((run / "result.json").read_text())
    for key, fig in result["performance"].items():
        assert float(by[key]["value"]) == pytest.approx(float(fig["value"])) and by[key]["unit"] == fig["unit"]
    lines = invoke("export", str(run), "--to", "jsonl").output.splitlines()
    assert [json.loads(line)["metric"] for line in lines] == [r["metric"] for r in rows[: len(rows) // 2]]


def test_items_csv_is_the_samples_a_row_each(run):
    res = invoke("export", str(run), "--to", "items-csv")
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.output)))
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == len(samples) == 32  # 8 questions x 4 cyclic orderings
    assert [r["item_id"] for r in rows] == [s["question_id"] for s in samples]
    assert [json.loads(r["order"]) for r in rows] == [s["order"] for s in samples]  # lists as JSON, not Python


def test_an_edited_or_unknown_export_is_refused(run, tmp_path):
    edited = Path(shutil.copytree(run, tmp_path / run.name))
    result = json.loads((edited / "result.json").read_text())
    result["task"]["scores"]["accuracy_original"] = 0.99
    (edited / "result.json").write_text(json.dumps(result))
    res = invoke("export", str(edited), "--to", "lm-eval")
    assert res.exit_code == 2 and "result.json was edited" in " ".join(res.output.split())
    res = invoke("export", str(run), "--to", "parquet")
    assert res.exit_code == 2 and "one of lm-eval, csv, jsonl, items-csv, mlflow" in res.output
    res = invoke("export", str(run), str(run), "--to", "lm-eval")
    assert res.exit_code == 2 and "one run at a time" in res.output


def test_mlflow_gets_the_figures_and_the_result_file(run, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    res = invoke("export", str(run), "--to", "mlflow", "--tracking-uri", uri, "--experiment", "t")
    if "MLFLOW_ALLOW_FILE_STORE" in res.output:  # MLflow 3 keeps its file store behind a switch: said, not a traceback
        assert res.exit_code == 2 and "MLflow refused" in res.output
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        res = invoke("export", str(run), "--to", "mlflow", "--tracking-uri", uri, "--experiment", "t")
    assert res.exit_code == 0, res.output
    path, run_id = res.stdout.strip().split("\t")  # stdout: the line for scripts (MLflow logs to stderr)
    assert path == str(run)
    got = MlflowClient(tracking_uri=uri).get_run(run_id)
    result = json.loads((run / "result.json").read_text())
    assert got.data.metrics["accuracy"] == pytest.approx(result["task"]["scores"]["accuracy_debiased"])
    assert "accuracy_ci_low" in got.data.metrics and got.data.params["kind"] == "mcq"
    artifacts = [a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id)]
    assert "result.json" in artifacts
