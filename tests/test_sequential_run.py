"""Issue 27: `mobeval run --until ci=H` and `--budget` on real runs of every task kind (the bundled sets, the real
models and detector): the items run in the seeded random order, the run stops for the reason its rule gives at
the item the confidence sequence says, result.json's `sequential` section is what
mobeval.measure.sequential.confidence_sequence gives on the recorded values in their file order (overall and per
group), `--resume` continues the same sequence, a stopped run is complete for --resume/report/board but fails
`submit --check`, and bad flags are one clear error naming the flag."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.core.errors import MobevalError
from mobeval.core.kinds import task_kind
from mobeval.measure.sequential import METHOD, confidence_sequence
from mobeval.results.integrity import check_run
from mobeval.stopping import items_in_file_order, parse_budget, parse_until, run_order

cli = CliRunner()
SPECTRUM = ("--task", "spectrum-segmentation", "--runner", "energy-detector")


def invoke(*args: str):
    return cli.invoke(app, list(args), env={"COLUMNS": "200"})


def run_ok(*args: str):
    res = invoke("run", *args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def refused(*args: str) -> str:
    res = invoke("run", *args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return " ".join(res.output.split())


def folder_of(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def result(folder: Path) -> dict:
    return json.loads((folder / "result.json").read_text())


def records(folder: Path, kind: str) -> list:
    k = task_kind(kind)
    return [k.record_from_json(json.loads(x)) for x in (folder / "samples.jsonl").read_text().splitlines()]


def values_in_file_order(folder: Path, kind: str) -> tuple[list[str], list[float], list[str]]:
    """Item ids in the order the run wrote them, the values of those with one (in that order), and their groups."""
    k = task_kind(kind)
    ids, values, groups = [], [], []
    for item_id, recs in items_in_file_order(records(folder, kind)):
        ids.append(item_id)
        v = k.item_values(recs)
        if item_id in v:
            values.append(v[item_id])
            groups.append(k.item_groups(recs).get(item_id, ""))
    return ids, values, groups


def selection(folder: Path) -> list[str]:
    return json.loads((folder / "selection.json").read_text())["question_ids"]


def check_section(folder: Path, kind: str, population: int | None) -> dict:
    """The sequential section against confidence_sequence recomputed from samples.jsonl; returns the section."""
    r = result(folder)
    s = r["sequential"]
    ids, values, groups = values_in_file_order(folder, kind)
    sel = selection(folder)
    assert ids == run_order(sel, r["config"]["seed"])[: len(ids)]  # the seeded order, a prefix of it
    assert s["method"] == METHOD and s["alpha"] == 0.05
    assert s["items_used"] == len(ids) and s["items_left"] == len(sel) - len(ids)
    assert s["items_with_value"] == len(values) and s["population"] == population
    cs = confidence_sequence(values, alpha=0.05, population=population)
    assert s["estimate"] == pytest.approx(np.mean(values), abs=1e-12)
    assert (s["low"], s["high"]) == pytest.approx((cs.low[-1], cs.high[-1]), abs=1e-12)
    assert s["half_width"] == pytest.approx((cs.high[-1] - cs.low[-1]) / 2, abs=1e-12)
    for g, e in s["groups"].items():  # each group's own sequence, on its values in the same order
        mine = [v for v, gg in zip(values, groups) if gg == g]
        gcs = confidence_sequence(mine, alpha=0.05, population=e["population"])
        assert e["n"] == len(mine) and e["estimate"] == pytest.approx(np.mean(mine), abs=1e-12)
        assert (e["low"], e["high"]) == pytest.approx((gcs.low[-1], gcs.high[-1]), abs=1e-12), g
    assert sum(e["n"] for e in s["groups"].values()) == (len(values) if s["groups"] else 0)
    return s


def first_time_within(values: list[float], population: int | None, h: float) -> int | None:
    """The number of values after which the batch sequence is first at most ±h wide (None: never)."""
    cs = confidence_sequence(values, alpha=0.05, population=population)
    within = np.flatnonzero((cs.high - cs.low) / 2 <= h + 1e-9)
    return int(within[0]) + 1 if within.size else None


# -- the rules, parsed --------------------------------------------------------------------------------------


def test_until_and_budget_parse_to_what_they_say():
    assert parse_until("ci=0.02").half_width == 0.02 and parse_until("ci=2%").half_width == pytest.approx(0.02)
    assert parse_until(" CI = 0.05 ").text == "ci=0.05"
    b = parse_budget("20m, 500 ,5Wh")
    assert (b.seconds, b.items, b.joules) == (1200.0, 500, 18000.0)
    assert b.shown == {"seconds": "20 min", "items": "500 items", "joules": "5 Wh"} and b.text == "20m,500,5Wh"
    assert parse_budget("90s").seconds == 90 and parse_budget("1.5h").seconds == 5400
    assert parse_budget("800J").joules == 800 and parse_budget("2kJ").joules == 2000
    assert parse_budget(1).items == 1 and parse_budget("1").shown["items"] == "1 item"


@pytest.mark.parametrize("bad", ["0.02", "ci=", "ci=0", "ci=0.5", "ci=-0.1", "ci=x", "width=0.02", "ci=nan"])
def test_a_bad_until_is_refused(bad):
    with pytest.raises(ValueError):
        parse_until(bad)


@pytest.mark.parametrize("bad", ["", "0", "1.5", "20x", "m", "20m,30m", "5Wh,1J", "-3", "0s", "ten"])
def test_a_bad_budget_is_refused(bad):
    with pytest.raises(ValueError):
        parse_budget(bad)


def test_the_order_is_seeded_and_depends_on_nothing_but_the_seed_and_the_ids():
    ids = [f"q{i}" for i in range(50)]
    a = run_order(ids, 0)
    assert sorted(a) == sorted(ids) and a != ids  # a permutation, not the selection's order
    assert run_order(list(reversed(ids)), 0) == a  # not the order given
    assert run_order(ids, 1) != a  # another seed, another order
    assert [i for i in a if i in set(ids[:20])] == run_order(ids[:20], 0)  # nor the rest of the selection
    # uniform: over many seeds, each of 4 items comes first about a quarter of the time
    firsts = [run_order(["a", "b", "c", "d"], s)[0] for s in range(4000)]
    counts = np.array([firsts.count(x) for x in "abcd"])
    assert np.all(np.abs(counts - 1000) < 100), counts  # 3.2 standard deviations


# -- bad flags: one clear error, nothing written --------------------------------------------------------------


@pytest.mark.parametrize("args, says", [
    (["--until", "0.02"], "--until '0.02': expected ci=HALF_WIDTH"),
    (["--until", "ci=0.7"], "--until 'ci=0.7': the half-width must be more than 0 and less than 0.5"),
    (["--budget", "20x"], "--budget '20x': '20x': unknown unit 'x'"),
    (["--budget", "0"], "--budget '0': '0': a number of items is a whole number of at least 1"),
    (["--budget", "20m,30m"], "two time budgets"),
    (["--until", "ci=0.05", "--shard", "1/2"], "--until ci=0.05: not with --shard 1/2"),
    (["--budget", "5Wh", "--energy", "off"], "--budget 5Wh: the energy part (5 Wh) needs an energy meter, and "
                                             "--energy off turns them off"),
])
def test_bad_flags_are_one_clear_error_naming_the_flag(tmp_path, args, says):
    out = refused(*SPECTRUM, "--limit", "5", "--output-dir", str(tmp_path), *args)
    assert says in out, out
    assert not list(tmp_path.iterdir()), "a run folder was opened for a run that could not start"


def test_an_energy_budget_without_a_meter_is_refused_before_the_run(tmp_path, monkeypatch):
    import mobeval.engine as engine
    from mobeval.measure.meter import UnavailableMeter

    monkeypatch.setattr(engine, "energy_meters", lambda *a, **k: [UnavailableMeter("no RAPL here (test)")])
    out = refused(*SPECTRUM, "--limit", "5", "--budget", "20m,5Wh", "--output-dir", str(tmp_path))
    assert "--budget 20m,5Wh: the energy part (5 Wh) needs an energy meter" in out and "no RAPL here (test)" in out
    assert not list(tmp_path.iterdir())


def test_until_on_items_without_a_key_is_refused(tmp_path):
    data = tmp_path / "nokey.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?", "choices": ["a", "b", "c"]})
                            + "\n" for i in range(4)))
    out = refused("--bench", "mcq", "--data", str(data), "--until", "ci=0.1", "--output-dir", str(tmp_path / "o"))
    assert "--until ci=0.1: none of the 4 selected questions" in out and "answer key" in out
    assert not (tmp_path / "o").exists()


def test_the_python_api_takes_and_validates_them(tmp_path):
    import mobeval

    with pytest.raises(MobevalError, match="--until 'ci=1'"):
        mobeval.run(task="spectrum-segmentation", runner="energy-detector", until="ci=1", output_dir=tmp_path)
    r = mobeval.run(task="spectrum-segmentation", runner="energy-detector", limit=12, budget=5, output_dir=tmp_path)
    assert r.complete and r.sequential.stop_reason == "budget: 5 items" and r.sequential.items_used == 5
    assert r.sequential.items_left == 7 and r.sequential.low <= r.sequential.estimate <= r.sequential.high


# -- spectrum: the cheap kind, every rule -----------------------------------------------------------------


@pytest.fixture(scope="module")
def spectrum_until(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("spectrum-until")
    res = run_ok(*SPECTRUM, "--limit", "60", "--until", "ci=0.05", "--output-dir", str(out))
    return folder_of(out), " ".join(res.output.split())


def test_spectrum_until_stops_where_the_sequence_first_is_narrow_enough(spectrum_until):
    folder, output = spectrum_until
    r = result(folder)
    s = check_section(folder, "spectrum-segmentation", population=60)
    _, values, _ = values_in_file_order(folder, "spectrum-segmentation")
    assert r["status"] == "complete" and s["stopped_early"] and s["stop_reason"] == "interval reached ±0.05"
    assert first_time_within(values, 60, 0.05) == len(values) < 60  # not one item sooner, not one later
    assert s["half_width"] <= 0.05 and s["rule"] == {"until": "ci=0.05", "budget": None}
    assert s["figure"] == "bin accuracy, mean over captures" and s["group_label"] == "SNR dB"
    # per SNR group, each with the number of its captures in the selection as its population
    assert sum(e["population"] for e in s["groups"].values()) == 60
    # the task section is of the captures run; its pooled bin accuracy is the mean the estimate is of
    assert r["task"]["n_captures"] == s["items_used"]
    assert r["task"]["overall"]["figures"]["bin_accuracy"]["value"] == pytest.approx(s["estimate"], abs=1e-9)
    for shown in ("stopped early (interval reached ±0.05)", "Estimate (--until / --budget)",
                  f"{s['items_used']} / {s['items_left']}", "Estimate per SNR dB"):
        assert shown in output, shown


def test_a_stopped_run_is_complete_for_integrity_report_and_board_but_fails_submit(spectrum_until):
    folder, _ = spectrum_until
    c = check_run(folder)
    assert not c.problems and c.complete and any("stopped early" in n for n in c.notes)
    res = invoke("report", str(folder))
    assert res.exit_code == 0 and "interval reached ±0.05" in res.output
    res = invoke("submit", str(folder), "--check")
    assert res.exit_code != 0
    line = next(x for x in res.output.splitlines() if "run complete" in x)
    assert line.startswith("FAIL") and "stopped early (interval reached ±0.05" in " ".join(res.output.split())
    res = invoke("board", str(folder.parent), "--format", "json", "--no-index")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["runs"]
    s = result(folder)["sequential"]
    assert "estimate" in row["marks"] and row["rank"] == 1 and row["tier"] == 1
    assert (row["sequential_estimate"], row["sequential_low"], row["sequential_high"]) == (s["estimate"], s["low"],
                                                                                           s["high"])
    assert row["status"].startswith(f"estimate {100 * s['estimate']:.1f}% [{100 * s['low']:.1f}")


def test_spectrum_budget_of_items_then_resume_continues_the_same_sequence(tmp_path):
    out = tmp_path / "runs"
    run_ok(*SPECTRUM, "--limit", "40", "--budget", "8", "--output-dir", str(out), "-q")
    folder = folder_of(out)
    s = check_section(folder, "spectrum-segmentation", population=40)
    assert s["stop_reason"] == "budget: 8 items" and s["items_used"] == 8 and s["items_left"] == 32
    first = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    # --resume finds the stopped run (its rule met, not finished) and goes on under a larger budget
    run_ok(*SPECTRUM, "--limit", "40", "--budget", "20", "--output-dir", str(out), "--resume", "-q")
    assert folder_of(out) == folder
    s = check_section(folder, "spectrum-segmentation", population=40)  # one sequence over all 20, in order
    assert s["stop_reason"] == "budget: 20 items" and s["items_used"] == 20 and s["rule"]["budget"] == "20"
    again = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    assert again[:8] == first  # nothing redone
    assert result(folder)["performance"]["wall_time"]["count"] == 2
    # a run killed mid-way (its last items and result gone) resumes to the same items and the same interval
    killed = tmp_path / "killed" / folder.name
    shutil.copytree(folder, killed)
    lines = (killed / "samples.jsonl").read_text().splitlines(keepends=True)
    (killed / "samples.jsonl").write_text("".join(lines[:13]))
    (killed / "result.json").unlink()
    run_ok(*SPECTRUM, "--limit", "40", "--budget", "20", "--output-dir", str(tmp_path / "killed"), "--resume", "-q")
    k = check_section(killed, "spectrum-segmentation", population=40)
    assert [json.loads(x)["capture_id"] for x in (killed / "samples.jsonl").read_text().splitlines()] == \
        [x["capture_id"] for x in again]
    assert (k["estimate"], k["low"], k["high"]) == (s["estimate"], s["low"], s["high"])
    res = invoke("compare", str(folder), str(killed))  # compare reads such runs as any other
    assert res.exit_code == 0 and "0.00% of" in res.output, res.output
    # and every item: a budget it cannot reach runs the rest, and the interval closes on the selection's mean
    run_ok(*SPECTRUM, "--limit", "40", "--budget", "40", "--output-dir", str(out), "--resume", "-q")
    s = check_section(folder, "spectrum-segmentation", population=40)
    assert s["stop_reason"] == "every item" and not s["stopped_early"] and s["low"] == s["high"] == s["estimate"]


def test_a_sequential_run_is_not_continued_without_its_order(tmp_path):
    run_ok(*SPECTRUM, "--limit", "10", "--budget", "3", "--output-dir", str(tmp_path), "-q")
    folder = folder_of(tmp_path)
    out = refused(*SPECTRUM, "--limit", "10", "--output-dir", str(tmp_path), "--resume", "--run-dir", str(folder))
    assert "item_order (a different order of items: --until/--budget run them in a seeded random order" in out


def test_spectrum_time_and_energy_budgets(tmp_path):
    run_ok(*SPECTRUM, "--budget", "1s", "--output-dir", str(tmp_path / "time"), "-q")
    folder = folder_of(tmp_path / "time")
    s = check_section(folder, "spectrum-segmentation", population=90)
    assert s["stop_reason"] == "budget: 1 s" and s["spent"]["eval_seconds"] >= 1.0 and s["items_left"] > 0
    # an estimate from CPU time is a meter an energy budget can watch (none is readable on most CI machines)
    run_ok(*SPECTRUM, "--energy", "estimate", "--budget", "0.0005Wh", "--output-dir", str(tmp_path / "energy"), "-q")
    folder = folder_of(tmp_path / "energy")
    s = check_section(folder, "spectrum-segmentation", population=90)
    assert s["stop_reason"] == "budget: 0.0005 Wh" and s["items_left"] > 0
    assert s["spent"]["joules"] >= 1.8 and s["spent"]["energy_source"] == "estimate"


# -- multiple choice: the default bench and model -------------------------------------------------------------


def test_mcq_until_or_budget_whichever_comes_first(tmp_path):
    """12 questions of everyday-mobile under the original order, SmolLM2-135M in llama.cpp: --until ci=0.25 or 8
    questions, whichever first; the estimate is the run's accuracy_mean over the questions run."""
    res = run_ok("--limit", "12", "--orderings", "original", "--until", "ci=0.25", "--budget", "8",
                 "--output-dir", str(tmp_path))
    folder = folder_of(tmp_path)
    r = result(folder)
    s = check_section(folder, "mcq", population=12)
    _, values, _ = values_in_file_order(folder, "mcq")
    assert set(values) <= {0.0, 1.0}
    t = first_time_within(values, 12, 0.25)
    if t is not None and t <= 8:
        assert s["stop_reason"] == "interval reached ±0.25" and s["items_used"] == t
    else:
        assert s["stop_reason"] == "budget: 8 items" and s["items_used"] == 8
    assert r["status"] == "complete" and s["stopped_early"] and s["figure"] == "accuracy, mean over orderings"
    assert r["task"]["scores"]["accuracy_mean"] == pytest.approx(s["estimate"], abs=1e-12)
    assert s["group_label"] == "field" and sum(e["n"] for e in s["groups"].values()) == s["items_used"]
    assert "stopped early" in " ".join(res.output.split())


