"""The CLI end to end on the real model: run, report, submit, config files, errors, kill and resume."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app

cli = CliRunner()


def run_ok(*args):
    res = cli.invoke(app, list(args))
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def only_run_dir(root: Path) -> Path:
    (d,) = [p for p in root.iterdir() if p.is_dir()]
    return d


def read_samples(d: Path):
    return [json.loads(line) for line in (d / "samples.jsonl").read_text().splitlines()]


def test_bare_run_on_bundled_defaults(tmp_path):
    res = run_ok("run", "--limit", "6", "--output-dir", str(tmp_path))
    d = only_run_dir(tmp_path)
    assert d.name.startswith("smollm2-135m__everyday-mobile__")
    result = json.loads((d / "result.json").read_text())
    assert result["schema_version"] == "mobeval.result/2" and result["status"] == "complete"
    assert result["task"]["scores"]["n_questions"] == 6 and result["task"]["scores"]["orderings_per_question"] == 4
    assert result["task"]["scores"]["accuracy_original"] is not None  # the bundled set has a key
    assert result["energy"]["energy"]["value"] is None or result["energy"]["energy"]["source"] == "rapl"
    assert result["memory"]["peak_rss"]["value"] > result["memory"]["baseline_rss"]["value"]
    assert len(read_samples(d)) == 24
    for text in ("Summary", "consistency", "position bias", "Letter chosen", "energy"):
        assert text in res.output
    rows = list(csv.reader(open(d / "submission.csv")))
    assert rows[0] == ["question_id", "predicted_answer"] and len(rows) == 7
    assert all(r[1] in "ABCD" and r[1] for r in rows[1:])


def test_report_and_submit_read_only_the_files(tmp_path):
    run_ok("run", "--limit", "3", "--orderings", "original", "--output-dir", str(tmp_path), "-q")
    d = only_run_dir(tmp_path)
    (d / "submission.csv").unlink()
    assert "Summary" in run_ok("report", str(d)).output
    assert "3 questions, valid" in run_ok("submit", str(d)).output
    assert (d / "submission.csv").exists()


def test_config_file_with_flag_override(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"limit: 2\norderings: all\noutput_dir: {tmp_path / 'out'}\nmethod: generate\n")
    run_ok("run", "--config", str(cfg), "--orderings", "original", "-q")
    d = only_run_dir(tmp_path / "out")
    result = json.loads((d / "result.json").read_text())
    assert result["config"]["orderings"] == "original" and result["config"]["method"] == "generate"
    samples = read_samples(d)
    assert len(samples) == 2 and all(s["text"] is not None and s["logprobs"] is None for s in samples)


@pytest.mark.parametrize(
    "args,message,code",
    [
        (["--orderings", "shuffled"], "--orderings 'shuffled'", 2),
        (["--model", "qwen-1.5b"], "mobeval pull qwen-1.5b", 1),  # the model is not here: the run failed
        (["--model", "missing.gguf"], "no such file", 1),
        (["--bench", "nope"], "unknown benchmark 'nope'", 2),  # usage
        (["--bench", "mobile-mmlu-pro"], "--data", 1),  # the hub is unreachable: the data failed
        (["--method", "guess"], "method", 2),
        (["--limit", "0"], "--limit", 2),
        (["--torch-dtype", "float8"], "torch_dtype", 2),
        (["--torch-dtype", "bfloat16"], "runner llama.cpp does not take: torch_dtype", 2),
        (["--batch-tokens", "256"], "runner llama.cpp does not take: batch_tokens", 2),
    ],
)
def test_errors_are_one_clear_line(tmp_path, monkeypatch, args, message, code):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    res = cli.invoke(app, ["run", "--output-dir", str(tmp_path), *args])
    assert res.exit_code == code  # 1: the run failed (data, model, runtime); 2: usage
    assert message in res.output
    assert "Traceback" not in res.output
    assert not list(tmp_path.glob("*__*")), "a run folder was opened for a run that could not start"


def _start(args, out_dir):
    """`mobeval run` in a child process that takes Ctrl-C as a terminal would deliver it: SIGINT set back to its
    default, since a test suite started in the background inherits it ignored (and Python then never raises
    KeyboardInterrupt)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "mobeval", "run", *args, "--output-dir", str(out_dir), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_samples(out_dir: Path, n: int, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        files = list(out_dir.glob("*/samples.jsonl"))
        if files and len(files[0].read_text().splitlines()) >= n:
            return files[0].parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run produced no samples in time")


ARGS = ["--limit", "24", "--orderings", "cyclic"]


def test_kill_then_resume_equals_an_uninterrupted_run(tmp_path):
    proc = _start(ARGS, tmp_path / "killed")
    d = _wait_for_samples(tmp_path / "killed", 16, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = read_samples(d)
    assert 16 <= len(kept) < 96 and len(kept) % 4 == 0
    run_ok("run", *ARGS, "--output-dir", str(tmp_path / "killed"), "--resume", "-q")
    resumed = read_samples(d)
    assert resumed[: len(kept)] == kept  # nothing finished was redone
    assert len({(s["question_id"], s["ordering"]) for s in resumed}) == len(resumed) == 96
    result = json.loads((d / "result.json").read_text())
    assert result["status"] == "complete"
    wall = result["performance"]["wall_time"]
    assert wall["count"] == 1 and "1 segment(s) killed" in wall["note"]

    run_ok("run", *ARGS, "--output-dir", str(tmp_path / "whole"), "-q")
    whole = {(s["question_id"], s["ordering"]): s for s in read_samples(only_run_dir(tmp_path / "whole"))}
    for s in resumed:
        w = whole[(s["question_id"], s["ordering"])]
        assert s["choice"] == w["choice"]
        assert s["logprobs"] == pytest.approx(w["logprobs"], abs=1e-4)


def test_ctrl_c_keeps_a_partial_result_and_resume_refuses_a_different_run(tmp_path):
    # 48 questions x 4 orderings: enough left to run after the first 8 samples that the interrupt lands
    # mid-run even when this process polls slowly on a busy machine
    proc = _start(["--limit", "48", "--orderings", "cyclic"], tmp_path)
    d = _wait_for_samples(tmp_path, 8, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in stderr
    result = json.loads((d / "result.json").read_text())
    assert result["status"] == "partial" and result["task"]["scores"]["n_questions"] >= 2
    res = cli.invoke(app, ["run", "--limit", "48", "--orderings", "original", "--output-dir", str(tmp_path), "--resume"])
    assert res.exit_code == 2 and "differs from this one in" in res.output and "orderings" in res.output


def test_list_commands():
    out = run_ok("list", "models").output
    assert "smollm2-135m" in out and "qwen-1.5b" in out and "Q4_K_M" in out and "hf:Qwen/" in out
    assert "mobile-mmlu-pro" in run_ok("list", "benches").output
    assert "Answer" in run_ok("list", "templates").output


def test_resume_drops_a_torn_question_and_redoes_it(tmp_path):
    run_ok("run", "--limit", "3", "--orderings", "cyclic", "--output-dir", str(tmp_path), "-q")
    d = only_run_dir(tmp_path)
    lines = (d / "samples.jsonl").read_text().splitlines()
    # as if killed while writing the last question: two whole orderings and half a line remain
    (d / "samples.jsonl").write_text("\n".join(lines[:10]) + "\n" + lines[10][:40])
    (d / "result.json").unlink()
    run_ok("run", "--limit", "3", "--orderings", "cyclic", "--output-dir", str(tmp_path), "--resume", "-q")
    again = read_samples(d)
    assert len(again) == 12 and len({(s["question_id"], s["ordering"]) for s in again}) == 12
    assert [json.loads(x) for x in lines[:8]] == again[:8]


def test_energy_in_the_result_is_unavailable_or_a_labelled_estimate(tmp_path):
    from mobeval.measure.energy import energy_meters

    if energy_meters("auto")[0].source != "unavailable":
        pytest.skip("this machine has a real energy counter")
    run_ok("run", "--limit", "2", "--orderings", "original", "--output-dir", str(tmp_path / "auto"), "-q")
    energy = json.loads((only_run_dir(tmp_path / "auto") / "result.json").read_text())["energy"]
    assert list(energy) == ["energy"] and energy["energy"]["value"] is None
    assert energy["energy"]["source"] == "unavailable" and energy["energy"]["note"]

    res = run_ok("run", "--limit", "2", "--orderings", "original", "--energy", "estimate", "--watts-per-core", "5",
                 "--output-dir", str(tmp_path / "est"))
    energy = json.loads((only_run_dir(tmp_path / "est") / "result.json").read_text())["energy"]
    assert energy["estimate.energy"]["value"] > 0 and energy["estimate.energy"]["source"] == "estimate"
    assert "5.0 W per busy core" in energy["estimate.energy"]["note"]
    assert {"estimate.average_power", "estimate.energy_per_question", "estimate.energy_per_token"} <= set(energy)
    assert "energy (estimate)" in res.output and "estimated" in res.output


def test_sigterm_stops_a_run_cleanly_and_the_resumed_run_is_complete(tmp_path):
    """`kill PID` once left a "killed segment" (exit 143, no hint), so the resumed run, every record present,
    failed submit --check's "run complete". Now the segment is written, the exit is 143 with the hint."""
    proc = _start(ARGS, tmp_path)
    d = _wait_for_samples(tmp_path, 16, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "terminated" in stderr and "--resume" in stderr and "Traceback" not in stderr
    segments = [json.loads(line) for line in (d / "segments.jsonl").read_text().splitlines()]
    assert segments[-1].get("open") is None and segments[-1]["questions"] >= 4  # the segment was closed
    run_ok("run", *ARGS, "--output-dir", str(tmp_path), "--resume", "-q")
    result = json.loads((d / "result.json").read_text())
    assert result["status"] == "complete" and "killed" not in result["performance"]["wall_time"]["note"]
    res = CliRunner().invoke(app, ["submit", str(d), "--check"], env={"COLUMNS": "250"})
    line = next(line for line in res.output.splitlines() if "run complete" in line)
    assert "PASS" in line, res.output
