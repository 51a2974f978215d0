"""`mobeval perf` on the real runner: figures agree with llama.cpp's own timers, JSON holds them."""

import json

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
