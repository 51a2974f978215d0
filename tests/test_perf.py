"""`mobeval perf` on the real runner: figures agree with llama.cpp's own timers, JSON holds them."""

import json

import pytest
from typer.testing import CliRunner

from mobeval.cli import app


def test_perf_matches_llama_cpp_timers_and_writes_json(tmp_path):
    res = CliRunner().invoke(app, ["perf", "--pp", "64", "--tg", "8", "--ttft", "32", "--reps", "3",
                                   "--min-duration", "0", "--n-ctx", "256", "--output-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "pp64" in res.output and "tg8" in res.output
    (path,) = tmp_path.glob("perf__smollm2-135m__*.json")
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == "mobeval.perf/1" and doc["environment"]["cpu_logical"]
    (cfg,) = doc["configs"]
    assert cfg["kv_cache_bytes"] > 0
    tests = {t["test"]: t for t in cfg["tests"]}
    assert set(tests) == {"pp64", "tg8", "ttft@32"}
    for t in tests.values():
        assert t["reps"] == 3 and len(t["seconds"]) == 3 and t["valid"]
        assert 0.85 <= t["ratio_to_engine"] <= 1.15  # the bar: within 15% of llama.cpp's timing
    assert tests["ttft@32"]["ttft_ms"] > 0


def test_too_short_a_measurement_is_marked_invalid(tmp_path):
    res = CliRunner().invoke(app, ["perf", "--pp", "16", "--tg", "0", "--ttft", "", "--reps", "2",
                                   "--min-duration", "60", "--n-ctx", "128", "--output-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (path,) = tmp_path.glob("perf__*.json")
    (t,) = json.loads(path.read_text())["configs"][0]["tests"]
    assert not t["valid"] and "2 repetitions < 3" in t["reason"] and "< 60.0 s" in t["reason"]


@pytest.mark.parametrize("args,message", [
    (["--reps", "0"], "--reps 0: must be at least 1"),
    (["--pp", "3000"], "--pp 3000 does not fit --n-ctx 2048"),
    (["--n-ctx", "16", "--pp", "64"], "--pp 64 does not fit --n-ctx 16"),
    (["--n-ctx", "256"], "--pp 512 does not fit --n-ctx 256"),  # the default --pp, too
    (["--tg", "-1"], "--tg -1: must be at least 0"),
    (["--tg", "4000", "--pp", "0"], "--tg 4000 does not fit --n-ctx 2048"),
    (["--ttft", "64,4096"], "--ttft 4096 does not fit --n-ctx 2048"),
    (["--ttft", "0"], "--ttft '0': expected comma-separated whole numbers >= 1"),
    (["--threads", "0"], "--threads '0'"),
    (["--n-batch", "0"], "--n-batch '0'"),
    (["--n-ctx", "0"], "--n-ctx '0'"),
    (["--warmup", "-1"], "--warmup -1"),
    (["--min-duration", "-1"], "--min-duration -1"),
    (["--pp", "0", "--tg", "0", "--ttft", ""], "nothing to measure"),
])
def test_bad_settings_are_one_clear_error_before_any_model_loads(tmp_path, args, message):
    res = CliRunner().invoke(app, ["perf", *args, "--output-dir", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert "measuring" not in res.output and not (tmp_path / "out").exists()
