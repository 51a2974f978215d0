"""What every command shares: the typer apps, the two consoles, and how an error is printed."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="How good is this model, on this runtime, on this device, and what does it cost.")
list_app = typer.Typer(no_args_is_help=True, help="List models, benchmarks or prompt templates.")
app.add_typer(list_app, name="list")
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    # soft_wrap: a command in the message (a rebuild line) must stay one line to copy; escape: a URL's
    # "[::1]" or a file name's brackets are text, not markup
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
