"""The `mobeval` command line: one module per group of commands, registered on one typer app."""

from __future__ import annotations

import sys

from mobeval.cli import board_cmd, catalog_cmd, fastest_cmd, gen_cmd, matrix_cmd, merge_cmd, perf_cmd, quantize_cmd, run_cmd, runs_cmd, submit_cmd, sweep_cmd, train_cmd  # noqa: F401  (registers the commands)
from mobeval.cli.common import app, err, fail, out

__all__ = ["app", "err", "fail", "main", "out"]


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
