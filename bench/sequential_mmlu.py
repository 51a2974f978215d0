"""Stopping early on real MMLU: does `--until ci=0.02` give the full run's accuracy inside its interval, and what
does it save?

    python bench/sequential_mmlu.py [--data ../shared/data/mmlu] [--until ci=0.02] [--limit N] [--subjects a,b]
                                    [--orderings original] [--threads 2] [--seeds 200]
                                    [--json bench/results/sequential_mmlu.json]

Two real runs of the bundled model (SmolLM2-135M, llama.cpp) on the MMLU subset (`--bench mmlu --data DIR`), on
the same selection: the whole selection, then the same selection under `--until` (a seeded random order, stopped
once the 95% confidence sequence of accuracy, mean over orderings, is within ± the half-width). It compares them:
the full run's accuracy inside the stopped run's interval? the items and the evaluation time saved. Then, from
the full run's per-question values alone (a question's value does not depend on the order it is asked in), it
replays the same rule under `--seeds` other seeds: how often the full accuracy lies in the interval at the stop,
and how many questions each stop took. Prints a table; writes JSON (bench/results/ is not committed).

Skipped, with a message, where the MMLU folder is absent. Try it with a small --limit and a wide --until first
(e.g. --limit 30 --until ci=0.2): the full selection of the subset is about 1,700 questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

SHARED_MMLU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mmlu"


def _eval_seconds(path: Path) -> float:
    from mobeval.results.store import RunDir

    return sum(g.eval_time_s for g in RunDir(path).segments())


def _values(path: Path) -> tuple[list[str], list[float]]:
    """The full run's questions (selection order) and their values (the mcq kind's item_values)."""
    from mobeval.core.kinds import task_kind
    from mobeval.results.store import RunDir

    run = RunDir(path)
    values = task_kind("mcq").item_values(run.samples())
    ids = [q for q in run.selection().question_ids if q in values]
    return ids, [values[q] for q in ids]


def replay(ids: list[str], values: list[float], truth: float, half_width: float, seeds: int) -> dict:
    """The --until rule on the full run's values in the seeded order of each of `seeds` seeds (1..seeds)."""
    from mobeval.measure.sequential import confidence_sequence
    from mobeval.stopping import TOLERANCE, run_order

    by_id = dict(zip(ids, values))
    used, covered, widths = [], [], []
    for seed in range(1, seeds + 1):
        x = [by_id[q] for q in run_order(ids, seed)]
        cs = confidence_sequence(x, alpha=0.05, population=len(x))
        within = np.flatnonzero((cs.high - cs.low) / 2 <= half_width + TOLERANCE)
        t = int(within[0]) if within.size else len(x) - 1
        used.append(t + 1)
        covered.append(bool(cs.low[t] - 1e-9 <= truth <= cs.high[t] + 1e-9))
        widths.append(float(cs.high[t] - cs.low[t]) / 2)
    used_a = np.array(used)
    return {"seeds": seeds, "coverage": float(np.mean(covered)), "items_used_mean": float(used_a.mean()),
            "items_used_p10": float(np.percentile(used_a, 10)), "items_used_p90": float(np.percentile(used_a, 90)),
            "share_of_items_mean": float(used_a.mean() / len(values)), "half_width_mean": float(np.mean(widths))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED_MMLU)
    ap.add_argument("--until", default="ci=0.02")
    ap.add_argument("--limit", type=int, default=None, help="a stratified sample of N questions (default: all)")
    ap.add_argument("--subjects", default="", help="comma-separated subjects (default: every one in --data)")
    ap.add_argument("--orderings", default="original")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="the stopped run's --seed (its order)")
    ap.add_argument("--seeds", type=int, default=200, help="seeds replayed on the full run's values (0: none)")
    ap.add_argument("--json", type=Path, default=Path("bench/results/sequential_mmlu.json"))
    args = ap.parse_args()

    if not (args.data / "test").is_dir():
        print(f"skipped: no MMLU data at {args.data} (expected its test/ folder of <subject>_test.csv files; "
              "give --data DIR)")
        return

    import mobeval
    from mobeval.core.errors import MobevalError
    from mobeval.measure.environment import environment
    from mobeval.stopping import parse_until

    half_width = parse_until(args.until).half_width
    settings = {"bench": "mmlu", "data": args.data, "orderings": args.orderings, "threads": args.threads,
                "idle_seconds": 0, "energy": "off", "seed": args.seed,
                **({"limit": args.limit} if args.limit else {}),
                **({"subjects": [s.strip() for s in args.subjects.split(",") if s.strip()]} if args.subjects else {})}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            full = mobeval.run(output_dir=Path(tmp) / "full", **settings)
            stopped = mobeval.run(output_dir=Path(tmp) / "stopped", until=args.until, **settings)
            full_eval, stopped_eval = _eval_seconds(full.path), _eval_seconds(stopped.path)
            ids, values = _values(full.path)
    except MobevalError as exc:
        sys.exit(f"error: {exc}")

    truth = full.file.section().scores.accuracy_mean
    s = stopped.sequential
    n = len(ids)
    row = {
        "bench": "mmlu", "data": str(args.data), "orderings": args.orderings, "until": args.until,
        "seed": args.seed, "questions_selected": full.file.data["n_items_selected"],
        "full_accuracy_mean": truth, "full_eval_seconds": full_eval,
        "full_wall_seconds": full.performance["wall_time"].value,
        "stopped_estimate": s.estimate, "stopped_low": s.low, "stopped_high": s.high, "stop_reason": s.stop_reason,
        "stopped_items_used": s.items_used, "stopped_items_left": s.items_left,
        "stopped_eval_seconds": stopped_eval, "stopped_wall_seconds": stopped.performance["wall_time"].value,
        "full_inside_interval": bool(s.low <= truth <= s.high),
        "items_saved": n - s.items_used, "items_saved_share": (n - s.items_used) / n if n else None,
        "eval_seconds_saved": full_eval - stopped_eval,
    }
    rep = replay(ids, values, truth, half_width, args.seeds) if args.seeds > 0 else None

    print(f"MMLU ({args.data}), {n} questions selected, orderings {args.orderings}, --until {args.until}")
    print(f"{'run':<26} {'questions':>9} {'accuracy (mean over orderings)':>36} {'eval s':>8} {'wall s':>8}")
    print(f"{'full':<26} {n:>9} {100 * truth:>35.1f}% {full_eval:>8.1f} {row['full_wall_seconds']:>8.1f}")
    interval = f"{100 * s.estimate:.1f}% [{100 * s.low:.1f}, {100 * s.high:.1f}]"
    print(f"{'--until ' + args.until + f' (seed {args.seed})':<26} {s.items_used:>9} {interval:>36} "
          f"{stopped_eval:>8.1f} {row['stopped_wall_seconds']:>8.1f}")
    print(f"stopped: {s.stop_reason}; full accuracy inside the interval: {'yes' if row['full_inside_interval'] else 'NO'}"
          f"; saved {row['items_saved']} questions ({100 * (row['items_saved_share'] or 0):.0f}%) and "
          f"{row['eval_seconds_saved']:.1f} s of evaluation")
    if rep:
        print(f"replayed on the full run's values, seeds 1..{rep['seeds']}: full accuracy inside the interval at the "
              f"stop in {100 * rep['coverage']:.1f}% of seeds; questions used mean {rep['items_used_mean']:.1f} "
              f"(p10 {rep['items_used_p10']:.0f}, p90 {rep['items_used_p90']:.0f}) of {n}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"run": row, "replay": rep, "environment": environment()}, indent=2,
                                    default=str) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
