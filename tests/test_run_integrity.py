"""Commands that read a run folder check it first: a truncated or edited file is named with what is
wrong (never a traceback), samples must be the ones the result was computed from and belong to the
selection, and a submission never shrinks silently. Real runs of the bundled model, then real damage."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.results.integrity import check_run

cli = CliRunner()
ARGS = ["--limit", "8", "--orderings", "original"]


def invoke(*args):
    res = cli.invoke(app, list(args))
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit)), (
        res.output + repr(res.exception))
    return res


def has(output: str, text: str) -> bool:
    """text is in the output, wherever the console wrapped or folded its lines."""
    return "".join(text.split()) in "".join(output.split())


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished")
    res = invoke("run", *ARGS, "--output-dir", str(out), "-q")
    assert res.exit_code == 0, res.output
    (run,) = out.iterdir()
    return run


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """A fresh copy of the finished run, to damage."""
    return Path(shutil.copytree(finished, tmp_path / finished.name))


def rows(path: Path) -> list[list[str]]:
    return list(csv.reader(open(path, newline="")))


def test_a_finished_run_checks_clean(finished):
    c = check_run(finished)
    assert c.problems == [] and c.notes == [] and c.complete
    assert len(c.samples) == 8 and c.selection is not None and len(c.selection.question_ids) == 8
    recorded = json.loads((finished / "result.json").read_text())["provenance"]["integrity"]
    assert recorded["samples"] == 8 and recorded["samples_bytes"] == (finished / "samples.jsonl").stat().st_size


def test_submit_refuses_cut_samples_and_keeps_the_valid_submission(run):
    before = rows(run / "submission.csv")
    assert len(before) == 9
    lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
    (run / "samples.jsonl").write_text("".join(lines[:4]))
    res = invoke("submit", str(run))
    assert res.exit_code == 2
    assert has(res.output, "samples.jsonl is not the file result.json was computed from")
    assert rows(run / "submission.csv") == before  # not rewritten to 4 rows

    # without a result to compare with, the selection still says what is missing
    (run / "result.json").unlink()
    res = invoke("submit", str(run))
    assert res.exit_code == 2 and has(res.output, "4 of the 8 selected questions have no row")
    assert has(res.output, "--resume --run-dir")


@pytest.mark.parametrize("damage,message", [
    (lambda t: t[: len(t) // 2], "result.json: not valid JSON (line"),
    (lambda t: t.replace('"status": "complete"', '"status": "done"'), "does not match the result schema"),
    (lambda t: json.dumps({**json.loads(t), "task": {**json.loads(t)["task"], "scores": {
        **json.loads(t)["task"]["scores"], "n_questions": "many"}}}),
     "the mcq task section does not match its schema: task.scores.n_questions"),
    (lambda t: json.dumps({**json.loads(t), "kind": "origami"}), "unknown task kind 'origami'"),
    (lambda t: "[]", "result.json: does not match the result schema"),
])
def test_a_damaged_result_json_is_named_by_every_reader(run, finished, damage, message):
    path = run / "result.json"
    path.write_text(damage(path.read_text()))
    for args in (["report", str(run)], ["compare", str(finished), str(run)], ["submit", str(run)],
                 ["run", *ARGS, "--output-dir", str(run.parent), "--resume", "--run-dir", str(run)]):
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert has(res.output, message), (args, res.output)
        assert has(res.output, str(run / "result.json"))


def test_a_hand_edited_figure_is_refused_by_every_reader_and_never_ranked(run, finished):
    """The samples and their hashes are untouched; only the headline accuracy in result.json is raised."""
    import mobeval
    from mobeval.core.errors import MobevalError

    path = run / "result.json"
    result = json.loads(path.read_text())
    scores = result["task"]["scores"]
    key = next(k for k, v in scores.items() if isinstance(v, float) and 0 <= v < 0.9)
    scores[key] = 0.99
    path.write_text(json.dumps(result))
    for args in (["report", str(run)], ["compare", str(finished), str(run)]):
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert has(res.output, "are not what its samples give: result.json was edited"), (args, res.output)
    with pytest.raises(MobevalError, match="not what its samples give"):
        mobeval.load(run)
    res = invoke("board", str(run.parent), "--format", "json")
    assert res.exit_code == 0, res.output
    (rec,) = json.loads(res.stdout)["runs"]
    assert rec["rank"] is None and "damaged" in rec["marks"] and "result.json was edited" in rec["problems"]
    assert invoke("report", str(finished)).exit_code == 0  # the untouched copy reads as before


def test_edited_samples_are_named_by_line(run):
    lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
    foreign = json.loads(lines[5])
    foreign["question_id"] = "not-a-selected-question"
    lines[2] = "garbage\n"
    lines[5] = json.dumps(foreign) + "\n"
    lines.append(lines[0])  # a duplicate
    (run / "samples.jsonl").write_text("".join(lines))
    res = invoke("report", str(run))
    assert res.exit_code == 2
    for text in ("samples.jsonl line 3: not a sample",
                 "samples.jsonl line 6: question 'not-a-selected-question' is not in the run's selection",
                 "is already on line 1", "samples.jsonl is not the file result.json was computed from"):
        assert has(res.output, text), text


def test_selection_json_edited_is_refused(run):
    sel = json.loads((run / "selection.json").read_text())
    sel["question_ids"] = sel["question_ids"][:4]
    sel["orderings"] = sel["orderings"][:4]
    (run / "selection.json").write_text(json.dumps(sel))
    res = invoke("submit", str(run))
    assert res.exit_code == 2 and has(res.output, "selection.json is not the one run.json recorded")


STOP_AT = """
import os, sys
import mobeval.engine as engine
from mobeval.config import load_config

out, mode, stop = sys.argv[1], sys.argv[2], int(sys.argv[3])
plan = engine.plan(load_config(None, {"limit": 6, "orderings": "original", "output_dir": out}))
run = engine.open_run_dir(plan, mode == "resume", None)

def progress(done, total):
    if done >= stop:
        if mode == "resume":
            os._exit(9)  # killed between two questions: result.json is not brought up to date
        raise KeyboardInterrupt  # Ctrl-C: a partial result.json is written

try:
    engine.execute(plan, run, progress)
except KeyboardInterrupt:
    pass
"""


def test_samples_written_after_the_result_are_a_note_then_resume_completes(tmp_path):
    for mode, stop in (("new", 2), ("resume", 5)):
        proc = subprocess.run([sys.executable, "-c", STOP_AT, str(tmp_path), mode, str(stop)], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode in (0, 9), proc.stderr
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "result.json").read_text())["task"]["scores"]["n_questions"] == 2
    c = check_run(run)
    assert c.problems == [] and c.appended == 3 and len(c.result_samples) == 2

    res = invoke("report", str(run))
    assert res.exit_code == 0 and has(res.output, "3 sample(s) were written after result.json")
    res = invoke("submit", str(run))
    assert res.exit_code == 2 and has(res.output, "1 of the 6 selected questions have no row")

    res = invoke("run", "--limit", "6", "--orderings", "original", "--output-dir", str(tmp_path), "--resume", "-q")
    assert res.exit_code == 0, res.output
    c = check_run(run)
    assert c.problems == [] and c.notes == [] and c.complete and len(c.samples) == 6
    assert has(invoke("submit", str(run)).output, "6 questions, valid")
