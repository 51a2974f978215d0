"""`mobeval run` on the spectrum-segmentation kind, end to end through the CLI: real captures from the
generator (and the same captures written as files, paper layout and SigMF) through the real energy
detector; the result (schema 2), its figures with units and intervals, the report, resume after a
kill, `mobeval compare` and the agreement of predicted masks, and the errors a mismatched run gets."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.spectrum.benchmarks import capture_io
from mobeval.spectrum.benchmarks.files import files_set
from mobeval.spectrum.benchmarks.generate import (
    SNR_LEVELS_DB, CaptureKey, Recipe, TrainingRecord, generate_capture, refuse_training_overlap,
)
from mobeval.spectrum.benchmarks.synthetic import TEST_SEED, recipe_sha256, synthetic_set
from mobeval.cli import app
from mobeval.core.errors import DataError
from mobeval.results.integrity import check_run
from mobeval.spectrum.runners.energy_detector import EnergyDetector
from mobeval.spectrum.task.items import Capture
from mobeval.spectrum.task.kind import mask_agreement
from mobeval.spectrum.task.metrics import TABLE_COLUMNS, score_capture
from mobeval.spectrum.task.record import SpectrumRecord

cli = CliRunner()
LIMIT = 17  # one capture of each of the 16 SNR levels and one of empty spectrum (stratified)
GROUPS = [f"{lv:g}" for lv in SNR_LEVELS_DB] + ["empty"]


def run_ok(*args: str):
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})  # rows of the report on one line each
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def refused(*args: str, code: int = 2) -> str:
    """The command's error; exit 2 for usage, 1 for a run that failed on its data, model or runtime."""
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return " ".join(res.output.split())


def lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("spectrum-run")
    res = run_ok("run", "--task", "spectrum-segmentation", "--runner", "energy-detector", "--limit", str(LIMIT),
                 "--output-dir", str(out))
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder, " ".join(res.output.split())


def test_the_result_has_figures_per_snr_with_units_and_intervals(run):
    folder, _ = run
    assert folder.name.startswith("energy-detector__synthetic-spectrum__")
    r = json.loads((folder / "result.json").read_text())
    assert r["schema_version"] == "mobeval.result/2" and r["kind"] == "spectrum-segmentation"
    assert r["status"] == "complete" and r["data"]["n_items_selected"] == LIMIT and r["data"]["n_items_total"] == 90
    task = r["task"]
    assert list(task["per_snr"]) == GROUPS  # stratified: every level once, SNR ascending, then empty
    assert all(g["n_captures"] == 1 for g in task["per_snr"].values())
    overall = task["overall"]["figures"]
    for key in ("bin_accuracy", "bin_f1", "mean_iou", "recall_at_iou_0.5", "recall_at_iou_0.9", "false_alarm_rate"):
        e = overall[key]
        assert e["unit"] == "fraction" and e["n"] > 0 and e["ci_method"] in ("bootstrap", "wilson"), key
        assert e["ci_low"] <= e["value"] <= e["ci_high"], key
    assert overall["false_alarm_rate"]["n_unit"] == "captures" and overall["false_alarm_rate"]["ci_method"] == "wilson"
    assert overall["mean_iou"]["n_unit"] == "signals" and overall["bin_f1"]["n"] == LIMIT * 16384
    assert "false_alarm_rate" in task["per_snr"]["empty"]["figures"]
    assert "mean_iou" not in task["per_snr"]["empty"]["figures"]
    assert task["metric_settings"]["threshold"] == 0.5 and task["metric_settings"]["widen_bins"] == 0

    perf = r["performance"]
    assert perf["inference_latency_p50"]["unit"] == "s" and perf["inference_latency_p50"]["count"] == LIMIT - 1
    assert perf["latency_valid"]["value"] == 0.0 and f"{LIMIT - 1} measured captures < 50" in perf["latency_valid"]["note"]
    assert perf["captures_per_s"]["unit"] == "captures/s" and perf["capture_load_latency_p50"]["value"] > 0
    assert r["model"]["format"] == "no model file" and r["model"]["trained"] is False and len(r["model"]["sha256"]) == 64
    g = r["data"]["generator"]
    assert (g["version"], g["seed"], g["split"]) == (1, TEST_SEED, "test")
    assert g["recipe_sha256"] == recipe_sha256(Recipe()) == r["provenance"]["hashes"]["recipe_sha256"]
    assert r["runner"]["name"] == "energy-detector" and r["runner"]["settings"]["false_alarm_per_bin"] == 1e-5


