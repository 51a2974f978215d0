"""Any local file of multiple-choice questions (CSV, JSONL, parquet), read through a column mapping.

Mapping keys (--columns / `columns:`): question; options ("A,B,C,D": one column per option) or
choices (one column holding a list); and optionally id (default: an id or question_id column, else
the row number), answer, answer_format ("letter" or "index", 0-based), field, category and
ignore (columns left unread on purpose, as a comma list). Every other column is an error, so a
column meant as an option or a key is never dropped unseen: the mapping, `ignore` included, is
recorded with the run.
"""

from __future__ import annotations

from pathlib import Path

from mobeval.text.benchmarks.base import BenchmarkData, BenchOptions
from mobeval.core.tabular import Row, columns_of, read_table
from mobeval.text.benchmarks.validate import (
    apply_answers, cell, check_unique, column_map, make_question, parse_choices,
)
from mobeval.core.errors import DataError
from mobeval.text.types import LETTERS, Question

KEYS = ("id", "question", "options", "choices", "answer", "answer_format", "field", "category", "ignore")
ROLES = ("id", "question", "choices", "answer", "field", "category")  # keys naming one column each
HINT = ("map a column with --column ROLE=NAME (roles: id, question, options, choices, answer, field, "
        "category), or leave it unread with --column ignore=NAME[,NAME...]")


def _names(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _letter_run(file: str, letters: list[str]) -> str:
    """Option columns found by their letters: a run from A, else an error naming the gap."""
    expected = list(LETTERS[: len(letters)])
    if [c.upper() for c in letters] != expected:
        gap = next(e for e, c in zip(expected, letters) if c.upper() != e)
        raise DataError(f"{file}: option columns {', '.join(letters)} skip {gap!r}; they must run from A "
                        "without a gap, or be mapped with --column options=COL,COL,...")
    return ",".join(letters)


def _present(rows: list[Row], *names: str) -> list[str]:
    """Those of `names` that are columns of the file (case-insensitively), in the order given."""
    have = {k.strip().lower() for k in columns_of(rows)}
    return [n for n in names if n.lower() in have]


def resolve_mapping(file: str, rows: list[Row], columns: dict[str, str]) -> dict[str, str]:
    """The mapping with defaults filled in: role -> column name (options as a comma list)."""
    unknown = sorted(set(columns) - set(KEYS))
    if unknown:
        raise DataError(f"column mapping: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    if "options" in columns and "choices" in columns:
        raise DataError("column mapping: give either options (one column per option) or choices, not both")
    m = {"question": "question", "answer_format": "letter", **columns}
    if m["answer_format"] not in ("letter", "index"):
        raise DataError(f"column mapping: answer_format must be 'letter' or 'index', not {m['answer_format']!r}")
    if "options" not in m and "choices" not in m:
        letters = _present(rows, *LETTERS)
        if letters:
            m["options"] = _letter_run(file, letters)
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
    option_cols = _names(m["options"]) if "options" in m else []
    if len({c.lower() for c in option_cols}) != len(option_cols):
        raise DataError(f"column mapping: options {m['options']!r} names a column twice")
    wanted = [m[r] for r in ROLES if r in m]
    cols = column_map(file, rows, [*wanted, *option_cols], ignored=_names(m.get("ignore", "")), hint=HINT)

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
