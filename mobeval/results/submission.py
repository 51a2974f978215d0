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
    from mobeval.submit.challenge_csv import challenge_file_problems  # it imports HEADER from here

    return [p for problems in challenge_file_problems(path, expected_ids, n_options).values() for p in problems]