def test_the_figures_are_the_records_and_the_records_are_the_captures(run):
    """Mean IoU is the mean over every true signal of the file's IoUs (no capture skipped), and a record
    is what the detector gives on the capture its id names, made again here."""
    folder, _ = run
    recs = lines(folder)
    ious = [x for rec in recs for x in rec["signal_ious"]]
    assert len(ious) == sum(rec["n_signals"] for rec in recs)
    overall = json.loads((folder / "result.json").read_text())["task"]["overall"]["figures"]
    assert overall["mean_iou"]["value"] == pytest.approx(np.mean(ious))
    assert overall["recall_at_iou_0.5"]["value"] == pytest.approx(np.mean([x >= 0.5 for x in ious]))
    rec = next(x for x in recs if x["snr_level_db"] == 0.0)
    capture = generate_capture(CaptureKey.parse(rec["capture_id"]))
    s = score_capture(capture, EnergyDetector().scores(capture))
    assert (rec["tp"], rec["fp"], rec["tn"], rec["fn"]) == (s.tp, s.fp, s.tn, s.fn)
    assert tuple(rec["signal_ious"]) == s.signal_ious and rec["n_signals"] == len(capture.signals)
    assert sum(b - a for a, b in rec["predicted_runs"]) == s.predicted_bins


