"""A run that cannot start leaves nothing on disk; `--resume` continues the unfinished run that matches
this one, never a damaged or different one, and lists the candidates when none matches; a runner error
names the question it happened on. All on the bundled model."""

import csv
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.text.runners.local_server import free_port

cli = CliRunner()


def invoke(*args):
    res = cli.invoke(app, list(args))
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit)), (
        res.output + repr(res.exception))
    return res


def run_ok(*args):
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.parametrize("case", ["closed port", "concurrency 0", "no model folder", "not a GGUF"])
def test_a_run_that_cannot_start_creates_nothing(tmp_path, case):
    closed = f"http://127.0.0.1:{free_port()}/v1"
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a GGUF file\n" * 64)
    args = {
        "closed port": ["--runner", "openai", "--endpoint", closed],
        "concurrency 0": ["--runner", "openai", "--endpoint", closed, "--concurrency", "0"],
        "no model folder": ["--runner", "transformers", "--model", str(tmp_path / "no" / "such-model")],
        "not a GGUF": ["--model", str(junk)],
    }[case]
    out = tmp_path / "runs"
    res = invoke("run", *args, "--limit", "2", "--output-dir", str(out))
    # a bad setting is usage (2); a server, model folder or file that fails is a failed run (1)
    assert res.exit_code == (2 if case == "concurrency 0" else 1), res.output
    assert not out.exists(), f"{case}: {sorted(p.name for p in out.rglob('*'))} left behind"


def _unfinished(out: Path, orderings: str) -> Path:
    """A run of 2 questions whose result.json is gone, as after a kill: unfinished, undamaged."""
    before = set(out.iterdir()) if out.exists() else set()
    run_ok("run", "--limit", "2", "--orderings", orderings, "--output-dir", str(out), "-q")
    (run,) = set(out.iterdir()) - before
    (run / "result.json").unlink()
    return run


def test_resume_finds_the_matching_run_not_the_newest(tmp_path):
    out = tmp_path / "runs"
    original = _unfinished(out, "original")
    cyclic = _unfinished(out, "cyclic")  # newer
    run_ok("run", "--limit", "2", "--orderings", "original", "--output-dir", str(out), "--resume", "-q")
    assert json.loads((original / "result.json").read_text())["status"] == "complete"
    assert not (cyclic / "result.json").exists()

    res = invoke("run", "--limit", "2", "--orderings", "random:2", "--output-dir", str(out), "--resume")
    assert res.exit_code == 2
    text = "".join(res.output.split())  # wherever the console wrapped it
    assert f"differsfromthisoneinorderings(cyclicthere,random:2here):{cyclic}" in text
    # finished: not a candidate (a run started in the same second is named after it with a "-2" suffix)
    assert not re.search(re.escape(original.name) + r"(?!-\d)", text), text
    assert "--resume--run-dirFOLDER" in text


def test_a_damaged_folder_does_not_block_resuming_another(tmp_path):
    out = tmp_path / "runs"
    good = _unfinished(out, "cyclic")
    prefix = good.name.rsplit("__", 1)[0]
    torn = out / f"{prefix}__29990101-000000"  # newest by name and by time
    torn.mkdir()
    (torn / "run.json").write_text('{"bench": "everyday-mob')
    half = out / f"{prefix}__29990101-000001"
    shutil.copytree(good, half)
    (half / "result.json").write_text('{"schema_version": "mobeval.result/1", "status": "compl')
    newer = good.stat().st_mtime + 60
    for folder in (torn, half):
        os.utime(folder, (newer, newer))

    res = run_ok("run", "--limit", "2", "--orderings", "cyclic", "--output-dir", str(out), "--resume", "-q")
    assert "".join(res.output.split()).endswith(good.name)
    assert json.loads((good / "result.json").read_text())["status"] == "complete"

    # named with --run-dir, the damaged folder is refused with what is wrong, not a traceback
    res = invoke("run", "--limit", "2", "--orderings", "cyclic", "--output-dir", str(out), "--resume",
                 "--run-dir", str(half))
    assert res.exit_code == 2 and "result.json:notvalidJSON" in "".join(res.output.split())


def test_a_prompt_longer_than_the_context_names_its_question(tmp_path):
    data = tmp_path / "q.csv"
    long = " ".join(["Which of these apps would a careful phone owner open"] * 60) + "?"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "A", "B", "C", "D", "answer"])
        w.writerow(["short-1", "Which app shows a map?", "Maps", "Clock", "Notes", "Camera", "A"])
        w.writerow(["long-2", long, "Maps", "Clock", "Notes", "Camera", "A"])
    res = invoke("run", "--bench", "mcq", "--data", str(data), "--n-ctx", "256", "--orderings", "original",
                 "--output-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1  # the runtime could not score a question: the run failed
    text = "".join(res.output.split())
    assert "questionlong-2:promptof" in text and "exceedsn_ctx=256" in text
    assert "finishedquestionsarekept" in text  # short-1 was answered before
