"""The Python API (mobeval.api): run, load and compare from a plain Python session, on the bundled model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mobeval
from mobeval.core.errors import MobevalError


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    a = mobeval.run(limit=6, orderings="cyclic", output_dir=out)
    b = mobeval.run(limit=6, orderings="cyclic", output_dir=out, method="generate")
    return a, b


def test_run_returns_the_finished_run_with_its_figures(two_runs):
    a, _ = two_runs
    assert a.kind == "mcq" and a.complete and (a.path / "result.json").is_file()
    acc = a.metric("accuracy")
    assert acc.unit == "fraction" and acc.method == "wilson" and acc.n == 6
    assert acc.low <= acc.value <= acc.high
    # the figure is the one result.json records (debiased accuracy under cyclic orderings)
    assert acc.value == pytest.approx(a.file.task["scores"]["accuracy_debiased"])
    assert a.performance["question_latency_p50"].unit == "s"
    samples = a.samples()
    assert len(samples) == sum(1 for _ in (a.path / "samples.jsonl").open())
    assert len({s["question_id"] for s in samples}) == a.file.data["n_items_selected"] == 6


def test_load_reads_back_what_run_returned(two_runs):
    a, _ = two_runs
    again = mobeval.load(a.path)
    assert again.metrics == a.metrics and again.samples() == a.samples() and again.file == a.file


def test_load_refuses_an_edited_folder(two_runs, tmp_path):
    import shutil

    a, _ = two_runs
    copy = tmp_path / "copy"
    shutil.copytree(a.path, copy)
    lines = (copy / "samples.jsonl").read_text().splitlines()
    (copy / "samples.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(MobevalError, match="samples"):
        mobeval.load(copy)


def test_compare_pairs_runs_on_the_same_items(two_runs):
    a, b = two_runs
    (same,) = mobeval.compare(a.path, a)
    assert same.difference == 0 and same.flip_rate == 0 and not same.significant and same.n == 6
    (other,) = mobeval.compare(a, b.path)
    assert other.n == 6 and other.low <= other.difference <= other.high


def test_bad_settings_raise_the_cli_message():
    with pytest.raises(MobevalError, match="--limit"):
        mobeval.run(limit=0)
    with pytest.raises(MobevalError, match="unknown runner"):
        mobeval.run(runner="no-such-runner")


def test_from_a_plain_python_session(tmp_path):
    code = ("import mobeval; r = mobeval.run(limit=2, orderings='original', output_dir=%r); "
            "print(r.path); print(mobeval.load(r.path).metric('accuracy').n)") % str(tmp_path)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    path, n = res.stdout.strip().splitlines()[-2:]
    assert Path(path).parent == tmp_path and n == "2"
