"""What every command shares: the typer apps, the two consoles, and how an error is printed."""

from __future__ import annotations

import typer
import typer.core
import typer.rich_utils

from mobeval.core.console import emit, err, fail, out
from mobeval.core.formats import Format

__all__ = ["FORMAT", "app", "emit", "err", "fail", "list_app", "out"]

# every command that prints tables takes it: a drawing for people, or json / csv / md for scripts
FORMAT = typer.Option(Format.table, "--format", help="table (for people), or json, csv, md (for scripts), on stdout.")

# typer's help shows a flag (--quiet, --chat/--no-chat) with a "<bool>" value it does not take; a flag shows none
_display_type = typer.core.TyperOption.display_type_rich


def _flag_shows_no_type(self, ctx):
    return None if getattr(self, "is_flag", False) else _display_type(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_shows_no_type


class _HelpTable(typer.rich_utils.Table):
    """typer's options table, with every column but the help text as wide as its widest cell: at 80 columns a
    flag's name is never cut short ("--graph-optimiza…"); the help text wraps instead."""

    def add_row(self, *renderables, **kwargs):
        super().add_row(*renderables, **kwargs)
        for column, cell in zip(self.columns[:-1], renderables[:-1]):
            width = cell.cell_len if hasattr(cell, "cell_len") else len(str(cell or ""))
            column.min_width = max(column.min_width or 0, width)
            column.no_wrap = True


typer.rich_utils.Table = _HelpTable

app = typer.Typer(no_args_is_help=True,
                  help="How good is this model, on this runtime, on this device, and what does it cost.")


def _version(value: bool) -> None:
    if value:
        from mobeval.core.version import __version__

        emit(f"mobeval {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print mobeval's version and exit.")) -> None:
    """How good is this model, on this runtime, on this device, and what does it cost."""
list_app = typer.Typer(no_args_is_help=True, help="List models, benchmarks or prompt templates.")
app.add_typer(list_app, name="list")
