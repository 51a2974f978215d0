"""A VLM with an integer-quantized encoder: the run measures the encoder's SQNR on its own images and what
the quantization cost against the float encoder (paired, per item). Hand-computed pairing first, then the
real thing: digits-vlm's EfficientNet-Lite0 encoder quantized W8A16 by ONNX Runtime's quantizer, asked
held-out digits through the hybrid runner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mobeval.vlm.task.encoder_cost import outcome_costs


def test_pairing_on_a_hand_computed_case():
    # 3 items: a right in both, b right only quantized, c right only float -> equal accuracy, one flip
    # each way: McNemar's exact p = 1; predictions changed on b and c: 2/3
    flt = {"every ordering": {"a": (True, "x"), "b": (False, "y"), "c": (True, "z")}}
    qnt = {"every ordering": {"a": (True, "x"), "b": (True, "w"), "c": (False, "q")}, "open": {"d": (True, "7")}}
    (name, c), = outcome_costs(flt, qnt, seed=0).items()  # "open" has no float side: left out
    assert name == "every ordering" and c.items == 3
    assert c.accuracy_float == c.accuracy_quantized == pytest.approx(2 / 3) and c.difference == 0
    assert c.mcnemar_p == pytest.approx(1.0) and c.flip_rate == pytest.approx(2 / 3)
    assert c.ci_low <= 0 <= c.ci_high


@pytest.mark.slow
def test_a_run_with_a_quantized_encoder_reports_its_sqnr_and_cost(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("efficientnet_lite_pytorch")
    from sklearn.datasets import load_digits
    from typer.testing import CliRunner

    from mobeval.vlm.benchmarks.digits import is_eval_index, render_digit
    from mobeval.cli import app
    from mobeval.vlm.models.manifest import resolve
    from mobeval.vlm.models.encoder import ENCODER_OUTPUT
    from mobeval.vision.quantize.fidelity import sqnr_db
    from mobeval.vision.quantize.qdq import quantize_onnx
    from mobeval.vision.quantize.scheme import QuantScheme
    from mobeval.results.schema import load_result
    from mobeval.vlm.runners import projector as projector_io
    from mobeval.vision.task.preprocess import PreprocessSpec

    ref = resolve("digits-vlm")
    spec = PreprocessSpec(**projector_io.load(ref.files["projector"]).meta["preprocess"])
    digits = load_digits()
    calib = [i for i in range(len(digits.target)) if not is_eval_index(i)][:16]  # training pool only
    quant = quantize_onnx(ref.files["encoder"], QuantScheme.parse("w8a16"),
                          [spec.apply(render_digit(digits.images[i])) for i in calib],
                          calibration_info={"ids": [f"digits-{i:05d}" for i in calib], "bench": "digits train pool"},
                          source_model={"vlm": "digits-vlm", "part": "encoder"}, out_dir=tmp_path / "qcache")
    manifest = tmp_path / "digits-vlm-w8a16.json"
    manifest.write_text(json.dumps({"encoder": str(quant.path), "projector": str(ref.files["projector"]),
                                    "lm": "smollm2-135m"}))
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, ["run", "--bench", "vlm-digits", "--runner", "hybrid", "--model", str(manifest),
                                   "--limit", "4", "--threads", "2", "--output-dir", str(out)],
                             env={"COLUMNS": "220"})
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "encoder SQNR vs float" in res.output and "quantized encoder: accuracy change (every ordering)" in res.output
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    result = load_result(folder / "result.json")
    q = result.task["encoder_quantization"]
    assert q["float_encoder_sha256"] == ref.part_sha256["encoder"]
    # the SQNR again, independently: bare ONNX Runtime sessions of both files on the run's images
    import onnxruntime as ort
    from PIL import Image

    from mobeval.core.benchmarks import BenchOptions, load_benchmark

    chosen = {json.loads(line)["item_id"] for line in (folder / "samples.jsonl").read_text().splitlines()}
    bench = load_benchmark("vlm-digits", BenchOptions())
    images = sorted({p for it in bench.items if it.id in chosen for p in it.images})
    assert q["images"] == len(images)
    x = np.concatenate([spec.apply(Image.open(p))[None] for p in images]).astype(np.float32)

    def features(path):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run([ENCODER_OUTPUT], {session.get_inputs()[0].name: x})[0]

    assert q["encoder_sqnr_db"] == pytest.approx(sqnr_db(features(ref.files["encoder"]), features(quant.path)), abs=0.05)
    mc = q["outcomes"]["every ordering"]
    assert mc["items"] == result.task["n_multiple_choice"] and mc["ci_low"] <= mc["difference"] <= mc["ci_high"]
