"""`mobeval submit RUN --check` and `--bundle` on real run folders made through the CLI (multiple choice,
the image task, an interrupted spectrum run), and folders tampered with after the result was written
(a sample edited, a file missing, result.json or submission.csv edited): each check's verdict and reason,
the exit code, and the bundle verified by `mobeval board` (a changed, missing or added file, an edited
result, a damaged archive: marked damaged, not ranked)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.core.errors import MobevalError
from mobeval.submit.bundle import MANIFEST, unpack
from tests.test_board import _stop

cli = CliRunner()


def invoke(*args: str):
    return cli.invoke(app, list(args), env={"COLUMNS": "250"})


def verdicts(folder: Path) -> tuple[int, dict[str, tuple[str, str]]]:
    """(exit code, check -> (status, reason)) of `submit --check`."""
    res = invoke("submit", str(folder), "--check")
    found = {}
    for line in res.stdout.splitlines():
        m = re.match(r"(PASS|FAIL|SKIP) (.+?)  +(.*)$", line)
        if m:
            found[m.group(2).strip()] = (m.group(1), m.group(3))
    assert found, res.output
    return res.exit_code, found


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    made: dict[str, Path] = {}
    for name, args in (("mcq", ("--limit", "3", "--orderings", "cyclic")),
                       ("images", ("--task", "image-classification", "--threads", "1"))):
        out = tmp_path_factory.mktemp(name)
        res = invoke("run", *args, "--output-dir", str(out), "-q")
        assert res.exit_code == 0, res.output
        (made[name],) = out.iterdir()
    out = tmp_path_factory.mktemp("partial")
    _stop(out, "new", 5)  # the spectrum task interrupted with Ctrl-C: a partial result.json
    (made["partial"],) = out.iterdir()
    return made


def edit_first_sample(folder: Path) -> None:
    """Halve the first sample's latency: an edit made after the result was written."""
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    rec = json.loads(lines[0])
    rec["latency_s"] = rec["latency_s"] / 2
    lines[0] = json.dumps(rec) + "\n"
    (folder / "samples.jsonl").write_text("".join(lines))


