"""The board as one self-contained HTML page: per benchmark a sortable table (click a header) and the
Plotly plots, with Plotly's JavaScript inlined so the page needs no network when it is viewed."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

from mobeval.board.figures import KIND_FIGURES
from mobeval.board.rank import BenchBoard, RankedRow
from mobeval.board.render import cells, columns, footnotes

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
@media (max-width: 600px) { body { margin: 0.6em; } h1 { font-size: 1.4em; } h2 { font-size: 1.15em; } }
h1, h2, p, li { overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table.board { border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1em; }
table.board th, table.board td { border: 1px solid #ccc; padding: 3px 6px; white-space: nowrap; }
table.board th { background: #f0f0f0; cursor: pointer; user-select: none; }
table.board th[aria-sort=ascending]::after { content: " \\25B2"; }
table.board th[aria-sort=descending]::after { content: " \\25BC"; }
table.board tr.unranked td { color: #888; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plot { flex: 1 1 560px; min-width: 0; max-width: 100%; height: 420px; }
.plot.wide { flex-basis: 100%; }
ul.notes { font-size: 12px; color: #555; }
"""

# Click a header to sort by it (again: the other way); cells sort by their data-v (a number, or text),
# rows without a value last.
_SORT_JS = """
document.querySelectorAll("table.board").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(r) { var v = r.cells[col].getAttribute("data-v"); return v === "" ? null : v; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return (x === null) - (y === null); }
        var nx = Number(x), ny = Number(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "bench"


def _num(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _sort_values(b: BenchBoard, r: RankedRow) -> list[str]:
    """What each column sorts by: the number behind a cell where there is one."""
    e = r.entry
    spec = KIND_FIGURES.get(b.kind)
    figs = [e.figures.get(f.key) for f in (spec.figures if spec else ())]
    num = _num
    return [num(r.rank), e.model, e.runner, e.device, *(num(f.value if f else None) for f in figs), num(e.latency_s),
            num(e.speed), num(e.peak_rss_bytes), num(e.energy.value if e.energy else None), num(e.model_size_bytes),
            e.run_id, str(e.tier)]


def _table(b: BenchBoard, slug: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns(b))
    body = []
    for r in b.rows:
        tds = "".join(f'<td data-v="{html.escape(v)}">{html.escape(c)}</td>'
                      for c, v in zip(cells(b, r), _sort_values(b, r)))
        title = html.escape(r.entry.path + ("\n" + "\n".join(r.entry.problems) if r.entry.problems else ""))
        body.append(f'<tr class="{"ranked" if r.rank is not None else "unranked"}" title="{title}">{tds}</tr>')
    return (f'<div class="scroll"><table class="board" id="{slug}-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def plot_div(p) -> str:
    """A plot that fills its box at any window width: the figure's own width only says whether it is a wide
    plot (a whole row) or one of a row of several; Plotly resizes it with the window."""
    fig = p.figure
    wide = (fig.layout.width or 0) > 700
    height = fig.layout.height or 420
    import plotly.graph_objects as go

    fig = go.Figure(fig)  # a copy: the caller's figure keeps its width
    fig.update_layout(width=None, autosize=True)
    inner = fig.to_html(full_html=False, include_plotlyjs=False, div_id=p.id, default_width="100%",
                        default_height=f"{height}px", config={"displaylogo": False, "responsive": True})
    return f'<div class="plot{" wide" if wide else ""}" style="height: {height}px">{inner}</div>'


PLOTLY_JS = ("inline", "beside")


def plotly_script(mode: str, page_path: Path | None) -> str:
    """Plotly's script for a page: inlined (one self-contained file, ~4.6 MB of it the script), or one
    plotly-VERSION.min.js file beside the page, written once and shared by every page in that folder."""
    import plotly
    from plotly.offline import get_plotlyjs

    if mode == "inline" or page_path is None:
        return f'<script type="text/javascript">{get_plotlyjs()}</script>'
    name = f"plotly-{plotly.__version__}.min.js"
    target = Path(page_path).parent / name
    script = get_plotlyjs()
    if not target.is_file() or target.read_text(encoding="utf-8") != script:
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(script, encoding="utf-8")
        tmp.replace(target)
    return f'<script type="text/javascript" src="{html.escape(name)}"></script>'


def page(boards: list[BenchBoard], script: str | None = None) -> str:
    """The whole page as text; `script` loads Plotly (plotly_script; inline when None)."""
    import plotly

    from mobeval.board.plots import bench_plots

    sections, used = [], set()
    for b in boards:
        slug = _slug(b.bench)
        while slug in used:
            slug += "-x"
        used.add(slug)
        plots = "".join(plot_div(p) for p in bench_plots(b, slug))
        ranked = sum(r.rank is not None for r in b.rows)
        sections.append(f'<section id="{slug}"><h2>{html.escape(b.bench)} ({html.escape(b.kind)}): '
                        f'{len(b.rows)} run(s), {ranked} ranked</h2>{_table(b, slug)}'
                        f'<div class="plots">{plots}</div></section>')
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in footnotes(boards))
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_runs = sum(len(b.rows) for b in boards)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{VIEWPORT}<title>mobeval board</title>'
        f"<style>{_STYLE}</style>"
        f"{script or plotly_script('inline', None)}</head><body>"
        f"<h1>mobeval board</h1><p>{n_runs} run(s) in {len(boards)} benchmark(s); made {made} with plotly "
        f"{html.escape(plotly.__version__)}. Click a column header to sort.</p>"
        + ("".join(sections) or "<p>no run folders found</p>")
        + f'<ul class="notes">{notes}</ul><script>{_SORT_JS}</script></body></html>\n'
    )


def write_page(path: Path, boards: list[BenchBoard], plotly_js: str = "inline") -> None:
    Path(path).write_text(page(boards, plotly_script(plotly_js, path)), encoding="utf-8")
