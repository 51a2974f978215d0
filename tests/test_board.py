"""`mobeval board` over real run folders made through the CLI (multiple choice under two orderings, the
image task, the spectrum task, a real version-1 folder), and folders made partial, killed, resumed after a
kill and tampered with by the engine's own paths or by editing a file: the ranked tables, the marks, the
filters, the formats, the SQLite index and the HTML page in a real headless browser."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import energy_counter_here

from mobeval.measure.stats import wilson
from mobeval.board.index import INDEX_NAME
from mobeval.board.rank import pareto_front
from mobeval.cli import app

V1 = next((Path(__file__).parent / "fixtures" / "v1_run").iterdir())
cli = CliRunner()


def invoke(*args: str):
    return cli.invoke(app, list(args), env={"COLUMNS": "200"})


def ok(*args: str):
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    return res


def board_json(*args: str) -> list[dict]:
    return json.loads(ok("board", *args, "--format", "json").stdout)["runs"]


STOP_AT = """
import os, sys
import mobeval.engine as engine
from mobeval.config import load_config

out, mode, stop = sys.argv[1], sys.argv[2], int(sys.argv[3])
plan = engine.plan(load_config(None, {"task": "spectrum-segmentation", "runner": "energy-detector", "limit": 17, "output_dir": out}))
run = engine.open_run_dir(plan, mode == "resume", None)

def progress(done, total):
    if done >= stop:
        if mode == "resume":
            os._exit(9)  # killed between two captures: result.json is not brought up to date
        raise KeyboardInterrupt  # Ctrl-C: a partial result.json is written

try:
    engine.execute(plan, run, progress)
except KeyboardInterrupt:
    pass
"""


def _stop(out: Path, mode: str, stop: int) -> None:
    proc = subprocess.run([sys.executable, "-c", STOP_AT, str(out), mode, str(stop)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode in (0, 9), proc.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Real run folders, each made once: name -> folder (in its own directory, to copy from)."""
    made: dict[str, Path] = {}

    def run(name: str, *args: str) -> None:
        out = tmp_path_factory.mktemp(name)
        ok("run", *args, "--output-dir", str(out), "-q")
        (made[name],) = out.iterdir()

    run("mcq_original", "--limit", "6", "--orderings", "original")
    run("mcq_cyclic", "--limit", "3", "--orderings", "cyclic")
    run("images", "--task", "image-classification", "--threads", "1")
    run("spectrum", "--task", "spectrum-segmentation", "--runner", "energy-detector", "--limit", "17")
    run("shard", "--task", "spectrum-segmentation", "--runner", "energy-detector", "--limit", "17", "--shard", "1/2")
    run("vlm", "--task", "vlm", "--runner", "hybrid", "--limit", "3", "--threads", "1")
    made["v1"] = V1

    # the spectrum task interrupted (Ctrl-C: a partial result), then resumed and killed (samples after the
    # result), then resumed to the end (complete, with a killed segment): a copy kept at each step
    out = tmp_path_factory.mktemp("stopped")
    _stop(out, "new", 5)
    (folder,) = out.iterdir()
    for name, step in (("partial", lambda: None), ("after_result", lambda: _stop(out, "resume", 8)),
                       ("killed_segment", lambda: ok("run", "--task", "spectrum-segmentation", "--runner", "energy-detector",
                                                    "--limit", "17", "--output-dir", str(out), "--resume", "-q"))):
        step()
        made[name] = shutil.copytree(folder, tmp_path_factory.mktemp(name) / folder.name)
    return made


def results_dir(tmp_path: Path, runs: dict[str, Path], *names: str) -> Path:
    root = tmp_path / "results"
    root.mkdir()
    for n in names:  # each in a folder named after its key: two folders may share a name (same second)
        shutil.copytree(runs[n], root / n / runs[n].name)
    return root


def by_key(recs: list[dict]) -> dict[str, dict]:
    return {Path(r["path"]).parent.name: r for r in recs}


WHOLE = ("mcq_original", "mcq_cyclic", "images", "spectrum", "v1")


