"""The pure parts of bench/torch_eager_latency.py: percentiles, ratios against ONNX Runtime, conv kinds.
Nothing here is timed."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest


def _bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "torch_eager_latency.py"
    spec = importlib.util.spec_from_file_location("torch_eager_latency", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up while being built
    spec.loader.exec_module(mod)
    return mod


def test_percentile_matches_numpy():
    bench = _bench()
    values = [12.0, 3.5, 7.25, 40.0, 8.0, 9.5, 3.5]
    for q in (0, 50, 90, 100):
        assert bench.percentile(values, q) == pytest.approx(np.percentile(values, q))
    assert bench.percentile([5.0], 90) == 5.0


def _row(runtime, threads, load, median):
    mode = "default" if runtime == "onnxruntime" else "eager"
    return {"config": {"runtime": runtime, "threads": threads, "load": load, "mode": mode}, "median_ms": median}


def test_ratio_is_against_ort_at_the_same_threads_and_load():
    bench = _bench()
    rows = [
        _row("onnxruntime", 1, "quiet", 20.0),
        _row("onnxruntime", 2, "quiet", 10.0),
        _row("onnxruntime", 2, "python-loop", 40.0),
        _row("torch", 2, "quiet", 60.0),
        _row("torch", 2, "python-loop", 200.0),
        _row("torch", 1, "python-loop", 50.0),  # no ORT t1 under this load
    ]
    bench.add_ratios(rows)
    assert [r["ratio_vs_ort"] for r in rows] == [1.0, 1.0, 1.0, 6.0, 5.0, None]


def test_conv_kinds_of_the_real_efficientnet_lite0():
    bench = _bench()
    from mobeval.vision.models.registry import load_torch, resolve

    module = load_torch(resolve("efficientnet-lite0"))
    kinds = [bench.conv_kind(list(m.weight.shape)) for m in module.modules() if type(m).__name__.startswith("Conv2d")]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "conv 1x1 (pointwise)": 32, "conv depthwise": 16, "conv full (stem)": 1,
    }
