"""`mobeval matrix`: a plan of models x quantizations x benchmarks x runners x devices, run as jobs on Ray."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.text import Text

from mobeval.cli.common import app, err, fail, out
from mobeval.core.errors import MobevalError
from mobeval.core.printing import Table


@app.command()
def matrix(
    plan_file: Path = typer.Argument(..., help="YAML plan (see configs/matrix-example.yaml)."),
    address: str | None = typer.Option(None, "--address", help="Join this Ray cluster (e.g. 10.0.0.5:6379); "
                                          "default: start a local one on this machine."),
    out_dir: Path = typer.Option(Path("results/matrix"), "--out", help="The results folder: one run folder per "
                                 "job under jobs/, and matrix.json; a rerun continues the jobs found there."),
    max_retries: int | None = typer.Option(None, "--max-retries", min=0, help="Retries of a job whose worker "
                                              "or node is lost (default: the plan's max_retries, else 3)."),
    num_cpus: int | None = typer.Option(None, "--num-cpus", min=1, help="CPUs of the local cluster, i.e. "
                                           "jobs at once on this machine (default: all cores); not with --address."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress; print the results folder."),
) -> None:
    """Run every job of a plan on Ray, each a `mobeval run` in its own process with its own run folder; a job
    whose worker or node is lost is retried and continues its run folder. Latency-measuring jobs hold their
    device alone (a Ray resource of 1 per device)."""
    from mobeval.matrix.driver import run_matrix
    from mobeval.matrix.plan import load_plan

    if num_cpus is not None and address is not None:
        fail("--num-cpus sizes the local cluster; a cluster joined with --address has its own")
    try:
        plan, jobs = load_plan(plan_file)
        if not quiet:
            err.print(f"{len(jobs)} job(s) from {plan_file}; results in {out_dir}", highlight=False, markup=False)
        run = run_matrix(plan, jobs, plan_file, out_dir, address, max_retries, None if quiet else err, num_cpus)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        err.print(f"\n[yellow]interrupted[/]: finished items are kept in {escape(str(out_dir))}; run the same command "
                  "again to continue every unfinished job")
        raise typer.Exit(130)
    if quiet:
        out.print(str(run.out))
    else:
        table = Table(title=f"matrix: {len(run.results) - len(run.failed)} of {len(run.results)} jobs done in "
                            f"{run.wall_s:.0f} s on {run.cluster}", title_justify="left")
        for col in ("job (jobs/...)", "status", "attempts", "items", "run folder / error"):
            table.add_column(col, overflow="fold")
        for r in run.results:
            items = f"{r.items}/{r.total}" if r.total is not None else "-"
            where = Path(r.run).name if r.status == "done" else Text(r.error, style="red")
            table.add_row(r.job.id, r.status, str(r.attempts), items, where)
        out.print(table)
        out.print(f"matrix.json: {run.out / 'matrix.json'}\nboard: mobeval board {run.out}", highlight=False,
                  markup=False)
    if run.failed:
        raise typer.Exit(1)
