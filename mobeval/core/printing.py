"""How figures are written in the terminal: percentages, byte sizes, figures with their units; and the
one Table every terminal table is made with, whose text is never read as markup."""

from __future__ import annotations

from typing import Any

from rich import table as rich_table
from rich.markup import escape

from mobeval.core.figures import Figure


def plain(value: Any) -> str:
    """Text from data (a class, field or category name, a subject, a file or model name, a message holding
    one) made safe to put in rich markup: "[/bold]" or "[link=...]" in it is shown, not read as a tag."""
    return escape(str(value))


def _cell(value: Any) -> Any:
    return escape(value) if isinstance(value, str) else value


class Table(rich_table.Table):
    """rich's Table, for tables that show data: every str cell, column header, title and caption is text,
    not markup (rich.markup.escape), so a class named "[/bold]" is shown as that name instead of raising a
    MarkupError, and "[tech] cats" keeps its "[tech]". A cell meant to be styled is given as rich Text."""

    def __init__(self, *headers: Any, title: Any = None, caption: Any = None, **kwargs: Any) -> None:
        super().__init__(*(_cell(h) for h in headers), title=_cell(title), caption=_cell(caption), **kwargs)

    def add_column(self, header: Any = "", footer: Any = "", **kwargs: Any) -> None:
        super().add_column(_cell(header), _cell(footer), **kwargs)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*(_cell(c) for c in renderables), **kwargs)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fig(f: Figure | None, fmt: str = "{:.3f}") -> str:
    if f is None:
        return "n/a"
    if f.value is None:
        return f"unavailable ({f.note})" if f.note else "unavailable"
    if f.unit == "bytes":
        return human_bytes(f.value)
    if f.unit == "s" and f.value < 1:
        return f"{f.value * 1000:.1f} ms"
    return f"{fmt.format(f.value)} {f.unit}"
