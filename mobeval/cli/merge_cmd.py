"""`mobeval merge`: join the run folders of `mobeval run --shard K/N` into one run (results/merge.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mobeval.cli.common import app, fail, out
from mobeval.core.errors import MobevalError


@app.command()
def merge(
    run_dirs: list[Path] = typer.Argument(..., help="The run folders of every shard (mobeval run --shard K/N)."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", help="Where the merged run folder goes "
                                              "\\[default: beside the first shard]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No report; print the merged run folder."),
) -> None:
    """Join the shards of one run into one run folder, after checking that they share every setting that
    changes a record, are complete and intact, and together cover the selection exactly once."""
    from mobeval.report import print_report
    from mobeval.results.merge import merge as merge_shards

    try:
        run = merge_shards(run_dirs, output_dir if output_dir is not None else run_dirs[0].parent)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    if quiet:
        out.print(str(run.path))
        return
    print_report(run.result(), out)
    shards = run.result().provenance.merged_from or []
    out.print(f"merged {len(shards)} shards into {run.path}", highlight=False, markup=False)
    for s in shards:
        m = s["machine"]
        out.print(f"  {s['shard']}: {s['folder']} (samples sha256 {s['samples_sha256'][:12]}…) on {m['cpu']}, "
                  f"{m['cpu_logical']} logical cores", highlight=False, markup=False)
