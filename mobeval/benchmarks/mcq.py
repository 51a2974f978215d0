"""Any local file of multiple-choice questions (CSV, JSONL, parquet), read through a column mapping.

Mapping keys (--columns / `columns:`): question; options ("A,B,C,D": one column per option) or
choices (one column holding a list); and optionally id (default: an id or question_id column, else
the row number), answer, answer_format ("letter" or "index", 0-based) and field.
"""

from __future__ import annotations

from pathlib import Path

from mobeval.benchmarks.base import BenchmarkData, BenchOptions
from mobeval.benchmarks.tabular import Row, read_table
from mobeval.benchmarks.validate import (
    apply_answers, cell, check_unique, column_map, make_question, parse_choices,
)
from mobeval.errors import DataError
from mobeval.types import LETTERS, Question

KEYS = ("id", "question", "options", "choices", "answer", "answer_format", "field")


def _present(rows: list[Row], *names: str) -> list[str]:
    """Those of `names` that are columns of the file (case-insensitively), in the order given."""
    have = {k.strip().lower() for k in rows[0][1]} if rows else set()
    return [n for n in names if n.lower() in have]


def resolve_mapping(file: str, rows: list[Row], columns: dict[str, str]) -> dict[str, str]:
    """The mapping with defaults filled in: role -> column name (options as a comma list)."""
    unknown = sorted(set(columns) - set(KEYS))
    if unknown:
        raise DataError(f"column mapping: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    if "options" in columns and "choices" in columns:
        raise DataError("column mapping: give either options (one column per option) or choices, not both")
    m = {"question": "question", "answer_format": "letter", **columns}
    if "options" not in m and "choices" not in m:
        letters = _present(rows, *LETTERS)
        if letters:
            m["options"] = ",".join(letters)
        elif _present(rows, "choices"):
            m["choices"] = "choices"
        else:
            raise DataError(f"{file}: no option columns A-J or choices column; map them with "
                            "options (e.g. A,B,C,D) or choices")
    defaults = {"id": ("id", "question_id"), "answer": ("answer",), "field": ("field", "subject"),
                "category": ("category",)}
    for role, default in defaults.items():
        if role not in m and (found := _present(rows, *default)):
            m[role] = found[0]
    return m


def _questions(file: str, rows: list[Row], m: dict[str, str]) -> list[Question]:
    option_cols = [c.strip() for c in m["options"].split(",") if c.strip()] if "options" in m else []
    wanted = [m[r] for r in ("id", "question", "choices", "answer", "field", "category") if r in m]
    cols = column_map(file, rows, [*wanted, *option_cols])

    def value(n: int, row: dict[str, str], role: str) -> str:
        return cell(file, n, row, cols[m[role]]) if role in m else ""

    out = []
    for n, row in rows:
        if option_cols:
            options = [cell(file, n, row, cols[c]) for c in option_cols]
        else:
            options = parse_choices(file, n, value(n, row, "choices"))
        out.append(make_question(
            file, n, qid=value(n, row, "id") if "id" in m else str(n), question=value(n, row, "question"),
            options=options, answer=value(n, row, "answer"), answer_format=m["answer_format"],
            field=value(n, row, "field"), category=value(n, row, "category"),
        ))
    return out


def load(opts: BenchOptions) -> BenchmarkData:
    """Questions from the one file --data names, with the "mcq" template."""
    if opts.data is None:
        raise DataError("the mcq benchmark reads a local file: give --data FILE (.csv, .jsonl or .parquet)")
    path = Path(opts.data)
    file = str(path)
    rows = read_table(path)
    if not rows:
        raise DataError(f"{file}: no rows")
    questions = _questions(file, rows, resolve_mapping(file, rows, dict(opts.columns)))
    check_unique(questions)
    return BenchmarkData("mcq", apply_answers(questions, opts.answers), "mcq", [file])
