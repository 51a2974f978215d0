"""result.json's `metrics` list: the kind's headline figures in one shape for every kind, multiple-choice accuracy
with its Wilson interval among them, equal to what the board and `mobeval.load` show; an edit of the list alone
is refused by every reader. Real runs of the bundled model and the bundled photographs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mobeval
from mobeval.cli import app
from mobeval.core.errors import MobevalError
from mobeval.measure.stats import wilson

cli = CliRunner()
FIELDS = {"name", "label", "value", "unit", "low", "high", "method", "n", "n_unit", "basis", "higher_is_better"}


def _run(tmp_path: Path, *args: str) -> Path:
    res = cli.invoke(app, ["run", *args, "--output-dir", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output
    return Path(res.stdout.strip())


def test_multiple_choice_accuracy_is_written_with_its_interval(tmp_path):
    run = _run(tmp_path, "--limit", "8", "--orderings", "original")
    result = json.loads((run / "result.json").read_text())
    metrics = {m["name"]: m for m in result["metrics"]}
    # consistency is n/a under one ordering, so it is not listed
    assert set(metrics) == {"accuracy"} and all(set(m) == FIELDS for m in metrics.values())
    acc, scores = metrics["accuracy"], result["task"]["scores"]
    assert acc["value"] == scores["accuracy_original"] and acc["basis"] == "original"  # one ordering: no debiasing
    assert acc["n"] == scores["n_keyed"] == 8 and acc["n_unit"] == "questions" and acc["method"] == "wilson"
    assert (acc["low"], acc["high"]) == pytest.approx(wilson(acc["value"], 8))
    loaded = {m.name: m for m in mobeval.load(run).metrics}
    assert loaded["accuracy"].low == acc["low"] and loaded["accuracy"].high == acc["high"]


def test_every_kind_has_the_same_shape(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")
    run = _run(tmp_path, "--task", "image-classification", "--threads", "1")
    metrics = json.loads((run / "result.json").read_text())["metrics"]
    assert [m["name"] for m in metrics] == ["top1", "top5"] and all(set(m) == FIELDS for m in metrics)
    assert all(m["n_unit"] == "images" and m["n"] == 5 and m["low"] <= m["value"] <= m["high"] for m in metrics)


def test_an_edited_metrics_list_is_refused(tmp_path):
    run = _run(tmp_path / "a", "--limit", "8", "--orderings", "original")
    edited = Path(shutil.copytree(run, tmp_path / "b" / run.name))
    result = json.loads((edited / "result.json").read_text())
    result["metrics"][0]["high"] = 0.999
    (edited / "result.json").write_text(json.dumps(result))
    res = cli.invoke(app, ["report", str(edited)])
    assert res.exit_code == 2 and "metrics list is not what its task section gives" in " ".join(res.output.split())
    with pytest.raises(MobevalError, match="metrics list"):
        mobeval.load(edited)
