"""Recompute a run's MMLU accuracy without mobeval: the raw CSV key against the raw choices.

    python bench/independent_accuracy.py RESULT_DIR ../shared/data/mmlu

Reads the answer letters straight from <data>/test/<subject>_test.csv (question id
"<subject>/<record number>") and each sample's option order and chosen position from samples.jsonl, then
prints accuracy under the original order, mean over orderings and strict, next to result.json's.
Imports nothing from mobeval, so it checks the loader, the ordering map-back and the metrics.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path


def answer_key(data: Path) -> dict[str, str]:
    key = {}
    for f in sorted((data / "test").glob("*_test.csv")):
        subject = f.name[: -len("_test.csv")]
        with open(f, newline="", encoding="utf-8") as fh:
            for record, row in enumerate(csv.reader(fh), start=1):
                key[f"{subject}/{record}"] = row[5].strip()
    return key


def recompute(run_dir: Path, data: Path) -> dict[str, float]:
    key = answer_key(data)
    by_q: dict[str, list[bool]] = defaultdict(list)
    original: dict[str, bool] = {}
    for line in (run_dir / "samples.jsonl").read_text().splitlines():
        s = json.loads(line)
        chosen = "ABCD"[s["order"][s["choice"]]] if s["choice"] is not None else None
        right = chosen == key[s["question_id"]]
        by_q[s["question_id"]].append(right)
        if s["ordering"] == 0:
            original[s["question_id"]] = right
    n = len(by_q)
    return {
        "questions": n,
        "accuracy_original": sum(original.values()) / n,
        "accuracy_mean": sum(sum(v) / len(v) for v in by_q.values()) / n,
        "accuracy_strict": sum(all(v) for v in by_q.values()) / n,
    }


def main() -> None:
    run_dir, data = Path(sys.argv[1]), Path(sys.argv[2])
    mine = recompute(run_dir, data)
    theirs = json.loads((run_dir / "result.json").read_text())["task"]["scores"]
    print(f"{'figure':<20} {'independent':>12} {'mobeval':>12}")
    ok = True
    for name in ("accuracy_original", "accuracy_mean", "accuracy_strict"):
        print(f"{name:<20} {mine[name]:>12.4f} {theirs[name]:>12.4f}")
        ok &= abs(mine[name] - theirs[name]) < 1e-9
    print(f"questions: {mine['questions']} (mobeval {theirs['n_questions']}); match: {ok}")
    sys.exit(0 if ok and mine["questions"] == theirs["n_questions"] else 1)


if __name__ == "__main__":
    main()
