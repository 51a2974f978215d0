"""The Mobile-MMLU challenge file (question_id,predicted_answer; one row per question): written from a run's
samples, and checked as a submission, one list of problems per concern: every selected question once (none
missing, none twice, none unknown), and every answer a letter of that question's options."""

from __future__ import annotations

import csv
from pathlib import Path

from mobeval.core.errors import MobevalError
from mobeval.text.metrics import group_by_question
from mobeval.text.samples import Sample
from mobeval.text.types import LETTERS

HEADER = ["question_id", "predicted_answer"]


def predictions(samples: list[Sample]) -> dict[str, str]:
    """The answer under the original order, as the letter of that order; '' where it was invalid."""
    out = {}
    for qid, group in group_by_question(samples).items():
        original = group[0]
        if original.ordering != 0:
            raise MobevalError(f"question {qid}: the original ordering was not scored")
        option = original.chosen_option
        out[qid] = "" if option is None else LETTERS[option]
    return out


def write_submission(path: Path, samples: list[Sample], question_ids: list[str]) -> None:
    preds = predictions(samples)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for qid in question_ids:
            if qid in preds:
                w.writerow([qid, preds[qid]])


def check_submission(path: Path, expected_ids: list[str], n_options: dict[str, int]) -> list[str]:
    """Problems with a submission file; empty when it is valid (every question once, letters only)."""

    return [p for problems in challenge_file_problems(path, expected_ids, n_options).values() for p in problems]


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