def copy(runs: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return shutil.copytree(runs[name], tmp_path / name / runs[name].name)


MCQ_CHECKS = ["files present", "result hashes match files", "run complete", "every question once",
              "submission.csv: every question once", "submission.csv: letters only", "outputs match samples",
              "ids match the benchmark's", "figures recompute from samples", "latency valid"]


def test_a_whole_mcq_run_passes_every_check_but_latency(runs):
    code, v = verdicts(runs["mcq"])
    assert list(v) == MCQ_CHECKS
    assert {k: s for k, (s, _) in v.items() if s != "PASS"} == {"latency valid": "FAIL"}
    assert code == 1  # a FAIL: not a valid submission
    assert "2 measured questions < 50" in v["latency valid"][1]  # the first is a warm-up
    assert "each of the 3 selected questions has its 4 record(s)" in v["every question once"][1]
    assert "3 question ids (of 180)" in v["ids match the benchmark's"][1]
    samples = (runs["mcq"] / "samples.jsonl").read_bytes()
    assert hashlib.sha256(samples).hexdigest()[:12] in v["result hashes match files"][1]


def test_checks_that_do_not_apply_to_a_kind_say_skip_and_why(runs):
    code, v = verdicts(runs["images"])
    assert v["answer file"] == ("SKIP", "the image-classification kind has no challenge answer file (it writes "
                                        "predictions.csv: see 'outputs match samples'): its submission is the result "
                                        "and its samples")
    assert v["outputs match samples"] == ("PASS", "predictions.csv: byte for byte what the samples give")
    for check in ("files present", "result hashes match files", "run complete", "every image once",
                  "ids match the benchmark's", "figures recompute from samples"):
        assert v[check][0] == "PASS", (check, v[check])
    assert code == 1 and v["latency valid"][0] == "FAIL"


def test_an_interrupted_run_fails_run_complete(runs):
    code, v = verdicts(runs["partial"])
    assert code == 1
    assert v["run complete"][0] == "FAIL" and "result.json says partial: 17 items selected, 5 scored" in v["run complete"][1]
    assert v["every capture once"][0] == "FAIL" and "0 of its 1 record(s)" in v["every capture once"][1]
    assert v["result hashes match files"][0] == "PASS"  # partial, but not tampered with


def test_a_sample_edited_after_the_result_fails(tmp_path, runs):
    run = copy(runs, "mcq", tmp_path)
    edit_first_sample(run)
    code, v = verdicts(run)
    assert code == 1
    status, reason = v["result hashes match files"]
    assert status == "FAIL" and "samples.jsonl is not the file result.json was computed from" in reason


@pytest.mark.parametrize("name", ["samples.jsonl", "segments.jsonl", "selection.json", "submission.csv"])
def test_a_missing_file_fails(tmp_path, runs, name):
    run = copy(runs, "mcq", tmp_path)
    (run / name).unlink()
    code, v = verdicts(run)
    assert code == 1
    assert v["files present"] == ("FAIL", f"{name} is missing: restore it from the original run")


def test_a_missing_result_fails_run_complete(tmp_path, runs):
    run = copy(runs, "mcq", tmp_path)
    (run / "result.json").unlink()
    code, v = verdicts(run)
    assert code == 1 and v["run complete"][0] == "FAIL" and "it was removed" in v["run complete"][1]
    assert v["files present"] == ("FAIL", "result.json is missing: restore it from the original run")
    assert v["latency valid"] == ("SKIP", "no result.json (see 'run complete')")


def test_an_edited_result_fails_figures_recompute(tmp_path, runs):
    run = copy(runs, "mcq", tmp_path)
    result = json.loads((run / "result.json").read_text())
    result["task"]["scores"]["accuracy_debiased"] = 1.0  # a better figure than the samples give
    (run / "result.json").write_text(json.dumps(result))
    code, v = verdicts(run)
    assert code == 1 and v["result hashes match files"][0] == "PASS"  # the samples are untouched
    status, reason = v["figures recompute from samples"]
    assert status == "FAIL" and "task figures (scores)" in reason and "result.json was edited" in reason


def test_an_edited_challenge_file_fails(tmp_path, runs):
    run = copy(runs, "mcq", tmp_path)
    rows = (run / "submission.csv").read_text().splitlines()
    qid = rows[1].split(",")[0]
    (run / "submission.csv").write_text("\n".join([rows[0], f"{qid},Z", *rows[2:], rows[2]]) + "\n")
    code, v = verdicts(run)
    assert code == 1
    assert v["submission.csv: letters only"][0] == "FAIL" and f"question {qid}: answer 'Z'" in v["submission.csv: letters only"][1]
    assert v["submission.csv: every question once"][0] == "FAIL" and "already on row 3" in v["submission.csv: every question once"][1]
    assert v["outputs match samples"][0] == "FAIL" and "submission.csv is not what the samples give" in v["outputs match samples"][1]


def test_submit_without_options_still_writes_the_challenge_file(tmp_path, runs):
    run = copy(runs, "mcq", tmp_path)
    (run / "submission.csv").unlink()
    res = invoke("submit", str(run))
    assert res.exit_code == 0 and "3 questions, valid" in res.stdout and (run / "submission.csv").exists()


# --- bundles -------------------------------------------------------------------------------------------

def board(root: Path) -> dict[str, dict]:
    res = invoke("board", str(root), "--format", "json", "--no-index")
    assert res.exit_code == 0, res.output
    return {Path(r["path"]).name: r for r in json.loads(res.stdout)["runs"]}


def bundle(run: Path, out: Path) -> Path:
    res = invoke("submit", str(run), "--bundle", str(out))
    assert res.exit_code == 0, res.output
    assert f"bundle: {out}" in res.stderr.replace("\n", "")
    return out


def test_a_bundle_holds_the_run_its_environment_and_hashes(tmp_path, runs):
    out = bundle(runs["mcq"], tmp_path / "b" / "mine")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["run.json", "selection.json", "samples.jsonl", "segments.jsonl", "result.json",
                            "submission.csv", "environment.json", MANIFEST])
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == "mobeval.bundle/1" and manifest["run"] == runs["mcq"].name
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert json.loads((out / "environment.json").read_text()) == json.loads(
        (runs["mcq"] / "result.json").read_text())["environment"]
    assert {c["check"]: c["status"] for c in manifest["checks"]}["latency valid"] == "FAIL"
    # the bundle is itself a run folder that passes the same checks
    _, v = verdicts(out)
    assert [c for c, (s, _) in v.items() if s == "FAIL"] == ["latency valid"]
    # never over an existing path
    res = invoke("submit", str(runs["mcq"]), "--bundle", str(out))
    assert res.exit_code == 2 and "already exists" in res.output


