"""mobeval.vision.quantize without a model: SQNR by ONNX Runtime's definition on hand-computed cases, the
accuracy cost and its verdict, schemes and their errors, calibration selection and the overlap check
on real image files."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")

from onnxruntime.quantization import QuantType  # noqa: E402
from onnxruntime.quantization.qdq_loss_debug import compute_signal_to_quantization_noice_ratio as ort_sqnr  # noqa: E402

from mobeval.vision.benchmarks.sample_photos import load_sample_photos  # noqa: E402
from mobeval.core.errors import MobevalError  # noqa: E402
from mobeval.vision.quantize import QuantScheme, SqnrSum, sqnr_db  # noqa: E402
from mobeval.vision.quantize.calibration import calibration_info, overlap, select_calibration  # noqa: E402
from mobeval.vision.quantize.analysis import spread  # noqa: E402
from mobeval.vision.quantize.cost import accuracy_cost  # noqa: E402
from mobeval.vision.quantize.manifest import CalibrationInfo  # noqa: E402
from mobeval.vision.task.items import ImageItem  # noqa: E402
from mobeval.vision.task.preprocess import PRESETS  # noqa: E402


def test_sqnr_hand_computed():
    # x = [3, 4], y = [3, 3]: ‖x‖ = 5, ‖x - y‖ = 1, so 20·log10(5) = 13.979 dB
    x, y = np.array([3.0, 4.0]), np.array([3.0, 3.0])
    assert sqnr_db(x, y) == pytest.approx(20 * math.log10(5), abs=1e-12)
    assert sqnr_db(x, y) == pytest.approx(13.9794, abs=1e-4)
    assert sqnr_db(x, y) == pytest.approx(ort_sqnr(x, y), abs=1e-12)
    # the error is symmetric in sign, the signal is the reference's: y against x is 20·log10(√18 / 1)
    assert sqnr_db(y, x) == pytest.approx(20 * math.log10(math.sqrt(18)), abs=1e-12)


def test_sqnr_of_several_tensors_is_over_their_concatenation_like_onnxruntime():
    # [3, 4] and [0, 12] against [3, 3] and [0, 11]: ‖x‖² = 25 + 144 = 169, ‖x - y‖² = 1 + 1 = 2
    xs = [np.array([3.0, 4.0]), np.array([0.0, 12.0])]
    ys = [np.array([3.0, 3.0]), np.array([0.0, 11.0])]
    assert sqnr_db(xs, ys) == pytest.approx(20 * math.log10(13 / math.sqrt(2)), abs=1e-12)
    assert sqnr_db(xs, ys) == pytest.approx(ort_sqnr(xs, ys), abs=1e-12)
    acc = SqnrSum()
    for x, y in zip(xs, ys):
        acc.add(x, y)
    assert (acc.signal_sq, acc.noise_sq, acc.count) == (169.0, 2.0, 2)


def test_identical_and_all_zero_tensors_follow_the_epsilon_floors():
    eps = np.finfo("float").eps
    x = np.array([3.0, 4.0])
    assert sqnr_db(x, x) == pytest.approx(20 * math.log10(5 / eps)) == pytest.approx(ort_sqnr(x, x))
    z = np.zeros(4)
    assert sqnr_db(z, z) == 0.0 == ort_sqnr(z, z)
    with pytest.raises(MobevalError, match="different sizes"):
        sqnr_db(np.zeros(3), np.zeros(4))


def test_schemes_map_to_onnxruntime_types_and_unknown_ones_are_refused():
    w4 = QuantScheme.parse("w4a16", per_channel=False).ort_arguments()
    assert (w4["weight_type"], w4["activation_type"], w4["per_channel"]) == (QuantType.QInt4, QuantType.QUInt16, False)
    w8 = QuantScheme.parse("w8a8", weight_symmetric=False, activation_symmetric=False).ort_arguments()
    assert w8["weight_type"] == QuantType.QInt8 and w8["activation_type"] == QuantType.QUInt8
    assert w8["extra_options"] == {"WeightSymmetric": False, "ActivationSymmetric": False}
    assert QuantScheme.parse("w8a16").ort_arguments()["extra_options"] == {}  # ONNX Runtime's defaults
    assert QuantScheme.parse("w8a8", reduce_range=True).ort_arguments()["reduce_range"] is True
    assert QuantScheme.parse("w8a8").ort_arguments()["reduce_range"] is False
    assert QuantScheme.parse("w8a16").label == "w8a16 per-channel, weights symmetric, activations asymmetric, minmax"
    with pytest.raises(MobevalError, match="--scheme w2a8: unknown quantization scheme; known: w8a8, w8a16, w4a16"):
        QuantScheme.parse("w2a8")
    with pytest.raises(MobevalError, match="--calibration-method kl: one of minmax, entropy, percentile"):
        QuantScheme.parse("w8a8", calibration_method="kl")
    assert QuantScheme.parse("w8a8").key() != QuantScheme.parse("w8a8", per_channel=False).key()


def test_accuracy_cost_hand_computed():
    # 5 labelled items, classes 0..2; float right on items 0-3, quantized right on 0-2 and wrong (another
    # class) on 3; item 4 wrong in both but with different wrong predictions (a flip that is no cost)
    labels = [0, 1, 2, 0, 1]
    float_pred, quant_pred = [0, 1, 2, 0, 0], [0, 1, 2, 2, 2]
    c = accuracy_cost(np.eye(3)[float_pred], np.eye(3)[quant_pred], labels, target=0.98)
    assert (c.n, c.float_top1, c.quant_top1) == (5, 0.8, 0.6)
    assert c.difference == pytest.approx(-0.2)
    assert (c.only_float, c.only_quant, c.mcnemar_p) == (1, 0, 1.0)  # one discordant item: p = 2 * 1/2
    assert (c.flips, c.flip_rate) == (2, 0.4)
    assert c.retention == pytest.approx(0.75) and c.verdict == "fail"
    assert c.ci_low <= c.difference <= c.ci_high <= 0
    same = accuracy_cost(np.eye(3)[float_pred], np.eye(3)[float_pred], labels, target=0.98)
    assert (same.retention, same.verdict, same.flips) == (1.0, "pass", 0)
    assert accuracy_cost(np.eye(3)[float_pred], np.eye(3)[quant_pred], [None] * 5) is None  # no labels, no accuracy
    none_right = accuracy_cost(np.eye(3)[[1, 0, 0, 1, 0]], np.eye(3)[[1, 0, 0, 1, 0]], labels)
    assert none_right.retention is None and none_right.verdict == "n/a"


def test_calibration_is_a_count_or_named_ids():
    items = load_sample_photos().items
    picked = select_calibration(items, None, ["rocket.jpg", "chelsea.png"], 0, "--bench imagenet-photos")
    assert [i.id for i in picked] == ["rocket.jpg", "chelsea.png"]
    sample = select_calibration(items, 2, None, 0, "x")
    assert len(sample) == 2 and sample == select_calibration(items, 2, None, 0, "x")  # stable for a seed
    with pytest.raises(MobevalError, match="not both and not neither"):
        select_calibration(items, 2, ["rocket.jpg"], 0, "x")
    with pytest.raises(MobevalError, match="nope.png not in --bench imagenet-photos"):
        select_calibration(items, None, ["nope.png"], 0, "--bench imagenet-photos")
    with pytest.raises(MobevalError, match="--calibration 9: x has 5 items; give 1..5"):
        select_calibration(items, 9, None, 0, "x")


def test_overlap_is_found_by_id_and_by_content(tmp_path):
    items = load_sample_photos().items
    cal = [i for i in items if i.id in ("chelsea.png", "rocket.jpg")]
    info = CalibrationInfo(n=2, inputs_sha256="0" * 64,
                           **calibration_info(cal, PRESETS["efficientnet-lite0"], "imagenet-photos", None, 0))
    others = [i for i in items if i not in cal]
    assert overlap(info, others) == []
    assert overlap(info, items) == ["chelsea.png", "rocket.jpg"]
    # the same photograph under another name, in another folder, is still a calibration image
    copy = tmp_path / "cats" / "a_cat.png"
    copy.parent.mkdir()
    shutil.copyfile(cal[0].path, copy)
    renamed = ImageItem(id="cats/a_cat.png", path=copy, label=281, class_name="tabby", source=str(tmp_path))
    assert overlap(info, [*others, renamed]) == ["cats/a_cat.png"]


def test_layer_sqnr_images_are_spread_over_the_run():
    assert spread(3, 16) == [0, 1, 2]
    assert spread(400, 16)[:3] == [0, 27, 53] and spread(400, 16)[-1] == 399 and len(spread(400, 16)) == 16
    assert spread(10, 1) == [0] and spread(5, 2) == [0, 4]


def test_output_never_replaces_an_unrelated_file_and_is_checked_before_quantizing(tmp_path):
    """`--output existing.onnx` once overwrote whatever was there; a missing folder failed after the whole
    quantization. Both are refused up front, naming the flag, and the file is left as it was."""
    import time

    from typer.testing import CliRunner

    from mobeval.cli import app

    other = tmp_path / "mine.onnx"
    other.write_bytes(b"an unrelated model of the user's")
    cli = CliRunner()
    t0 = time.perf_counter()
    res = cli.invoke(app, ["quantize", "efficientnet-lite0", "--calibration", "2", "--output", str(other)])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "the file exists and is not a model mobeval quantized" in text, text
    assert other.read_bytes() == b"an unrelated model of the user's"
    res = cli.invoke(app, ["quantize", "efficientnet-lite0", "--calibration", "2", "--output",
                           str(tmp_path / "missing" / "q.onnx")])
    assert res.exit_code == 2 and "does not exist; create it first" in " ".join(res.output.split())
    assert time.perf_counter() - t0 < 60  # refused before calibrating, not after
