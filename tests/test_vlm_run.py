"""`mobeval run --task vlm` end to end: the hybrid runner (EfficientNet-Lite0 on ONNX Runtime, the projector
trained here, SmolLM2-135M in llama.cpp) on the bundled handwritten digits, images it was not trained on;
the report, the result, the records, predictions.csv and compare."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra: efficientnet-lite-pytorch==0.1.0")

from mobeval.cli import app  # noqa: E402
from mobeval.results.schema import load_result  # noqa: E402
from tests.vlm_recount import assert_figures_recount  # noqa: E402

pytestmark = pytest.mark.slow  # 26 questions x orderings through the real model: ~1-3 min on 2 busy cores

cli = CliRunner()
LIMIT = 8


def run_ok(*args: str):
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("vlm-run")
    res = run_ok("run", "--task", "vlm", "--bench", "vlm-digits", "--runner", "hybrid", "--limit", str(LIMIT),
                 "--threads", "2", "--output-dir", str(out))
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder, res.output


def test_the_run_prints_accuracy_under_orderings_speed_memory_and_energy(run):
    _, output = run
    text = " ".join(output.split())
    for row in ("accuracy, original order", "accuracy, every ordering", "consistency", "position bias",
                "vision encode p50 / p90 / p99", "time to first token p50 / p90 / p99", "decode tokens/s",
                "prefill p50", "prompt tokens, mean", "peak RSS", "energy", "digits-clip", "on hybrid",
                f"bench vlm-digits: {LIMIT} of 200 questions"):
        assert row in text, row


def test_the_result_and_records(run):
    folder, _ = run
    r = load_result(folder / "result.json")
    s = r.task
    assert r.kind == "vlm" and r.status == "complete" and s["n_items"] == LIMIT
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    n_mc, n_open = s["n_multiple_choice"], s["n_open"]
    assert n_mc + n_open == LIMIT and len(records) == 4 * n_mc + n_open  # cyclic: 4 orderings of 4 options
    assert all(all(x is not None for x in (rec["encode_ms"], rec["prefill_ms"], rec["ttft_ms"], rec["prompt_tokens"]))
               for rec in records)
    assert all(rec["image_tokens"] and rec["prompt_tokens"] > rec["image_tokens"] for rec in records)
    assert all(rec["ttft_ms"] >= rec["encode_ms"] + rec["prefill_ms"] for rec in records)  # TTFT spans both
    mc = [rec for rec in records if rec["order"]]
    assert all(rec["logprobs"] is not None and len(rec["logprobs"]) == 4 for rec in mc)  # chosen by log-prob
    assert {rec["ordering"] for rec in mc} == {0, 1, 2, 3}
    for key in ("encode_p50", "ttft_p50", "prefill_p50", "prompt_tokens_mean"):
        assert r.performance[key].value > 0, key
    assert r.memory["peak_rss"].value > 0
    assert_figures_recount(folder)  # accuracy and exact match counted again from the records
    rows = list(csv.DictReader((folder / "predictions.csv").open(encoding="utf-8")))
    assert len(rows) == len(records)
