"""The Mobile-MMLU challenge file (question_id,predicted_answer) checked as a submission, one list of
problems per concern: every selected question once (none missing, none twice, none unknown), and every
answer a letter of that question's options."""

from __future__ import annotations

import csv
from pathlib import Path

from mobeval.results.submission import HEADER
from mobeval.types import LETTERS

EVERY_ONCE = "every question once"
LETTERS_ONLY = "letters only"


def challenge_file_problems(path: Path, expected_ids: list[str], n_options: dict[str, int]) -> dict[str, list[str]]:
    """{EVERY_ONCE: problems, LETTERS_ONLY: problems} of the file at `path` (empty lists: it passes)."""
    once: list[str] = []
    letters: list[str] = []
    name = path.name
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        why = [f"{name}: unreadable ({getattr(exc, 'strerror', None) or exc})"]
        return {EVERY_ONCE: why, LETTERS_ONLY: why}
    if not rows or rows[0] != HEADER:
        why = [f"{name}: the header must be {','.join(HEADER)}"]
        return {EVERY_ONCE: why, LETTERS_ONLY: why}
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            once.append(f"{name} row {n}: 2 columns expected, {len(row)} found")
            continue
        qid, letter = row
        if qid in seen:
            once.append(f"{name} row {n}: question {qid} is already on row {seen[qid]}")
            continue
        seen[qid] = n
        if qid not in n_options:
            once.append(f"{name} row {n}: question {qid} is not one the run selected")
        elif letter not in LETTERS[: n_options[qid]]:
            allowed = f"{LETTERS[0]}-{LETTERS[n_options[qid] - 1]}"
            letters.append(f"{name} row {n}: question {qid}: answer {letter!r} is not a letter {allowed}"
                           + (" (the model's answer could not be read as an option)" if letter == "" else ""))
    missing = [q for q in expected_ids if q not in seen]
    if missing:
        once.append(f"{name}: {len(missing)} of the {len(expected_ids)} selected questions have no row "
                    f"(first: {missing[0]})")
    return {EVERY_ONCE: once, LETTERS_ONLY: letters}
