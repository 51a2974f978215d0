"""bench/quantization_contrast.py in --quick mode on the two trained digits encoders: the JSON it writes is whole
and its figures finite; a calibration split that overlaps the evaluation items is refused."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "quantization_contrast.py"


def _bench():
    spec = importlib.util.spec_from_file_location("quantization_contrast", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up while being built
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_writes_finite_figures_for_cnn_and_attention(tmp_path):
    bench = _bench()
    out = tmp_path / "contrast.json"
    assert bench.main(["--quick", "--calibration", "8", "--eval-items", "8", "--layer-items", "4", "--latency-images", "2",
                       "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["skipped"] == []
    assert report["machine"]["cpu"] and report["versions"]["onnxruntime"] != "not installed"
    assert report["command"].startswith("python bench/quantization_contrast.py --quick")
    encoders = {e["name"]: e for e in report["encoders"]}
    assert set(encoders) == {"dscnn_digits", "vit_digits"}
    assert {encoders["dscnn_digits"]["kind"], encoders["vit_digits"]["kind"]} == {"cnn", "attention"}
    for enc in encoders.values():
        assert enc["n_calibration"] == 8 and enc["n_eval"] == 8
        assert not set(enc["calibration_ids"]) & set(enc["eval_ids"])
        assert [s["scheme"] for s in enc["schemes"]] == ["w8a8", "w8a16", "w4a16"]
        for s in enc["schemes"]:
            for run in (s["simulated"], s["cpu_ep"]):
                figures = [run["encoder_sqnr_db"], run["encoder_rms_error_pct"], run["logits_sqnr_db"],
                           run["top1_quantized"], run["difference"], *run["ci95"], run["mcnemar_p"], run["flip_rate"]]
                assert all(math.isfinite(v) for v in figures), run
                assert run["encoder_rms_error_pct"] == pytest.approx(100 * 10 ** (-run["encoder_sqnr_db"] / 20), rel=1e-3)
                assert run["ci95"][0] <= run["difference"] <= run["ci95"][1]
                assert 0 <= run["flip_rate"] <= 1
            assert all(math.isfinite(v) for v in [s["top1_float"], s["mean_layer_sqnr_db"], s["mean_weight_sqnr_db"],
                                                  s["latency_ms"]["float"], s["latency_ms"]["quantized"]]), s
            assert s["layers_matched"] > 5 and s["worst_layers"][0]["tensor"]
            assert s["latency_ms"]["float"] > 0 and s["model_bytes"]["quantized"] > 0
        # 16-bit activations keep more of the encoder output than 8-bit ones on the same weights
        by = {s["scheme"]: s["simulated"] for s in enc["schemes"]}
        assert by["w8a16"]["encoder_sqnr_db"] > by["w8a8"]["encoder_sqnr_db"]


def test_calibration_overlapping_evaluation_is_refused():
    bench = _bench()
    case = bench.digits_case("dscnn_digits", n_calibration=4, n_eval=4)
    case.calibration_ids = case.calibration_ids[:3] + case.eval_ids[:1]
    with pytest.raises(bench.DataError, match="calibration items are also evaluation items"):
        case.check_disjoint()
