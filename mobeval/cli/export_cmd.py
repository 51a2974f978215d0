"""`mobeval export`: runs in the formats other tools read (mobeval/export.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mobeval.cli.common import app, emit, err, fail
from mobeval.core.errors import MobevalError


@app.command()
def export(
    result_dirs: list[Path] = typer.Argument(..., help="One or more run folders."),
    to: str = typer.Option("lm-eval", "--to", help=(
        "lm-eval | csv | jsonl | items-csv | mlflow. lm-eval: lm-evaluation-harness's results file (one run); "
        "csv, jsonl: every figure of every run, a row each, with unit and interval; items-csv: the run's "
        "samples, a row each (one run); mlflow: an MLflow run per run (pip install -e '.\\[mlflow]').")),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="mlflow: the tracking server or "
                                               "folder (default: MLflow's own, MLFLOW_TRACKING_URI or ./mlruns)."),
    experiment: str = typer.Option("mobeval", "--experiment", help="mlflow: the experiment's name."),
) -> None:
    """Export runs for other tools: lm-evaluation-harness's results layout, a long table of every figure,
    a per-item table, or MLflow. Each run folder is checked first, as `mobeval report` checks it."""
    import json

    import mobeval
    from mobeval import export as ex

    if to not in ex.TARGETS:
        fail(f"--to {to}: one of {', '.join(ex.TARGETS)}")
    single = to in ("lm-eval", "items-csv")
    if single and len(result_dirs) > 1:
        fail(f"--to {to}: one run at a time ({len(result_dirs)} given); csv and jsonl take many")
    if output is not None and to == "mlflow":
        fail("--output: not for --to mlflow (it writes to the tracking server; give --tracking-uri)")
    try:
        results = [mobeval.load(d) for d in result_dirs]
        for r in results:
            for note in r.notes:
                err.print(f"note: {r.path}: {note}", highlight=False, markup=False, soft_wrap=True)
        if to == "mlflow":
            for run_id, r in zip(ex.to_mlflow(results, tracking_uri, experiment), results):
                emit(f"{r.path}\t{run_id}")
            return
        text = {"lm-eval": lambda: json.dumps(ex.lm_eval_results(results[0]), indent=2) + "\n",
                "csv": lambda: ex.table_csv(results), "jsonl": lambda: ex.table_jsonl(results),
                "items-csv": lambda: ex.items_csv(results[0])}[to]()
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    if output is None:
        emit(text.rstrip("\n"))
        return
    try:
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    except OSError as exc:
        fail(f"--output {output}: cannot write ({exc.strerror})")
    err.print(f"wrote {output}", highlight=False, markup=False, soft_wrap=True)
