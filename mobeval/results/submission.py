"""The Mobile-MMLU challenge file: question_id,predicted_answer; one row per question."""

from __future__ import annotations

import csv
from pathlib import Path

from mobeval.errors import MobevalError
from mobeval.metrics import group_by_question
from mobeval.samples import Sample
from mobeval.types import LETTERS

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
    problems = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        return [f"{path}: {exc.strerror}"]
    if not rows or rows[0] != HEADER:
        return [f"{path}: header must be {','.join(HEADER)}"]
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            problems.append(f"row {n}: expected 2 columns, got {len(row)}")
            continue
        qid, letter = row
        if qid in seen:
            problems.append(f"row {n}: question {qid} already on row {seen[qid]}")
        seen[qid] = n
        if qid not in n_options:
            problems.append(f"row {n}: unknown question {qid}")
        elif letter not in LETTERS[: n_options[qid]]:
            problems.append(f"row {n}: answer {letter!r} is not a letter of the options")
    missing = [q for q in expected_ids if q not in seen]
    if missing:
        problems.append(f"{len(missing)} of the {len(expected_ids)} selected questions missing (first: {missing[0]})")
    return problems
