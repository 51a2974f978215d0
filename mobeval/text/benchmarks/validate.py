"""Checks shared by the loaders; each failure is a DataError "{file}, row {n}: {what}"."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from mobeval.core.tabular import Row, cell_text, columns_of, read_table
from mobeval.core.errors import DataError
from mobeval.text.types import LETTERS, Question

MIN_OPTIONS, MAX_OPTIONS = 2, len(LETTERS)


def row_error(file: str, row: int, what: str) -> DataError:
    return DataError(f"{file}, row {row}: {what}")


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


def column_map(file: str, rows: Sequence[Row], required: Sequence[str],
               optional: Sequence[str] = (), ignored: Sequence[str] = (), hint: str = "") -> dict[str, str]:
    """Wanted column name -> the file's own spelling, matched case-insensitively.

    The columns are those the file names (tabular.columns_of; a short row lacks some, a JSONL object
    may too); a missing
    optional column is left out of the map. Every column must be read: one that is neither
    required, optional nor `ignored` (the user's own choice) is an error naming it, as are two
    columns whose names differ only in case; `hint` says how to fix it.
    """
    if not rows:
        raise DataError(f"{file}: no rows")
    have: dict[str, str] = {}
    for k in columns_of(rows):
        other = have.setdefault(k.strip().lower(), k)
        if other != k:
            raise DataError(f"{file}: columns {other!r} and {k!r} differ only in case; rename one")
    missing = [c for c in required if c.strip().lower() not in have]
    if missing:
        raise DataError(f"{file}: missing column{'s' if len(missing) > 1 else ''} {_quoted(missing)}"
                        f" (columns: {_quoted(have.values())})")
    known = {c.strip().lower() for c in (*required, *optional, *ignored)}
    unknown = [k for low, k in have.items() if low not in known]
    if unknown:
        expected = _quoted(required) + (f", and optionally {_quoted(optional)}" if optional else "")
        unnamed = " (an unnamed column: a comma at the end of the header?)" if "" in have else ""
        raise DataError(f"{file}: unknown column{'s' if len(unknown) > 1 else ''} {_quoted(unknown)}{unnamed};"
                        f" expected {expected}{'; ' + hint if hint else ''}")
    return {c: have[c.strip().lower()] for c in (*required, *optional) if c.strip().lower() in have}


def cell(file: str, n: int, row: dict[str, str], column: str) -> str:
    """The row's value in `column`; a row without one is a short row."""
    if column not in row:
        raise row_error(file, n, f"short row: no value for column {column!r}")
    return row[column]


def check_options(file: str, n: int, options: Sequence[str]) -> None:
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise row_error(file, n, f"{len(options)} options; a question needs {MIN_OPTIONS} to {MAX_OPTIONS}")
    for letter, text in zip(LETTERS, options):
        if not text.strip():
            raise row_error(file, n, f"option {letter} is empty")


def parse_choices(file: str, n: int, text: str) -> list[str]:
    """Options held in one cell as a JSON list (or a Python list literal, as pandas writes one)."""
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
    if not isinstance(value, (list, tuple)):
        raise row_error(file, n, f"choices {text[:60]!r} is not a list")
    return [cell_text(v) for v in value]


def parse_answer(file: str, n: int, value: str, n_options: int, answer_format: str = "letter") -> int | None:
    """The answer as an index into the options; "" is no answer.

    `answer_format` is "letter" (A-J) or "index" (0-based).
    """
    value = value.strip()
    if not value:
        return None
    letters = LETTERS[:n_options]
    if answer_format == "index":
        try:
            index = int(float(value)) if float(value).is_integer() else -1
        except ValueError:
            raise row_error(file, n, f"answer {value!r} is not a 0-based option index") from None
        if not 0 <= index < n_options:
            raise row_error(file, n, f"answer {value!r} is outside the options 0-{n_options - 1}")
        return index
    if answer_format != "letter":
        raise DataError(f"{file}: answer_format must be 'letter' or 'index', not {answer_format!r}")
    if value.upper() not in letters or len(value) != 1:
        hint = " (for 0-based numbers set answer_format: index)" if value.isdigit() else ""
        raise row_error(file, n, f"answer {value!r} is not one of the options {letters[0]}-{letters[-1]}{hint}")
    return letters.index(value.upper())


def make_question(file: str, n: int, *, qid: str, question: str, options: Sequence[str], answer: str = "",
                  answer_format: str = "letter", field: str = "", category: str = "") -> Question:
    """A checked Question: an id, a non-empty question, 2-10 non-empty options, an answer among them."""
    if not qid.strip():
        raise row_error(file, n, "empty question id")
    if not question.strip():
        raise row_error(file, n, "empty question")
    check_options(file, n, options)
    return Question(
        id=qid.strip(), question=question, options=tuple(options),
        answer=parse_answer(file, n, answer, len(options), answer_format),
        field=field.strip(), category=category.strip(), source=f"{file}, row {n}",
    )


def check_unique(questions: Sequence[Question]) -> None:
    """Question ids must be unique: the error names both rows."""
    seen: dict[str, Question] = {}
    for q in questions:
        if q.id in seen:
            raise DataError(f"{q.source}: duplicate question id {q.id!r} (also {seen[q.id].source})")
        seen[q.id] = q


def _answer_rows(path: Path) -> dict[str, tuple[int, str]]:
    """question_id -> (row, letter) from an answers file."""
    file = str(path)
    rows = read_table(path)
    cols = column_map(file, rows, ["question_id", "answer"], hint="an answers file has only these two columns")
    out: dict[str, tuple[int, str]] = {}
    for n, row in rows:
        qid = cell(file, n, row, cols["question_id"]).strip()
        letter = cell(file, n, row, cols["answer"]).strip().upper()
        if not qid:
            raise row_error(file, n, "empty question_id")
        if len(letter) != 1 or letter not in LETTERS:
            raise row_error(file, n, f"answer {letter!r} is not a letter A-{LETTERS[-1]}")
        if qid in out:
            raise row_error(file, n, f"duplicate question id {qid!r} (also row {out[qid][0]})")
        out[qid] = (n, letter)
    return out


def read_answers(path: Path) -> dict[str, str]:
    """question_id -> answer letter, from a `question_id,answer` file (--answers)."""
    return {qid: letter for qid, (_, letter) in _answer_rows(path).items()}


def apply_answers(questions: Sequence[Question], path: Path | None) -> list[Question]:
    """The questions with the answers file's key, which overrides theirs; unlisted questions keep theirs."""
    if path is None:
        return list(questions)
    file = str(path)
    key = _answer_rows(path)
    by_id = {q.id: q for q in questions}
    for qid, (n, letter) in key.items():
        q = by_id.get(qid)
        if q is None:
            raise row_error(file, n, f"question id {qid!r} is not in the benchmark")
        if LETTERS.index(letter) >= len(q.options):
            raise row_error(file, n, f"answer {letter!r} is not one of the options A-{LETTERS[len(q.options) - 1]}"
                                     f" of question {qid!r}")
    return [replace(q, answer=LETTERS.index(key[q.id][1])) if q.id in key else q for q in questions]
