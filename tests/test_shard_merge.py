"""mobeval run --shard K/N and mobeval merge, end to end on the bundled models: a merged 4-shard run has
exactly the records and scores of the unsharded run; merges of overlapping, missing, mismatched,
incomplete or tampered shards are refused with the reason."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mobeval.engine as engine
from mobeval.cli import app
from mobeval.config import load_config

cli = CliRunner(env={"COLUMNS": "200"})
MCQ = ("--limit", "8", "--orderings", "original")
# fields that depend on time or on what the process ran before (a shard starts with an empty KV cache,
# so its first prompt evaluates every token): everything else of a record must be identical
VOLATILE = {"latency_s", "warmup", "engine_timings", "ttft_s", "evaluated_tokens", "preprocess_s"}


def invoke(*args):
    return cli.invoke(app, [str(a) for a in args])


def run_ok(*args):
    res = invoke(*args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def refused(*args) -> str:
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    return " ".join(res.output.split())  # the message as one line, whatever the console wrapped


def folder(root: Path, tag: str) -> Path:
    (d,) = [p for p in root.iterdir() if p.is_dir() and tag in p.name]
    return d


def records(d: Path) -> list[dict]:
    lines = (d / "samples.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in VOLATILE} for line in lines]


def result(d: Path) -> dict:
    return json.loads((d / "result.json").read_text())


def selected(d: Path) -> list[str]:
    return json.loads((d / "selection.json").read_text())["question_ids"]


def in_shard(item_id: str, k: int, n: int) -> bool:
    return int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % n == k - 1


@pytest.fixture(scope="module")
def mcq(tmp_path_factory):
    """The unsharded run and its 4 shards, each a real run of the bundled model."""
    root = tmp_path_factory.mktemp("mcq")
    whole = root / "whole"
    run_ok("run", *MCQ, "--output-dir", whole, "-q")
    for k in range(1, 5):
        run_ok("run", *MCQ, "--shard", f"{k}/4", "--output-dir", root / f"s{k}", "-q")
    return folder(whole, "__"), [folder(root / f"s{k}", f"shard{k}of4") for k in range(1, 5)]


def test_shards_are_disjoint_cover_the_selection_and_know_the_whole(mcq):
    whole, shards = mcq
    ids = selected(whole)
    assert len(ids) == 8
    parts = [selected(s) for s in shards]
    assert all(parts) and sorted(q for p in parts for q in p) == sorted(ids)  # disjoint, and together the whole
    whole_sha = result(whole)["data"]["selection_sha256"]
    for k, (s, part) in enumerate(zip(shards, parts), start=1):
        assert part == [q for q in ids if in_shard(q, k, 4)]  # the hash rule, in the selection's order
        assert {r["question_id"] for r in records(s)} == set(part)
        data = result(s)["data"]
        assert data["shard"] == {"index": k, "count": 4, "selection_sha256_of_whole": whole_sha, "n_items_of_whole": 8}
        assert data["n_items_selected"] == len(part) and data["selection_sha256"] != whole_sha
        identity = json.loads((s / "run.json").read_text())
        assert identity["shard"] == f"{k}/4" and identity["whole_selection"]["question_ids"] == ids


def test_merged_four_shards_are_the_unsharded_run(mcq, tmp_path):
    whole, shards = mcq
    res = run_ok("merge", *reversed(shards), "--output-dir", tmp_path)  # the order given does not matter
    merged = folder(tmp_path, "__merged__")
    assert merged.name.startswith("smollm2-135m__everyday-mobile__merged__")
    assert "merged 4 shards" in res.output and "Summary" in res.output
    assert records(merged) == records(whole)
    assert (merged / "selection.json").read_text() == (whole / "selection.json").read_text()
    m, w = result(merged), result(whole)
    assert m["task"] == w["task"] and m["status"] == "complete"
    assert m["data"]["selection_sha256"] == w["data"]["selection_sha256"] and m["data"]["n_items_selected"] == 8
    assert m["provenance"]["hashes"] == w["provenance"]["hashes"]
    assert m["performance"]["wall_time"]["count"] == 4
    merged_from = m["provenance"]["merged_from"]
    assert [x["folder"] for x in merged_from] == [s.name for s in shards]
    assert [x["samples_sha256"] for x in merged_from] == [result(s)["provenance"]["integrity"]["samples_sha256"]
                                                          for s in shards]
    assert all(x["machine"]["cpu"] == w["environment"]["cpu"] for x in merged_from)
    assert json.loads((merged / "run.json").read_text())["merged_from"] == merged_from
    assert (merged / "submission.csv").read_text() == (whole / "submission.csv").read_text()
    assert "Summary" in run_ok("report", merged).output
    assert "100.0% of 8" in run_ok("compare", whole, merged).output  # same choice on every question


def test_overlapping_shards_are_refused(mcq, tmp_path):
    _, shards = mcq
    twin = tmp_path / shards[1].name
    shutil.copytree(shards[1], twin)
    msg = refused("merge", *shards, twin, "--output-dir", tmp_path / "out")
    assert "are both shard 2/4" in msg and "overlap" in msg and str(twin) in msg
    assert "given twice" in refused("merge", *shards, shards[0], "--output-dir", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_missing_shard_is_refused(mcq, tmp_path):
    _, shards = mcq
    msg = refused("merge", shards[0], shards[1], shards[3], "--output-dir", tmp_path)
    assert "shard 3/4 is missing" in msg and "--shard 3/4" in msg
    assert not list(tmp_path.iterdir())


def test_an_unsharded_run_is_refused(mcq, tmp_path):
    whole, shards = mcq
    assert "not a shard" in refused("merge", whole, *shards, "--output-dir", tmp_path)


def test_shards_of_different_settings_are_refused(mcq, tmp_path):
    _, shards = mcq
    run_ok("run", *MCQ, "--shard", "1/4", "--template", "mcq", "--output-dir", tmp_path / "other", "-q")
    other = folder(tmp_path / "other", "shard1of4")
    msg = refused("merge", other, *shards[1:], "--output-dir", tmp_path)
    assert "is not a shard of the same run" in msg and "template_sha256 (a different prompt template)" in msg
    assert str(other) in msg and str(shards[1]) in msg


def test_a_tampered_shard_is_refused(mcq, tmp_path):
    _, shards = mcq
    copy = tmp_path / shards[2].name
    shutil.copytree(shards[2], copy)
    path = copy / "samples.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["choice"] = (first["choice"] + 1) % 4
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    msg = refused("merge", shards[0], shards[1], copy, shards[3], "--output-dir", tmp_path / "out")
    assert f"merge {copy}: the run folder is damaged" in msg
    assert "samples.jsonl is not the file result.json was computed from" in msg


def test_an_incomplete_shard_is_refused_and_resume_continues_only_that_shard(mcq, tmp_path):
    _, shards = mcq
    out = tmp_path / "runs"
    plan = engine.plan(load_config(None, {"limit": 8, "orderings": "original", "shard": "1/4", "output_dir": out}))
    assert len(plan.task.item_ids) >= 2

    def stop_after_one(done, total):
        if done >= 1:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run: the run keeps what it finished

    with pytest.raises(KeyboardInterrupt):
        engine.execute(plan, engine.open_run_dir(plan, False, None), stop_after_one)
    partial = folder(out, "shard1of4")
    assert result(partial)["status"] == "partial"
    msg = refused("merge", partial, *shards[1:], "--output-dir", tmp_path)
    assert f"{partial} (shard 1/4) is incomplete: 1 of its" in msg and f"--resume --run-dir {partial}" in msg

    # --resume of another shard never continues it
    msg = refused("run", *MCQ, "--shard", "2/4", "--resume", "--output-dir", out)
    assert "shard (1/4 there, 2/4 here)" in msg and str(partial) in msg
    assert "shard (1/4 there, 2/4 here)" in refused("run", *MCQ, "--shard", "2/4", "--resume", "--run-dir", partial)
    # --resume of the same shard finishes it, and then it merges
    run_ok("run", *MCQ, "--shard", "1/4", "--resume", "--output-dir", out, "-q")
    assert result(partial)["status"] == "complete" and records(partial) == records(shards[0])
    run_ok("merge", partial, *shards[1:], "--output-dir", tmp_path / "merged", "-q")


def test_a_shard_with_no_items_is_refused_before_anything_runs(tmp_path):
    # the 5 bundled photos split 10 ways: some shard gets none of them
    ids = ["camera.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"]
    empty = next(k for k in range(1, 11) if not any(in_shard(i, k, 10) for i in ids))
    msg = refused("run", "--task", "image-classification", "--shard", f"{empty}/10", "--output-dir", tmp_path)
    assert f"--shard {empty}/10: none of the 5 selected items falls in this shard" in msg
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
    assert "expected K/N with 1 <= K <= N" in refused("run", "--shard", "5/4", "--output-dir", tmp_path)


def test_image_classification_two_shards_merge_to_the_unsharded_run(tmp_path):
    args = ("run", "--task", "image-classification", "--threads", "1", "-q")
    run_ok(*args, "--output-dir", tmp_path / "whole")
    for k in (1, 2):
        run_ok(*args, "--shard", f"{k}/2", "--output-dir", tmp_path / f"s{k}")
    whole = folder(tmp_path / "whole", "__")
    shards = [folder(tmp_path / f"s{k}", f"shard{k}of2") for k in (1, 2)]
    assert all(selected(s) for s in shards)
    run_ok("merge", *shards, "--output-dir", tmp_path / "merged", "-q")
    merged = folder(tmp_path / "merged", "__merged__")
    assert records(merged) == records(whole) and len(records(whole)) == 5
    m, w = result(merged)["task"], result(whole)["task"]
    assert m["top1"] == w["top1"] and m["top5"] == w["top5"] and m == w
    assert (merged / "predictions.csv").read_text() == (whole / "predictions.csv").read_text()
    assert "Summary" in run_ok("report", merged).output


def test_spectrum_two_shards_merge_to_the_unsharded_run(tmp_path):
    args = ("run", "--task", "spectrum-segmentation", "--runner", "energy-detector", "--limit", "6", "-q")
    run_ok(*args, "--output-dir", tmp_path / "whole")
    for k in (1, 2):
        run_ok(*args, "--shard", f"{k}/2", "--output-dir", tmp_path / f"s{k}")
    run_ok("merge", folder(tmp_path / "s2", "shard2of2"), folder(tmp_path / "s1", "shard1of2"),
           "--output-dir", tmp_path / "merged", "-q")
    whole, merged = folder(tmp_path / "whole", "__"), folder(tmp_path / "merged", "__merged__")

    def strip(d):  # the capture's making and input preparation are timed too
        return [{k: v for k, v in r.items() if k not in ("load_s", "prepare_s")} for r in records(d)]

    assert strip(merged) == strip(whole) and len(strip(whole)) == 6
    assert result(merged)["task"] == result(whole)["task"]