def test_the_report_shows_the_figures_and_the_per_snr_table(run):
    folder, output = run
    for shown in ("mean IoU per signal", "recall at IoU 0.5", "bin F1", "false-alarm rate",
                  "latency per capture p50 / p90 / p99", "Per SNR level", "generator v1, seed 14, split test",
                  "energy-detector (no model file"):
        assert shown in output, shown
    assert "Per SNR level" in run_ok("report", str(folder)).output
    with open(folder / "snr_table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == TABLE_COLUMNS
    assert {r["snr_db"] for r in rows} == {*GROUPS, "all"}
    assert {r["figure"] for r in rows if r["snr_db"] == "-20"} >= {"bin_f1", "mean_iou", "recall_at_iou_0.5"}


def test_a_killed_run_resumes_to_the_same_figures(run, tmp_path):
    folder, _ = run
    copy = Path(shutil.copytree(folder, tmp_path / "out" / folder.name))
    text = (copy / "samples.jsonl").read_text().splitlines(keepends=True)
    (copy / "samples.jsonl").write_text("".join(text[:5]) + text[5][:60])  # killed mid-write
    (copy / "result.json").unlink()
    (copy / "snr_table.csv").unlink()
    run_ok("run", "--task", "spectrum-segmentation", "--runner", "energy-detector", "--limit", str(LIMIT),
           "--output-dir", str(tmp_path / "out"), "--resume")
    before, after = (json.loads((p / "result.json").read_text()) for p in (folder, copy))
    assert after["status"] == "complete" and len(lines(copy)) == LIMIT
    resumed = json.loads((copy / "segments.jsonl").read_text().splitlines()[-1])
    assert resumed["questions"] == LIMIT - 5  # the five whole captures kept, the torn one done again
    assert after["task"] == before["task"]  # generation, detector and bootstrap are all deterministic
    assert (copy / "snr_table.csv").read_text() == (folder / "snr_table.csv").read_text()

    res = run_ok("compare", str(folder), str(copy))
    shown = " ".join(res.output.split())
    assert "bins predicted differently vs #1" in shown and f"0.00% of {LIMIT * 16384:,} bins ({LIMIT} captures)" in shown
    assert re.search(r"predicted-mask IoU vs #1 \(mean\) │ — │ 1\.000 │", shown), shown
    # the per-SNR table: each group's per-bin accuracy of both runs, and the difference (0 for a resumed copy)
    assert "Per SNR level of the weakest signal" in shown
    for group, figs in before["task"]["per_snr"].items():
        acc = 100 * figs["figures"]["bin_accuracy"]["value"]
        assert re.search(rf"│ {re.escape(group)} │ {acc:.1f} .*? │ {acc:.1f} .*? │ \+0\.0 │", shown), (group, shown)


def _record(cid: str, runs: tuple, n_bins: int = 20) -> SpectrumRecord:
    return SpectrumRecord(cid, 0.0, 1, 0, 0, n_bins, 0, (0.0,), runs, n_bins, 0.5, 0, 0.0, 0.0, 0.0)


def test_mask_agreement_on_a_hand_computed_case():
    """Capture a: bins 2-5 against 4-7 differ on 2, 3, 6, 7 (4 of 20), IoU 2/6. Capture b: neither predicts a
    bin: no difference, IoU 1 by definition. Capture c is in one run only: not counted."""
    ref = [_record("a", ((2, 6),)), _record("b", ()), _record("c", ((0, 20),))]
    other = [_record("b", ()), _record("a", ((4, 8),))]
    a = mask_agreement(ref, other)
    assert (a.n, a.n_bins) == (2, 40)
    assert a.bins_differ == pytest.approx(4 / 40) and a.mean_mask_iou == pytest.approx((2 / 6 + 1) / 2)
    assert mask_agreement(ref, [_record("z", ())]) is None


def test_capture_files_give_the_records_of_the_generated_captures(run, tmp_path):
    """The same captures written as files (paper layout with a manifest; SigMF found without one) and read
    back through --bench spectrum-captures are scored exactly as when generated."""
    folder, _ = run
    generated = {x["capture_id"]: x for x in lines(folder)}
    ids = [i for i in generated if "snr-20" in i or "snr+10" in i or "empty" in i]
    captures = [generate_capture(CaptureKey.parse(i)) for i in ids]
    capture_io.write_dataset(captures, tmp_path / "paper", "paper")
    for c in captures:
        capture_io.write_sigmf(c, tmp_path / "sigmf" / c.id)
    for layout in ("paper", "sigmf"):
        out = tmp_path / f"out-{layout}"
        run_ok("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", str(tmp_path / layout), "--output-dir", str(out))
        (got,) = out.iterdir()
        for x in lines(got):
            want = generated[x["capture_id"]]
            keys = ("snr_level_db", "n_signals", "tp", "fp", "tn", "fn", "signal_ious", "predicted_runs")
            assert {k: x[k] for k in keys} == {k: want[k] for k in keys}, (layout, x["capture_id"])
        r = json.loads((got / "result.json").read_text())
        assert list(r["task"]["per_snr"]) == ["-20", "10", "empty"] and r["data"]["formats"] == [layout]


def test_a_recording_without_an_snr_level_counts_as_unknown_not_empty(tmp_path):
    """A SigMF recording with signals but no mobeval:snr_level_db: its own 'unknown' group, no false alarms."""
    c = generate_capture(CaptureKey(TEST_SEED, "test", 6, 0))
    meta_path = capture_io.write_sigmf(c, tmp_path / "rec" / "recording")
    meta = json.loads(meta_path.read_text())
    del meta["global"]["mobeval:snr_level_db"]
    meta_path.write_text(json.dumps(meta))
    run_ok("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", str(tmp_path / "rec"), "--output-dir", str(tmp_path / "o"))
    (folder,) = (tmp_path / "o").iterdir()
    task = json.loads((folder / "result.json").read_text())["task"]
    assert list(task["per_snr"]) == ["unknown"] and task["n_empty"] == 0
    assert task["per_snr"]["unknown"]["n_signals"] == len(c.signals)
    assert "false_alarm_rate" not in task["overall"]["figures"] and "mean_iou" in task["overall"]["figures"]


def test_a_truncated_capture_file_is_an_error_naming_it(tmp_path):
    c = generate_capture(CaptureKey(TEST_SEED, "test", 4, 0))
    capture_io.write_dataset([c], tmp_path / "data", "paper")
    data = tmp_path / "data" / c.id / "data.dat"
    data.write_bytes(data.read_bytes()[:-3])
    out = refused("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", str(tmp_path / "data"),
                  "--output-dir", str(tmp_path / "out"), code=1)
    assert f"{data}:" in out and "not a whole number of 16-byte samples (truncated?)" in out


def test_a_capture_too_short_for_the_detector_is_an_error_naming_it(tmp_path):
    c = generate_capture(CaptureKey(TEST_SEED, "test", 4, 0))
    short = Capture("short", c.iq[:10_000], c.sample_rate_hz, c.centre_freq_hz, c.signals, c.noise_power,
                    c.snr_level_db, dict(c.source))
    capture_io.write_paper_capture(short, tmp_path / "data" / "short")
    out = refused("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", str(tmp_path / "data"),
                  "--output-dir", str(tmp_path / "out"), code=1)
    assert f"capture short ({tmp_path / 'data' / 'short'}): the energy detector reads 16384 samples; " \
           "the capture has 10000" in out


def test_an_empty_folder_is_an_error_naming_it(tmp_path):
    out = refused("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", str(tmp_path),
                  "--output-dir", str(tmp_path / "o"), code=1)
    assert f"--data {tmp_path}: no captures found" in out


def test_captures_a_model_was_trained_on_are_refused(tmp_path):
    """The plan's capture index carries what refuse_training_overlap reads, for generated captures and
    for files written from a generated split."""
    refs = synthetic_set(per_level=1, empty=1).refs
    refuse_training_overlap(refs, TrainingRecord(1, TEST_SEED))  # trained on train + validation: fine
    with pytest.raises(DataError, match="17 capture\\(s\\) were used to train this model"):
        refuse_training_overlap(refs, TrainingRecord(1, TEST_SEED, splits=("train", "validation", "test")))
    trained = generate_capture(CaptureKey(TEST_SEED, "train", 0, 0))
    capture_io.write_dataset([trained], tmp_path / "d", "sigmf")
    with pytest.raises(DataError, match=re.escape(f"first: {trained.id})")):
        refuse_training_overlap(files_set(tmp_path / "d").refs, TrainingRecord(1, TEST_SEED))


@pytest.mark.parametrize("args,says", [
    (["--task", "mcq", "--runner", "energy-detector"],
     "runner energy-detector does not serve mcq tasks (it serves: spectrum-segmentation)"),
    (["--task", "spectrum-segmentation", "--runner", "onnxruntime"],
     ("runner onnxruntime does not serve spectrum-segmentation tasks (it serves: image-classification); "
      "for spectrum-segmentation use --runner energy-detector or spectrum-torch or spectrum-onnxruntime")),
    (["--task", "spectrum-segmentation", "--runner", "energy-detector", "--model", "efficientnet-lite0"],
     "--model efficientnet-lite0: runner energy-detector has no model file"),
    (["--task", "vlm", "--batch-sizes", "1"], "--batch-sizes: for image-classification and spectrum-segmentation tasks only"),
    (["--task", "spectrum-segmentation", "--runner", "energy-detector", "--threads", "2"],
     "runner energy-detector does not take: threads"),
    (["--bench", "synthetic-spectrum", "--data", "."],
     ("--data is not taken by benchmark synthetic-spectrum (it takes: no options); for a file of your own use "
      "--bench spectrum-captures --data DIR")),
    (["--bench", "spectrum-captures"], "benchmark spectrum-captures needs --data"),
    (["--task", "spectrum-segmentation", "--bench", "mmlu"], "--bench mmlu is a mcq benchmark, not spectrum-segmentation"),
])
def test_a_mismatched_run_is_refused_before_anything_is_written(tmp_path, args, says):
    out = refused("run", *args, "--output-dir", str(tmp_path / "out"))
    assert says in out, out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_folder_passes_the_integrity_check_and_an_edited_record_does_not(run, tmp_path):
    folder, _ = run
    c = check_run(folder)
    assert not c.problems and len(c.samples) == LIMIT and c.complete
    copy = Path(shutil.copytree(folder, tmp_path / folder.name))
    recs = lines(copy)
    recs[3]["tp"] += 1  # counts no longer add up to the bins
    (copy / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    problems = " ".join(check_run(copy).problems)
    assert "samples.jsonl line 4: tp+fp+tn+fn = 16385, not the 16384 bins" in problems
