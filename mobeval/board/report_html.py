"""One run as a self-contained HTML page (`mobeval report RUN --html OUT.html`): the terminal report's header
and tables, the run's row as the board shows it, and the plots of its kind (report_plots.py); Plotly's
JavaScript inlined, as on the board's page, so nothing is fetched when it is viewed."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from mobeval.core.errors import MobevalError
from mobeval.board.entry import entry_from_check
from mobeval.core.formats import plain_text
from mobeval.board.html import _SORT_JS, _STYLE, VIEWPORT, _table, plot_div, plotly_script
from mobeval.board.rank import BenchBoard, RankedRow
from mobeval.board.render import footnotes
from mobeval.results.integrity import RunCheck

_REPORT_STYLE = """
table.report { border-collapse: collapse; font-size: 13px; margin: 0.3em 0 1em; }
table.report th, table.report td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
table.report th { background: #f6f6f6; }
table.report td.how { color: #777; }
pre.header { background: #f8f8f8; padding: 0.6em; font-size: 13px; white-space: pre-wrap; overflow-x: auto; }
"""


HOW = ' class="how"'


def table_html(t: Table, css: str = "report") -> str:
    """A rich Table as an HTML table (its title as a caption, markup as plain text)."""
    head = "".join(f"<th>{html.escape(plain_text(c.header))}</th>" for c in t.columns)
    columns = [list(c.cells) for c in t.columns]
    rows = []
    for cells in zip(*columns):
        tds = "".join(f"<td{HOW if c.header == 'how' else ''}>{html.escape(plain_text(v))}</td>"
                      for c, v in zip(t.columns, cells))
        rows.append(f"<tr>{tds}</tr>")
    caption = f"<caption><b>{html.escape(plain_text(t.title))}</b></caption>" if t.title else ""
    return (f'<div class="scroll"><table class="{css}">{caption}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def renderable_html(part: RenderableType) -> str:
    if isinstance(part, Table):
        return table_html(part)
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(part)
    return f'<pre class="header">{html.escape(console.export_text())}</pre>'


def board_row(entry, folder: Path) -> tuple[RankedRow, str]:
    """The run's row as `mobeval board` ranks it among the run folders beside it (its rank and Pareto marks),
    and a line saying so; unranked when the folders beside it cannot be read."""
    from mobeval.board.index import board_entries
    from mobeval.board.rank import rank

    parent = Path(folder).resolve().parent
    try:
        entries, _ = board_entries([parent])
    except (MobevalError, OSError) as exc:
        return RankedRow(entry, None), f"not ranked: the run folders in {parent} could not be read ({exc})"
    for b in rank(entries):
        for r in b.rows:
            if Path(r.entry.path).resolve() == Path(folder).resolve():
                r.entry = entry
                ranked = sum(x.rank is not None for x in b.rows)
                return r, (f"as `mobeval board {parent}` ranks it: among {len(b.rows)} run(s) of {b.bench} there, "
                           f"{ranked} ranked")
    return RankedRow(entry, None), f"not ranked: not found among the run folders in {parent}"


def page(check: RunCheck, script: str | None = None) -> str:
    """The page of a checked run folder that has a result; `script` loads Plotly (inline when None)."""
    import plotly

    from mobeval.board.report_plots import run_plots
    from mobeval.report import _header, summary_table
    from mobeval.core.kinds import task_kind

    r = check.result
    assert r is not None, "report pages are made of runs with a result"
    entry = entry_from_check(check)
    row, among = board_row(entry, check.path)
    board = BenchBoard(entry.bench, entry.kind, [row])
    slug = "run"  # one run on the page
    plots = "".join(plot_div(p) for p in run_plots(r, check.result_samples, board, slug))
    tables = "".join(renderable_html(t) for t in [summary_table(r), *task_kind(r.kind).tables(r)])
    notes = [*(f"problem: {p}" for p in check.problems), *(f"note: {n}" for n in check.notes), *footnotes([board])]
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"{r.model.get('alias')} on {r.runner.get('name')}: {r.data.get('bench')}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{VIEWPORT}<title>mobeval report: {html.escape(title)}'
        f"</title><style>{_STYLE}{_REPORT_STYLE}</style>"
        f"{script or plotly_script('inline', None)}</head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>run folder {html.escape(str(check.path))}; made {made} with plotly {html.escape(plotly.__version__)}</p>"
        f'<pre class="header">{html.escape(Text.from_markup(_header(r)).plain)}</pre>'
        f"<h2>On the board</h2><p>{html.escape(among)}</p>{_table(board, slug)}"
        f'<h2>Figures</h2><div id="{slug}-tables">{tables}</div>'
        f'<h2>Plots</h2><div class="plots">{plots}</div>'
        f'<ul class="notes">{"".join(f"<li>{html.escape(n)}</li>" for n in notes)}</ul>'
        f"<script>{_SORT_JS}</script></body></html>\n"
    )


def write_report_page(path: Path, check: RunCheck, plotly_js: str = "inline") -> None:
    Path(path).write_text(page(check, plotly_script(plotly_js, path)), encoding="utf-8")
