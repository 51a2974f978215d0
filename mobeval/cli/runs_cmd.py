"""Commands that read run folders: report, compare (submit: cli/submit_cmd.py). Each checks the folder first
(results/integrity.py) and refuses a damaged one, saying which file and what is wrong."""

from __future__ import annotations

from pathlib import Path

import typer

from mobeval.cli.common import app, err, fail, out
from mobeval.errors import MobevalError


def _checked(path: Path, action: str, need_result: bool = True):
    """The folder's RunCheck, its notes printed; the command ends with the problems otherwise."""
    from mobeval.results.integrity import verified

    try:
        check = verified(path, action, need_result)
    except MobevalError as exc:
        fail(str(exc))
    for note in check.notes:
        err.print(f"[yellow]note:[/] {path}: {note}", highlight=False)
    return check


@app.command()
def report(result_dir: Path = typer.Argument(..., help="A run folder (results/<model>__<bench>__<time>).")) -> None:
    """Print the report of a finished run again, from its files, without the model."""
    from mobeval.report import print_report

    print_report(_checked(result_dir, "report").result, out)


@app.command()
def compare(result_dirs: list[Path] = typer.Argument(..., help="Two or more run folders; the first is the reference.")) -> None:
    """Runs side by side: accuracy, consistency, per-question agreement, latency, memory, energy."""
    from mobeval.compare import compare_table

    if len(result_dirs) < 2:
        fail("compare needs at least two run folders")
    checks = [_checked(d, "compare") for d in result_dirs]
    results = [c.result for c in checks]
    names = [f"#{i + 1} {r.model['alias']} / {r.runner['name']}" for i, r in enumerate(results)]
    out.print(compare_table(names, results, [c.result_samples for c in checks]))