def test_wilson_interval():
    """Hand-checked values, and the same bounds as the spectrum kind's own interval."""
    from mobeval.measure.stats import wilson_interval

    lo, hi = wilson(0.0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # 0 of 10: the README's [0, 27.8%]
    lo, hi = wilson(0.5, 100)
    assert (lo, hi) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    for k, n in ((1, 3), (7, 9), (5, 5), (180, 720)):
        assert wilson(k / n, n) == pytest.approx(wilson_interval(k, n), abs=1e-12)


def test_pareto_front():
    # (cost, accuracy): b dominates c (cheaper and as accurate); a is the most accurate; d the cheapest
    points = [(10.0, 0.9), (5.0, 0.6), (6.0, 0.6), (1.0, 0.2), (20.0, 0.5)]
    assert pareto_front(points) == [True, True, False, True, False]


def test_every_kind_ranked_per_benchmark(tmp_path, runs):
    root = results_dir(tmp_path, runs, *WHOLE)
    res = ok("board", str(root))
    out = res.stdout
    assert "everyday-mobile (mcq): 3 run(s), 3 ranked" in out
    assert "imagenet-photos (image-classification): 1 run(s), 1 ranked" in out
    assert "synthetic-spectrum (spectrum-segmentation): 1 run(s), 1 ranked" in out
    for header in ("accuracy", "consistency", "top-1", "top-5", "mean IoU", "recall@0.5", "latency p50", "speed",
                   "peak RSS", "model size", "status"):
        assert header in out, header
    assert "device: " in out
    assert ("energy: unavailable" in out) != energy_counter_here()  # the same for every run: in the titles
    assert "Wilson score interval" in out and "percentile bootstrap" in out

    recs = board_json(str(root))
    assert len(recs) == 5 and all(r["device"] == json.loads((Path(r["path"]) / "result.json").read_text())
                                  ["environment"]["cpu"] for r in recs)
    mcq = [r for r in recs if r["bench"] == "everyday-mobile"]
    assert [r["rank"] for r in mcq] == [1, 2, 3]
    assert [r["accuracy"] for r in mcq] == sorted((r["accuracy"] for r in mcq), reverse=True)
    by_folder = by_key(recs)

    # the figures are the results' own, with Wilson intervals over the counted items
    orig = by_folder["mcq_original"]
    scores = json.loads((runs["mcq_original"] / "result.json").read_text())["task"]["scores"]
    assert orig["accuracy"] == scores["accuracy_original"] and orig["accuracy_basis"] == "original"
    assert orig["accuracy_n"] == 6 and (orig["accuracy_ci_low"], orig["accuracy_ci_high"]) == pytest.approx(
        wilson(scores["accuracy_original"], 6))
    assert orig["consistency"] is None  # one ordering: undefined
    cyc = by_folder["mcq_cyclic"]
    scores = json.loads((runs["mcq_cyclic"] / "result.json").read_text())["task"]["scores"]
    assert cyc["accuracy"] == scores["accuracy_debiased"] and cyc["accuracy_basis"] == "debiased"
    assert cyc["consistency"] == scores["consistency"] and cyc["consistency_n"] == 3
    v1 = by_folder["v1"]
    assert v1["rank"] is not None and v1["accuracy_basis"] == "debiased" and v1["items"] == 3

    img = by_folder["images"]
    result = json.loads((runs["images"] / "result.json").read_text())
    assert (img["top1"], img["top5"], img["top1_n"]) == (result["task"]["top1"], result["task"]["top5"], 5)
    assert img["latency_p50_s"] == result["performance"]["inference_latency_p50"]["value"]
    assert img["speed_unit"] == "images/s" and img["peak_rss_bytes"] == result["memory"]["peak_rss"]["value"]
    assert img["model_size_bytes"] == result["model"]["size_bytes"] and img["runner"] == "onnxruntime"

    spec = by_folder["spectrum"]
    overall = json.loads((runs["spectrum"] / "result.json").read_text())["task"]["overall"]["figures"]
    assert spec["mean_iou"] == overall["mean_iou"]["value"] and spec["mean_iou_ci_method"] == "bootstrap"
    assert spec["mean_iou_ci_low"] == overall["mean_iou"]["ci_low"]
    assert spec["recall_at_0.5"] == overall["recall_at_iou_0.5"]["value"]
    assert spec["model_size_bytes"] is None and "no file" in out

    # where nothing measures energy: said, with the reason; where a counter exists, every run has joules
    if energy_counter_here():
        assert all(r["energy"] is not None for r in recs)
    else:
        assert all(r["energy"] is None for r in recs) and "energy unavailable (5 run(s))" in out
    # every run here has too few items for valid latency figures: marked, ranked (their accuracy is whole)
    assert all(r["status"] == "latency invalid" for r in recs) and "†" in out


def test_incomplete_killed_and_tampered_runs_are_marked_never_ranked_as_whole(tmp_path, runs):
    root = results_dir(tmp_path, runs, "spectrum", "partial", "after_result", "killed_segment", "shard", "images")
    tampered = root / "images" / runs["images"].name
    lines = (tampered / "samples.jsonl").read_text().splitlines(keepends=True)
    rec = json.loads(lines[1])
    rec["latency_s"] = rec["latency_s"] / 2  # a sample edited after the result was written
    lines[1] = json.dumps(rec) + "\n"
    (tampered / "samples.jsonl").write_text("".join(lines))
    no_result = shutil.copytree(runs["spectrum"], root / "no_result" / runs["spectrum"].name)
    (no_result / "result.json").unlink()

    recs = by_key(board_json(str(root)))
    assert recs["partial"]["status"].startswith("partial 5/17") and recs["partial"]["rank"] is None
    assert "samples after result" in recs["after_result"]["status"] and recs["after_result"]["rank"] is None
    # result.json removed from a run whose segment ended: a missing file, not a run killed before its result
    assert recs["no_result"]["status"] == "damaged" and recs["no_result"]["rank"] is None
    assert "result.json is missing" in recs["no_result"]["problems"]
    assert recs["shard"]["status"].startswith("shard 1/2") and recs["shard"]["rank"] is None  # part of the bench
    killed = recs["killed_segment"]
    assert "killed segment" in killed["status"] and killed["rank"] is not None and killed["items"] == 17
    assert recs["spectrum"]["rank"] is not None
    img = recs["images"]
    assert img["status"].startswith("damaged") and img["rank"] is None
    assert "samples.jsonl is not the file result.json was computed from" in img["problems"]

    spectrum = [r for r in recs.values() if r["bench"] == "synthetic-spectrum"]
    ranked = [r for r in spectrum if r["rank"] is not None]
    assert len(ranked) == 2 and sorted(r["rank"] for r in ranked) == [1, 2]
    # the list: ranked runs first, then the unranked ones
    order = [r["rank"] for r in board_json(str(root), "--bench", "synthetic-spectrum")]
    assert order[:2] == [1, 2] and order[2:] == [None, None, None, None]

    out = ok("board", str(root)).stdout
    assert "imagenet-photos (image-classification): 1 run(s), 0 ranked" in out
    assert "- damaged: " in out and str(tampered) in out.replace("\n", "")


def test_filters(tmp_path, runs):
    root = results_dir(tmp_path, runs, *WHOLE)
    assert {r["bench"] for r in board_json(str(root), "--bench", "imagenet-photos")} == {"imagenet-photos"}
    assert {r["runner"] for r in board_json(str(root), "--runner", "ONNX")} == {"onnxruntime"}
    assert {r["model"] for r in board_json(str(root), "--model", "smollm2")} == {"smollm2-135m"}
    cpus = [json.loads((runs[n] / "result.json").read_text())["environment"]["cpu"] for n in WHOLE]
    word = cpus[0].split()[0]  # this machine's vendor; the v1 fixture was recorded on an AMD EPYC
    assert len(board_json(str(root), "--device", word.lower())) == sum(word.lower() in c.lower() for c in cpus)
    assert len(board_json(str(root), "--device", "epyc")) == sum("epyc" in c.lower() for c in cpus) >= 1
    assert board_json(str(root), "--device", "no such cpu") == []
    assert board_json(str(root), "--bench", "mobile") == []  # a benchmark is named exactly
    assert "no run folders found" in ok("board", str(root), "--runner", "nothing-like-it").stdout


def test_formats(tmp_path, runs):
    root = results_dir(tmp_path, runs, *WHOLE)
    rows = list(csv.DictReader(io.StringIO(ok("board", str(root), "--format", "csv").stdout)))
    assert len(rows) == 5 and {r["bench"] for r in rows} == {"everyday-mobile", "imagenet-photos", "synthetic-spectrum"}
    assert {"rank", "accuracy", "accuracy_ci_low", "top1", "mean_iou", "latency_p50_s", "peak_rss_bytes",
            "pareto_latency", "path"} <= set(rows[0])
    doc = json.loads(ok("board", str(root), "--format", "json").stdout)
    assert doc["format"] == "mobeval.board/1" and len(doc["runs"]) == 5 and doc["footnotes"]
    md = ok("board", str(root), "--format", "md").stdout
    assert "### everyday-mobile (mcq)" in md and "| # | model | runner | device | accuracy |" in md
    assert md.count("| smollm2-135m |") == 3


def test_the_index_is_reused_and_a_changed_folder_re_read(tmp_path, runs):
    root = results_dir(tmp_path, runs, *WHOLE)
    res = ok("board", str(root))
    assert "0 run(s) from the index, 5 read from their folders" in res.stderr
    db = root / INDEX_NAME
    assert db.exists()
    res = ok("board", str(root))
    assert "5 run(s) from the index, 0 read from their folders" in res.stderr

    # the rows really come from the index: a row changed there is what the board shows
    folder = f"images/{runs['images'].name}"
    with sqlite3.connect(db) as con:
        (entry,) = con.execute("SELECT entry FROM runs WHERE folder = ?", (folder,)).fetchone()
        entry = json.loads(entry)
        entry["model"] = "row-from-the-index"
        con.execute("UPDATE runs SET entry = ? WHERE folder = ?", (json.dumps(entry), folder))
    assert "row-from-the-index" in {r["model"] for r in board_json(str(root))}

    # a folder whose files change is read again (here: a samples line edited, result.json untouched)
    samples = root / folder / "samples.jsonl"
    st = samples.stat()
    samples.write_bytes(samples.read_bytes().replace(b'"warmup": false', b'"warmup": true ', 1))
    os.utime(samples, ns=(st.st_atime_ns, st.st_mtime_ns))
    res = ok("board", str(root))
    assert "4 run(s) from the index, 1 read from their folders" in res.stderr
    recs = by_key(board_json(str(root)))
    assert recs["images"]["model"] == "efficientnet-lite0" and recs["images"]["status"].startswith("damaged")

    # a removed folder leaves the index; --rebuild-index reads every folder again
    shutil.rmtree(root / "spectrum")
    assert "4 run(s) from the index, 0 read from their folders, 1 gone" in ok("board", str(root)).stderr
    assert "0 run(s) from the index, 4 read from their folders" in ok("board", str(root), "--rebuild-index").stderr

    # a damaged index file is only a cache: rebuilt
    db.write_bytes(b"not a database" * 100)
    res = ok("board", str(root))
    assert "4 read from their folders" in res.stderr and "rebuilt" in res.stderr
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone() == (4,)


def test_a_missing_results_dir_is_an_error(tmp_path):
    res = invoke("board", str(tmp_path / "nowhere"))
    assert res.exit_code == 2 and "no such directory" in res.output


def _page(tmp_path: Path, runs) -> tuple[Path, Path]:
    root = results_dir(tmp_path, runs, *WHOLE, "partial")
    page = tmp_path / "board.html"
    res = ok("board", str(root), "--html", str(page))
    assert f"page: {page}" in res.stderr.replace("\n", "")
    return root, page


def test_the_html_page_is_self_contained(tmp_path, runs):
    import plotly

    _, page = _page(tmp_path, runs)
    text = page.read_text()
    # nothing fetched at view time: no script, stylesheet or image from elsewhere
    assert "<script src=" not in text and "<link" not in text and 'src="http' not in text
    assert plotly.__version__ in text and "Plotly.newPlot" in text
    for div in ("everyday-mobile-pareto-latency", "everyday-mobile-pareto-peak_rss", "everyday-mobile-by-group-0",
                "imagenet-photos-pareto-latency", "synthetic-spectrum-pareto-latency", "synthetic-spectrum-by-snr-0",
                "synthetic-spectrum-by-snr-1"):
        assert f'id="{div}"' in text, div
    for table in ("everyday-mobile-table", "imagenet-photos-table", "synthetic-spectrum-table"):
        assert f'id="{table}"' in text
    assert 'class="unranked"' in text  # the partial run


def test_a_vlm_bench_shows_where_a_questions_time_goes(tmp_path, runs):
    """The vlm kind's stacked-parts plot: one bar per run, one trace per part, each the run's recorded p50."""
    from mobeval.board.bundles import read_entry
    from mobeval.board.plots import stage_plots
    from mobeval.board.rank import rank

    root = results_dir(tmp_path, runs, "vlm")
    entry = read_entry(root / "vlm" / runs["vlm"].name)
    perf = json.loads((runs["vlm"] / "result.json").read_text())["performance"]
    want = {"image preprocessing": "image_preprocess_p50", "vision encode": "encode_p50", "prefill": "prefill_p50",
            "decode": "decode_p50"}
    assert entry.stages_s == {label: perf[key]["value"] for label, key in want.items()}
    (board,) = rank([entry])
    (plot,) = stage_plots(board, "vlm-digits")
    assert plot.id == "vlm-digits-stages" and [t.name for t in plot.figure.data] == list(want)
    assert [t.x[0] for t in plot.figure.data] == pytest.approx([1000 * perf[k]["value"] for k in want.values()])
    page = tmp_path / "vlm.html"
    ok("board", str(root), "--html", str(page))
    assert 'id="vlm-digits-stages"' in page.read_text()


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(tmp_path, runs):
    _, page = _page(tmp_path, runs)
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=10000", f"--user-data-dir={tmp_path / 'profile'}"]
    proc = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # no error, no warning from the page's scripts
    # every plot div was drawn by Plotly (an SVG inside it), and the tables are there
    plots = dom.count('class="plotly-graph-div')
    assert plots == page.read_text().count('class="plotly-graph-div') >= 7
    assert dom.count('class="main-svg"') >= 2 * plots
    assert dom.count("<table class=\"board\"") == 3 and "smollm2-135m" in dom and "partial 5/17" in dom

    shot = Path(os.environ.get("MOBEVAL_TEST_ARTEFACTS", tmp_path)) / "board.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([*base, "--window-size=1300,2400", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
