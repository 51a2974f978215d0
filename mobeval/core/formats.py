"""Tables for scripts: any table a command prints, as JSON, CSV or Markdown instead of a terminal drawing
(`--format`), with its text plain (no markup, no styles) and nothing wrapped."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from enum import Enum
from typing import Any

from rich.console import Console
from rich.errors import MarkupError
from rich.table import Table
from rich.text import Text

from mobeval.core.console import emit


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


def plain_text(cell: Any) -> str:
    """A cell's text as a reader sees it: rich Text as its plain string, markup (escaped data included) read."""
    if cell is None:
        return ""
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        try:
            return Text.from_markup(cell).plain
        except MarkupError:
            return cell
    console = Console(width=10_000, color_system=None, file=io.StringIO())
    with console.capture() as captured:
        console.print(cell)
    return captured.get().rstrip("\n")


def table_data(table: Any) -> dict[str, Any]:
    """{"title", "columns", "rows"}: every cell as plain text (something printed that is not a table: one cell)."""
    if not isinstance(table, Table):
        return {"title": "", "columns": ["text"], "rows": [[plain_text(table)]]}
    columns = [plain_text(c.header) for c in table.columns]
    cells = [[plain_text(x) for x in c._cells] for c in table.columns]
    rows = [list(r) for r in zip(*cells)] if cells else []
    return {"title": plain_text(table.title), "columns": columns, "rows": rows}


def _csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(data["columns"])
    w.writerows(data["rows"])
    return buf.getvalue().rstrip("\n")


def _md(data: dict[str, Any]) -> str:
    def row(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    lines = [f"### {data['title']}", ""] if data["title"] else []
    lines += [row(data["columns"]), row("---" for _ in data["columns"]), *(row(r) for r in data["rows"])]
    return "\n".join(lines)


def write_tables(tables: list[Table], fmt: Format, console: Console) -> None:
    """Print `tables` as a terminal drawing (fmt table), or as JSON (a list of tables), CSV (one block a table,
    a "# title" line before it, blocks apart by a blank line) or Markdown, on stdout."""
    if fmt == Format.table:
        for t in tables:
            console.print(t)
        return
    data = [table_data(t) for t in tables]
    if fmt == Format.json:
        emit(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == Format.csv:
        emit("\n\n".join((f"# {d['title']}\n" if d["title"] else "") + _csv(d) for d in data))
    else:
        emit("\n\n".join(_md(d) for d in data))
