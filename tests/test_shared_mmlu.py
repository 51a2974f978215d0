"""End to end on the real MMLU subset in ../shared (skipped where it is absent)."""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from tests.conftest import SHARED_MMLU

pytestmark = pytest.mark.skipif(not SHARED_MMLU.is_dir(), reason=f"{SHARED_MMLU} not present")


def _independent():
    path = Path(__file__).resolve().parents[1] / "bench" / "independent_accuracy.py"
    spec = importlib.util.spec_from_file_location("independent_accuracy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mmlu_accuracy_matches_an_independent_calculation(tmp_path):
    res = CliRunner().invoke(app, ["run", "--model", "smollm2-135m", "--bench", "mmlu", "--data", str(SHARED_MMLU),
                                   "--limit", "16", "--orderings", "cyclic", "--output-dir", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output
    (run_dir,) = tmp_path.iterdir()
    mine = _independent().recompute(run_dir, SHARED_MMLU)
    scores = json.loads((run_dir / "result.json").read_text())["task"]["scores"]
    assert mine["questions"] == scores["n_questions"] == 16
    for name in ("accuracy_original", "accuracy_mean", "accuracy_strict"):
        assert scores[name] == pytest.approx(mine[name])
    # the stratified sample covers all 8 subjects of the subset
    fields = json.loads((run_dir / "result.json").read_text())["task"]["per_field"]
    assert len(fields) == 8
