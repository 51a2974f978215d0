"""`mobeval board`: every run under some results directories, checked, ranked per benchmark; as a
terminal table, Markdown, CSV, JSON, or one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mobeval.core.formats import Format
from mobeval.cli.common import app, err, fail, out
from mobeval.core.errors import MobevalError


@app.command()
def board(
    results_dirs: list[Path] = typer.Argument(None, help="Folders holding run folders or submission bundles (folders or .tar.gz), or bundles themselves (default: results)."),
    bench: str = typer.Option(None, "--bench", help="Only this benchmark (its exact name)."),
    model: str = typer.Option(None, "--model", help="Only models whose alias contains this (any case)."),
    runner: str = typer.Option(None, "--runner", help="Only runners whose name contains this (any case)."),
    device: str = typer.Option(None, "--device", help="Only runs on a CPU whose name contains this (any case)."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, md, csv or json (on stdout)."),
    html: Path = typer.Option(None, "--html", help="Also write the board as one self-contained HTML page here."),
    plotly_js: str = typer.Option("inline", "--plotly-js", help="inline | beside. Plotly's script (4.6 MB) inside "
                                  "the page, or one plotly-VERSION.min.js beside it, shared by the pages there."),
    rebuild_index: bool = typer.Option(False, "--rebuild-index",
                                       help="Read every folder again and rebuild each directory's index."),
    no_index: bool = typer.Option(False, "--no-index", help="Read every folder; neither use nor write an index."),
) -> None:
    """Every run folder, checked and ranked per benchmark: accuracy with 95% intervals, latency, speed,
    memory, energy, model size. Incomplete, killed, damaged or invalid-latency runs are marked and never
    ranked as if whole."""
    if plotly_js not in ("inline", "beside"):
        fail(f"--plotly-js {plotly_js}: inline or beside")
    from mobeval.board import render
    from mobeval.board.index import board_entries
    from mobeval.board.rank import Filters, rank

    try:
        entries, stats = board_entries(results_dirs or [Path("results")], use_index=not no_index,
                                       rebuild=rebuild_index)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    boards = rank(entries, Filters(bench=bench, model=model, runner=runner, device=device))
    for s in stats:
        err.print(f"[dim]{escape(s.line())}[/]", highlight=False, soft_wrap=True)
    if fmt is Format.table:
        out.print(render.terminal(boards), highlight=False)
    else:
        text = {Format.md: render.markdown, Format.csv: render.to_csv, Format.json: render.to_json}[fmt]
        out.file.write(text(boards))
    if html is not None:
        try:
            from mobeval.board.html import write_page
        except ImportError as exc:
            fail(f"--html needs Plotly ({exc.name} is not installed): pip install -e '.[board]'")
        try:
            write_page(html, boards, plotly_js)
        except OSError as exc:
            fail(f"--html {html}: cannot write ({exc.strerror})")
        err.print(f"page: {html}", highlight=False, soft_wrap=True, markup=False)
