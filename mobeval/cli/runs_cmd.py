"""Commands that read run folders: report, compare (submit: cli/submit_cmd.py). Each checks the folder first
(results/integrity.py) and refuses a damaged one, saying which file and what is wrong."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mobeval.cli.common import FORMAT, app, emit, err, fail, out
from mobeval.core.formats import Format, write_tables
from mobeval.core.errors import MobevalError


def _checked(path: Path, action: str, need_result: bool = True):
    """The folder's RunCheck, its notes printed; the command ends with the problems otherwise."""
    from mobeval.results.integrity import verified
    from mobeval.submit.checks import recomputed

    try:
        check = recomputed(verified(path, action, need_result), action)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    for note in check.notes:
        err.print(f"[yellow]note:[/] {escape(f'{path}: {note}')}", highlight=False)
    return check


@app.command()
def report(result_dir: Path = typer.Argument(..., help="A run folder (results/<model>__<bench>__<time>)."),
           html: Path = typer.Option(None, "--html", help="Also write the run as one self-contained HTML page here "
                                     "(tables and its kind's plots; needs Plotly: pip install -e '.\\[board]')."),
           plotly_js: str = typer.Option("inline", "--plotly-js", help="inline | beside. Plotly's script (4.6 MB) "
                                         "inside the page, or one plotly-VERSION.min.js beside it, shared by the "
                                         "pages there."),
           fmt: Format = FORMAT) -> None:
    """Print the report of a finished run again, from its files, without the model. --format json prints the
    run's result (result.json, checked); csv and md its tables."""
    from mobeval.report import print_report, report_tables

    if plotly_js not in ("inline", "beside"):
        fail(f"--plotly-js {plotly_js}: inline or beside")
    check = _checked(result_dir, "report")
    if fmt == Format.json:
        emit(check.result.model_dump_json(indent=2))
    elif fmt == Format.table:
        print_report(check.result, out)
    else:
        write_tables(report_tables(check.result), fmt, out)
    if html is not None:
        try:
            from mobeval.board.report_html import write_report_page
        except ImportError as exc:
            fail(f"--html needs Plotly ({exc.name} is not installed): pip install -e '.[board]'")
        try:
            write_report_page(html, check, plotly_js)
        except OSError as exc:
            fail(f"--html {html}: cannot write ({exc.strerror})")
        err.print(f"page: {html}", highlight=False, soft_wrap=True, markup=False)


@app.command()
def compare(result_dirs: list[Path] = typer.Argument(..., help="Two or more run folders; the first is the reference."),
            fmt: Format = FORMAT) -> None:
    """Runs side by side: accuracy, consistency, per-question agreement, latency, memory, energy; then each
    run against the first on the same items: the difference with its 95% interval, flips, McNemar's p."""
    from mobeval.comparison import compare_tables

    if len(result_dirs) < 2:
        fail("compare needs at least two run folders")
    checks = [_checked(d, "compare") for d in result_dirs]
    results = [c.result for c in checks]
    names = [f"#{i + 1} {r.model['alias']} / {r.runner['name']}" for i, r in enumerate(results)]
    records = [c.result_samples for c in checks]
    try:
        tables = compare_tables(names, results, records)
    except MobevalError as exc:  # runs of different kinds
        fail(str(exc), exc.exit_code)
    write_tables(tables, fmt, out)