def test_the_board_ranks_good_bundles_and_flags_tampered_ones(tmp_path, runs):
    root = tmp_path / "bundles"
    good = bundle(runs["mcq"], root / "good.tar.gz")
    bundle(runs["images"], root / "images")
    edited = bundle(runs["mcq"], root / "edited")
    edit_first_sample(edited)
    (bundle(runs["mcq"], root / "missing") / "segments.jsonl").unlink()
    (bundle(runs["mcq"], root / "added") / "notes.txt").write_text("hi")
    # result.json made to say more, and the manifest re-hashed to match: the figures still give it away
    rehashed = bundle(runs["mcq"], root / "rehashed")
    result = json.loads((rehashed / "result.json").read_text())
    result["task"]["scores"]["accuracy_debiased"] = 1.0
    (rehashed / "result.json").write_text(json.dumps(result))
    manifest = json.loads((rehashed / MANIFEST).read_text())
    data = (rehashed / "result.json").read_bytes()
    manifest["files"]["result.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (rehashed / MANIFEST).write_text(json.dumps(manifest))
    # an archive repacked with an edited samples file
    folder = unpack(good, tmp_path / "unpacked")
    edit_first_sample(folder)
    with tarfile.open(root / "repacked.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname=folder.name)

    recs = board(root)
    assert recs["good.tar.gz"]["rank"] is not None and recs["good.tar.gz"]["status"] == "latency invalid"
    assert recs["images"]["rank"] == 1
    for name, problem in (("edited", "samples.jsonl does not match its sha256 in bundle.json"),
                          ("missing", "segments.jsonl is listed in bundle.json but missing"),
                          ("added", "notes.txt is not listed in bundle.json"),
                          ("rehashed", "result.json's task figures (scores) are not what its samples give"),
                          ("repacked.tar.gz", "samples.jsonl does not match its sha256")):
        assert recs[name]["rank"] is None and recs[name]["status"].startswith("damaged"), name
        assert problem in recs[name]["problems"], (name, recs[name]["problems"])
    ranked = [r for r in recs.values() if r["bench"] == "everyday-mobile" and r["rank"] is not None]
    assert [r["path"] for r in ranked] == [str(good)]


def test_a_bundle_archive_given_directly_and_a_hostile_one(tmp_path, runs):
    good = bundle(runs["images"], tmp_path / "one.tar.gz")
    res = invoke("board", str(good), "--format", "json")
    assert res.exit_code == 0, res.output
    (rec,) = json.loads(res.stdout)["runs"]
    assert rec["path"] == str(good) and rec["rank"] == 1 and rec["bench"] == "imagenet-photos"

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(MobevalError, match="not a mobeval bundle"):
        unpack(evil, tmp_path / "x")
    assert not (tmp_path / "outside.txt").exists()
    recs = board(tmp_path)
    assert recs["evil.tar.gz"]["status"] == "damaged" and recs["evil.tar.gz"]["rank"] is None


def test_a_damaged_folder_is_not_bundled(tmp_path, runs):
    run = copy(runs, "mcq", tmp_path)
    (run / "segments.jsonl").unlink()
    res = invoke("submit", str(run), "--bundle", str(tmp_path / "out"))
    assert res.exit_code == 2 and "not bundled, the run folder is damaged" in res.output
    assert "segments.jsonl is missing" in res.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["segments.jsonl", "selection.json", "submission.csv", "run.json"])
def test_the_board_flags_a_run_folder_missing_a_file(tmp_path, runs, name):
    root = tmp_path / "results"
    run = shutil.copytree(runs["mcq"], root / "r" / runs["mcq"].name)
    (run / name).unlink()
    (rec,) = board(root).values()
    assert rec["rank"] is None and rec["status"].startswith("damaged")
    assert f"{name} is missing" in rec["problems"]

