"""Commands that read run folders: report, compare, submit. Each checks the folder first
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


@app.command()
def submit(result_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Write the run's submission.csv again, for every selected question, and check it: every question
    once, letters only. Missing questions are a problem, never a shorter file called valid."""
    from mobeval.results.submission import check_submission, write_submission

    check = _checked(result_dir, "submit", need_result=False)
    if not check.samples:
        fail(f"{result_dir}: no samples yet")
    answered = list(dict.fromkeys(s.question_id for s in check.samples))
    ids = check.selection.question_ids if check.selection else answered
    path = check.path / "submission.csv"
    try:
        write_submission(path, check.samples, ids)
    except MobevalError as exc:
        fail(str(exc))
    problems = check_submission(path, ids, {s.question_id: len(s.order) for s in check.samples})
    selected = check.result.data.get("n_questions_selected") if check.result else None
    if check.selection is None and selected is not None and selected > len(ids):
        problems.append(f"{selected - len(ids)} of the run's {selected} selected questions have no samples")
    if problems:
        fail(f"{path} is not valid:\n  " + "\n  ".join(problems)
             + ("" if check.complete else f"\nthe run is unfinished: continue it with the same command and "
                                          f"--resume --run-dir {check.path}"))
    out.print(f"{path}: {len(ids)} questions, valid" + ("" if check.complete else " (the run is partial)"),
              highlight=False)
