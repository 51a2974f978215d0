"""The two terminals every command writes to (results on stdout, progress and errors on stderr) and how an
error is shown to the user: one line, no traceback, exit code 2."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def emit(text: str) -> None:
    """A line for scripts (a run folder, a path): written as is, never wrapped or styled, whatever the terminal."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> None:
    # soft_wrap: a command in the message (a rebuild line) must stay one line to copy; escape: a URL's
    # "[::1]" or a file name's brackets are text, not markup
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
