"""The vlm kind's headline figures counted again from a run folder's samples.jsonl, independently of
mobeval's scorer: each multiple-choice record's choice is the arg-max of its log-probs and is right when the
option shown there is the key; an open record is right when its answer is the reference. Every record counts
(the warm-up one is left out of the timings only)."""

from __future__ import annotations

import json
from pathlib import Path


def recount(folder: Path) -> dict[str, float]:
    records = [json.loads(line) for line in (Path(folder) / "samples.jsonl").read_text().splitlines()]
    mc = [r for r in records if r["order"]]
    opened = [r for r in records if not r["order"]]
    out: dict[str, float] = {}
    if mc:
        for r in mc:
            best = max(range(len(r["logprobs"])), key=r["logprobs"].__getitem__)
            assert r["choice"] == best, r
        right = [r["order"][r["choice"]] == r["answer"] for r in mc]
        out["accuracy_mean"] = sum(right) / len(mc)
        first = [ok for r, ok in zip(mc, right) if r["ordering"] == 0]
        out["accuracy_original"] = sum(first) / len(first)
    if opened:
        out["exact_match"] = sum(r["text"].strip() == r["reference"] for r in opened) / len(opened)
    return out


def assert_figures_recount(folder: Path) -> None:
    task = json.loads((Path(folder) / "result.json").read_text())["task"]
    got = recount(folder)
    if "accuracy_mean" in got:
        for key in ("accuracy_mean", "accuracy_original"):
            assert abs(task["multiple_choice"][key] - got[key]) < 1e-9, (key, task["multiple_choice"][key], got[key])
    if "exact_match" in got:
        assert abs(task["open"]["exact_match"] - got["exact_match"]) < 1e-9, (task["open"], got)
