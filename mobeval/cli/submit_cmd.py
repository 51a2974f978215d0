"""`mobeval submit RUN`: write the challenge's submission.csv again and check it; `--check`: every check of
the run as a submission, one verdict per concern; `--bundle OUT`: the submission bundle for the board."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mobeval.cli.common import app, err, fail, out
from mobeval.core.errors import MobevalError

_STYLE = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow"}


def _write_challenge_file(result_dir: Path) -> None:
    """The challenge's submission.csv, written again for every selected question, and checked: every
    question once, letters only. Missing questions are a problem, never a shorter file called valid."""
    from mobeval.cli.runs_cmd import _checked
    from mobeval.text.task.submission import check_submission, write_submission

    check = _checked(result_dir, "submit", need_result=False)
    if not check.samples:
        fail(f"{result_dir}: no samples yet")
    answered = list(dict.fromkeys(s.question_id for s in check.samples))
    ids = check.selection.question_ids if check.selection else answered
    path = check.path / "submission.csv"
    try:
        write_submission(path, check.samples, ids)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    problems = check_submission(path, ids, {s.question_id: len(s.order) for s in check.samples})
    selected = check.result.data.get("n_questions_selected") if check.result else None
    if check.selection is None and selected is not None and selected > len(ids):
        problems.append(f"{selected - len(ids)} of the run's {selected} selected questions have no samples")
    if problems:
        fail(f"{path} is not valid:\n  " + "\n  ".join(problems)
             + ("" if check.complete else f"\nthe run is unfinished: continue it with the same command and "
                                          f"--resume --run-dir {check.path}"))
    out.print(f"{path}: {len(ids)} questions, valid" + ("" if check.complete else " (the run is partial)"),
              highlight=False, markup=False)


@app.command()
def submit(
    result_dir: Path = typer.Argument(..., help="A run folder (or a bundle folder)."),
    check: bool = typer.Option(False, "--check", help="Check the run as a submission, one verdict (PASS, FAIL, "
                               "SKIP) per concern, writing nothing; exit 1 on any FAIL."),
    bundle: Path = typer.Option(None, "--bundle", help="Write the submission bundle for `mobeval board` here: a "
                                "folder, or OUT.tar.gz (the run's files, environment.json, sha256 manifest)."),
) -> None:
    """Without options: write the run's submission.csv (the Mobile-MMLU challenge file) again and check it.
    --check: every question once, letters only, ids the benchmark's, the run complete, the result's hashes
    matching its files, figures recomputed from the samples, latency valid. --bundle: the bundle for the board."""
    if not check and bundle is None:
        _write_challenge_file(result_dir)
        return
    from mobeval.results.integrity import check_run
    from mobeval.submit.checks import check_submission_run

    if not result_dir.is_dir():
        fail(f"{result_dir}: no such run folder")
    verdicts = check_submission_run(result_dir)
    failed = [v for v in verdicts if v.status == "FAIL"]
    if check:
        width = max(len(v.check) for v in verdicts)
        for v in verdicts:
            out.print(f"[{_STYLE[v.status]}]{v.status}[/] {escape(v.check.ljust(width))}  {escape(v.reason)}",
                      highlight=False, soft_wrap=True)
        counts = {s: sum(v.status == s for v in verdicts) for s in ("PASS", "FAIL", "SKIP")}
        out.print(f"{escape(str(result_dir))}: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + " — "
                  + ("[bold red]not a valid submission[/]" if failed else "[green]valid submission[/]"),
                  highlight=False, soft_wrap=True)
    if bundle is not None:
        from mobeval.submit.bundle import write_bundle

        try:
            written = write_bundle(check_run(result_dir, need_result=False), verdicts, bundle)
        except MobevalError as exc:
            fail(str(exc), exc.exit_code)
        err.print(f"bundle: {written}" + (f" ({len(failed)} check(s) FAIL, recorded in it: the board marks what "
                                          "they mean)" if failed else ""), highlight=False, soft_wrap=True,
                  markup=False)
    if check and failed:
        raise typer.Exit(1)
