"""`mobeval report RUN --html`: one run as a self-contained page, for real runs of each kind made through the
CLI (multiple choice under two orderings, the image task, the spectrum task): the tables and the kind's
plots are on the page, nothing is fetched when it is viewed, and in a real headless Chromium the page
loads without console messages and every plot is drawn (a screenshot is kept as a test artefact)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app

cli = CliRunner()


def ok(*args: str):
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """kind -> (run folder, its page)."""
    made = {}
    for name, args in (("mcq", ("--limit", "3", "--orderings", "cyclic")),
                       ("images", ("--task", "image-classification", "--threads", "1")),
                       ("spectrum", ("--task", "spectrum-segmentation", "--limit", "17"))):
        out = tmp_path_factory.mktemp(name)
        ok("run", *args, "--output-dir", str(out), "-q")
        (run,) = out.iterdir()
        page = out / f"{name}.html"
        res = ok("report", str(run), "--html", str(page))
        assert f"page: {page}" in res.stderr.replace("\n", "") and "Summary" in res.stdout  # the report too
        made[name] = (run, page)
    return made


# plot divs each kind's page has, and text its tables show
EXPECTED = {
    "mcq": (["run-letters", "run-by-group-0", "run-latency"], ["Summary", "Per field", "accuracy, debiased"]),
    "images": (["run-topk", "run-per-class", "run-latency"], ["Summary", "top-1", "Per class, lowest top-1"]),
    "spectrum": (["run-by-snr-0", "run-by-snr-1", "run-latency"], ["Summary", "mean IoU"]),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_the_page_holds_the_runs_tables_and_plots(pages, kind):
    import plotly

    run, page = pages[kind]
    text = page.read_text()
    assert "<script src=" not in text and "<link" not in text and 'src="http' not in text  # no network
    assert plotly.__version__ in text and "Plotly.newPlot" in text
    divs, words = EXPECTED[kind]
    for div in divs:
        assert f'id="{div}"' in text, div
    assert text.count('class="plotly-graph-div') == len(divs)
    for w in words:
        assert w in text, w
    assert 'id="run-table"' in text and run.name.split("__")[-1] in text  # its row as on the board
    result = json.loads((run / "result.json").read_text())
    assert result["model"]["alias"] in text and result["environment"]["cpu"] in text


def test_letter_bars_are_the_results_shares(pages):
    run, page = pages["mcq"]
    share = json.loads((run / "result.json").read_text())["task"]["scores"]["letter_share"]
    text = page.read_text()
    start = text.index('id="run-letters"')
    chosen = json.loads(text[text.index('"y":', start) + 4: text.index("]", text.index('"y":', start)) + 1])
    assert chosen == pytest.approx([100 * share[k] for k in share])


def test_a_damaged_run_gets_no_page(tmp_path, pages):
    run = shutil.copytree(pages["images"][0], tmp_path / "r")
    (run / "samples.jsonl").write_text((run / "samples.jsonl").read_text().replace('"warmup": false', '"warmup": true', 1))
    res = cli.invoke(app, ["report", str(run), "--html", str(tmp_path / "p.html")])
    assert res.exit_code == 2 and "damaged" in res.output and not (tmp_path / "p.html").exists()


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_the_pages_render_in_headless_chromium(tmp_path, pages):
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=10000", f"--user-data-dir={tmp_path / 'profile'}"]
    for kind, (_, page) in pages.items():
        proc = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], (kind, console)
        dom = proc.stdout
        plots = dom.count('class="plotly-graph-div')
        assert plots == len(EXPECTED[kind][0]), kind
        assert dom.count('class="main-svg"') >= 2 * plots, kind  # each drawn by Plotly
        assert dom.count('<table class="report">') >= 1 and dom.count('<table class="board"') == 1

    shot = Path(os.environ.get("MOBEVAL_TEST_ARTEFACTS", tmp_path)) / "report_mcq.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([*base, "--window-size=1300,2600", f"--screenshot={shot}", pages["mcq"][1].as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
