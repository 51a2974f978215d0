"""What every command shares: the typer apps, the two consoles, and how an error is printed."""

from __future__ import annotations

import typer

from mobeval.core.console import err, fail, out

__all__ = ["app", "err", "fail", "list_app", "out"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="How good is this model, on this runtime, on this device, and what does it cost.")
list_app = typer.Typer(no_args_is_help=True, help="List models, benchmarks or prompt templates.")
app.add_typer(list_app, name="list")
