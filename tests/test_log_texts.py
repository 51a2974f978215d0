"""`mobeval run --log-texts`: each multiple-choice sample keeps its question's text and options in their original
order (what lm-evaluation-harness's --log_samples keeps), so a per-item analysis needs no data; without the flag
samples.jsonl is as before; other kinds refuse the flag. Real runs of the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.core.benchmarks import BenchOptions, load_benchmark

cli = CliRunner()


def _samples(tmp_path: Path, *args: str) -> list[dict]:
    res = cli.invoke(app, ["run", "--limit", "3", "--orderings", "cyclic", "--output-dir", str(tmp_path), "-q", *args])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in (Path(res.stdout.strip()) / "samples.jsonl").read_text().splitlines()]


def test_log_texts_keeps_each_question_and_its_options(tmp_path):
    samples = _samples(tmp_path / "a", "--log-texts")
    questions = {q.id: q for q in load_benchmark("everyday-mobile", BenchOptions()).questions}
    assert len(samples) == 12  # 3 questions x 4 cyclic orderings
    for s in samples:
        q = questions[s["question_id"]]
        assert s["question_text"] == q.question and s["options_text"] == list(q.options)  # original order
        assert s["options_text"][s["order"][s["choice"]]] == q.options[s["order"][s["choice"]]]
    plain = _samples(tmp_path / "b")
    assert all("question_text" not in s and "options_text" not in s for s in plain)
    assert [s["choice"] for s in plain] == [s["choice"] for s in samples]  # the texts change nothing scored


def test_other_kinds_refuse_log_texts(tmp_path):
    res = cli.invoke(app, ["run", "--task", "spectrum-segmentation", "--log-texts", "--output-dir", str(tmp_path)])
    assert res.exit_code == 2 and "--log-texts: for mcq tasks only" in res.output
