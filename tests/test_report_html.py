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


class _Browser:
    """Headless Chromium driven over its DevTools pipe (--remote-debugging-pipe: fd 3 in, fd 4 out, messages
    ended by NUL): a window can be made narrower than the 500 px a headless window is at least."""

    def __init__(self, profile: Path):
        import itertools

        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()

        def fds():  # in the child, before exec (and before it closes every fd but 3 and 4)
            a, b = os.dup(to_child), os.dup(from_child)  # out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                      "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
                                     pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._ids, self._buf = itertools.count(1), b""

    def send(self, method: str, session: str | None = None, **params):
        mid = next(self._ids)
        msg = {"id": mid, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self._buf:
                chunk = os.read(self._r, 1 << 16)
                assert chunk, "Chromium closed its DevTools pipe"
                self._buf += chunk
            line, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(line)
            if reply.get("id") == mid:
                assert "error" not in reply, reply
                return reply["result"]

    def close(self):
        try:
            self.send("Browser.close")
        except AssertionError:
            pass
        self.proc.wait(timeout=30)


_MEASURE = """new Promise(function (done) {
  function measure() { setTimeout(function () {
    var plots = Array.prototype.map.call(document.querySelectorAll(".plotly-graph-div"), function (e) {
      return Math.ceil(e.getBoundingClientRect().right); });
    done(JSON.stringify({scroll: document.documentElement.scrollWidth, inner: window.innerWidth, plots: plots}));
  }, 1500); }
  if (document.readyState === "complete") { measure(); } else { window.addEventListener("load", measure); }
})"""


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_pages_fit_a_phone_and_a_desktop_window(tmp_path, pages):
    """At a phone's 412 px and a desktop's 1400 px, no page (each kind's run page, and the board of the three)
    scrolls sideways (wide tables scroll in their own box) and every plot fits in the window."""
    board = tmp_path / "board.html"  # the board of the three runs, beside the three run pages
    ok("board", *(str(run.parent) for run, _ in pages.values()), "--html", str(board))
    measured = {**{k: page for k, (_, page) in pages.items()}, "board": board}
    browser = _Browser(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for width in (412, 1400):
            browser.send("Emulation.setDeviceMetricsOverride", session, width=width, height=900,
                         deviceScaleFactor=1, mobile=width < 600)
            for kind, page in measured.items():
                browser.send("Page.navigate", session, url=page.as_uri())
                got = browser.send("Runtime.evaluate", session, expression=_MEASURE, awaitPromise=True,
                                   returnByValue=True, timeout=60000)
                m = json.loads(got["result"]["value"])
                assert m["inner"] == width, m
                assert m["scroll"] <= width, f"{kind} at {width} px scrolls sideways: {m}"
                assert m["plots"] and max(m["plots"]) <= width, f"{kind} at {width} px: a plot is cut: {m}"
    finally:
        browser.close()
    assert '<meta name="viewport"' in pages["mcq"][1].read_text()


def test_the_page_ranks_the_run_as_the_board_ranks_it(pages):
    """The page's rank cell is the one `mobeval board` gives the run among the folders beside it."""
    from mobeval.board.index import board_entries
    from mobeval.board.rank import rank
    from mobeval.board.render import cells

    for kind, (run, page) in pages.items():
        entries, _ = board_entries([run.parent])
        (b,) = rank(entries)
        (row,) = b.rows
        assert row.rank == 1, (kind, row.entry.marks)  # the only run there: ranked first (in its tier)
        text = page.read_text()
        assert f'<td data-v="1.0">{cells(b, row)[0]}</td>' in text, kind  # the board's own rank cell
        assert "as `mobeval board" in text and "among 1 run(s)" in text


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_pages_share_one_plotly_script_beside_them(tmp_path, pages):
    """--plotly-js beside: one plotly-VERSION.min.js in the folder, each page a small file that loads it, and
    the plots still drawn in a real browser with no console message."""
    import plotly

    folder = tmp_path / "pages"
    folder.mkdir()
    for kind, (run, _) in pages.items():
        ok("report", str(run), "--html", str(folder / f"{kind}.html"), "--plotly-js", "beside")
    script = folder / f"plotly-{plotly.__version__}.min.js"
    assert sorted(p.name for p in folder.iterdir()) == sorted([script.name, *(f"{k}.html" for k in pages)])
    for kind in pages:
        text = (folder / f"{kind}.html").read_text()
        assert f'src="{script.name}"' in text and len(text) < 500_000, (kind, len(text))  # inline: ~4.8 MB
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=10000", f"--user-data-dir={tmp_path / 'profile'}"]
    proc = subprocess.run([*base, "--dump-dom", (folder / "mcq.html").as_uri()], capture_output=True, text=True,
                          timeout=180)
    assert [line for line in proc.stderr.splitlines() if ":CONSOLE" in line] == []
    plots = proc.stdout.count('class="plotly-graph-div')
    assert plots == len(EXPECTED["mcq"][0]) and proc.stdout.count('class="main-svg"') >= 2 * plots
    res = cli.invoke(app, ["report", str(pages["mcq"][0]), "--html", str(folder / "x.html"), "--plotly-js", "cdn"])
    assert res.exit_code == 2 and "--plotly-js cdn: inline or beside" in res.output
