"""Commands that read run folders: report, compare, submit."""

from __future__ import annotations

from pathlib import Path

import typer

from mobeval.cli.common import app, fail, out
from mobeval.errors import MobevalError


@app.command()
def report(result_dir: Path = typer.Argument(..., help="A run folder (results/<model>__<bench>__<time>).")) -> None:
    """Print the report of a finished run again, from its files, without the model."""
    from mobeval.report import print_report
    from mobeval.results.store import RunDir

    try:
        print_report(RunDir(result_dir).result(), out)
    except MobevalError as exc:
        fail(str(exc))


@app.command()
def compare(result_dirs: list[Path] = typer.Argument(..., help="Two or more run folders; the first is the reference.")) -> None:
    """Runs side by side: accuracy, consistency, per-question agreement, latency, memory, energy."""
    from mobeval.compare import compare_table
    from mobeval.results.store import RunDir

    if len(result_dirs) < 2:
        fail("compare needs at least two run folders")
    try:
        runs = [RunDir(d) for d in result_dirs]
        results = [r.result() for r in runs]
        samples = [r.samples() for r in runs]
    except MobevalError as exc:
        fail(str(exc))
    names = [f"#{i + 1} {r.model['alias']} / {r.runner['name']}" for i, r in enumerate(results)]
    out.print(compare_table(names, results, samples))


@app.command()
def submit(result_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Write the run's submission.csv again and check it: every question once, letters only."""
    from mobeval.results.store import RunDir
    from mobeval.results.submission import check_submission, write_submission

    try:
        run_folder = RunDir(result_dir)
        run_folder.identity()
        samples = run_folder.samples()
        if not samples:
            fail(f"{result_dir}: no samples yet")
        ids = list(dict.fromkeys(s.question_id for s in samples))
        path = run_folder.path / "submission.csv"
        write_submission(path, samples, ids)
        problems = check_submission(path, ids, {s.question_id: len(s.order) for s in samples})
    except MobevalError as exc:
        fail(str(exc))
    if problems:
        fail(f"{path} is not valid:\n  " + "\n  ".join(problems))
    complete = run_folder.is_complete()
    out.print(f"{path}: {len(ids)} questions, valid" + ("" if complete else " (the run is partial)"),
              highlight=False)