# -- image classification and vlm --------------------------------------------------------------------------


def test_image_classification_budget(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra")
    pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")
    run_ok("--task", "image-classification", "--runner", "onnxruntime", "--threads", "1", "--budget", "3",
           "--output-dir", str(tmp_path), "-q")
    folder = folder_of(tmp_path)
    s = check_section(folder, "image-classification", population=5)
    assert s["stop_reason"] == "budget: 3 items" and s["items_used"] == 3 and s["items_left"] == 2
    assert s["groups"] == {} and s["figure"] == "top-1 accuracy"
    recs = records(folder, "image-classification")
    assert s["estimate"] == pytest.approx(np.mean([r.prediction == r.label for r in recs]), abs=1e-12)
    assert result(folder)["task"]["top1"] == pytest.approx(s["estimate"], abs=1e-12)


@pytest.mark.slow
def test_vlm_budget_mixes_multiple_choice_and_open_answers(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra")
    run_ok("--task", "vlm", "--bench", "vlm-digits", "--runner", "hybrid", "--limit", "6", "--orderings", "cyclic",
           "--threads", "2", "--until", "ci=0.4", "--budget", "3", "--output-dir", str(tmp_path), "-q")
    folder = folder_of(tmp_path)
    s = check_section(folder, "vlm", population=6)
    _, values, _ = values_in_file_order(folder, "vlm")
    t = first_time_within(values, 6, 0.4)
    assert s["stop_reason"] == ("interval reached ±0.4" if t is not None and t <= 3 else "budget: 3 items")
    assert s["items_used"] == (t if t is not None and t <= 3 else 3)
    recs = records(folder, "vlm")
    for item_id, recs_of in items_in_file_order(recs):  # the value: share of orderings right, or the open match
        v = task_kind("vlm").item_values(recs_of)[item_id]
        assert v == pytest.approx(np.mean([bool(r.correct) for r in recs_of]))
        assert len(recs_of) == (4 if recs_of[0].multiple_choice else 1)
    assert s["group_label"] == "category" and all(re.match(r"digit \d", g) for g in s["groups"])


def test_a_budget_run_to_every_item_passes_submit_and_its_estimate_is_checked(tmp_path):
    run_ok(*SPECTRUM, "--limit", "12", "--budget", "12", "--output-dir", str(tmp_path), "-q")
    folder = folder_of(tmp_path)
    s = check_section(folder, "spectrum-segmentation", population=12)
    assert s["stop_reason"] == "every item" and not s["stopped_early"] and s["low"] == s["high"]

    def verdict(check: str) -> str:
        res = invoke("submit", str(folder), "--check")
        return " ".join(next(x for x in res.output.splitlines() if check in x).split())

    assert verdict("run complete").startswith("PASS")
    assert verdict("figures recompute").startswith("PASS") and "sequential estimate" in verdict("figures recompute")
    r = result(folder)
    r["sequential"]["groups"][next(iter(r["sequential"]["groups"]))]["low"] -= 0.01  # an edited interval
    (folder / "result.json").write_text(json.dumps(r))
    assert verdict("figures recompute").startswith("FAIL")
    assert "sequential estimate and intervals are not the confidence sequence" in verdict("figures recompute")
