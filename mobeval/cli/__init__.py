"""The `mobeval` command line: one module per group of commands, registered on one typer app."""

from __future__ import annotations

import sys

import typer

from mobeval.cli import (board_cmd, catalog_cmd, export_cmd, fastest_cmd, matrix_cmd, merge_cmd,  # noqa: F401
                         run_cmd, runs_cmd, submit_cmd, sweep_cmd)  # (each registers its commands)
from mobeval.cli.common import app, err, fail, out
from mobeval.core.catalog import catalog, load_target

# the commands a modality adds (`gen spectrum`, `train spectrum`, `quantize`, `perf`), named by the catalogs
for _name, _target in catalog().commands.items():
    _command = load_target(_target)
    if isinstance(_command, typer.Typer):
        app.add_typer(_command, name=_name)
    else:
        app.command(_name)(_command)

__all__ = ["app", "err", "fail", "main", "out"]


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
