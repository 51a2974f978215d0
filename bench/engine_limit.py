"""How close a mobeval run comes to the runtime's own prompt-processing speed.

    python bench/engine_limit.py [--subject marketing] [--orderings original,cyclic] [--threads 2] [--n-batch 512]

For each orderings spec: one real `mobeval` evaluation (llama.cpp runner, SmolLM2-135M) of the MMLU
subject in ../shared/data/mmlu (the bundled everyday-mobile set where that folder is absent), then
llama.cpp's prompt speed on the same runner settings: pp at n_batch tokens (llama-bench's pp512) and
pp at the run's mean evaluated tokens per request (the batch sizes the run actually decoded).
Prints a table and writes JSON (default bench/results/engine_limit.json). Installs nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

import mobeval.engine as engine
from mobeval.config import load_config
from mobeval.measure.environment import environment
from mobeval.text.models import resolve
from mobeval.text.runners.llamacpp import LlamaCppRunner

SHARED_MMLU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mmlu"


def evaluate(spec: str, args, out: Path) -> dict:
    if SHARED_MMLU.is_dir():
        bench = {"bench": "mmlu", "data": SHARED_MMLU, "subjects": [args.subject]}
    else:
        bench = {"bench": "everyday-mobile"}
    cfg = load_config(None, {**bench, "orderings": spec, "threads": args.threads, "n_batch": args.n_batch,
                             "output_dir": out, "idle_seconds": 0})
    plan = engine.plan(cfg)
    result = engine.execute(plan, engine.open_run_dir(plan, False, None)).result()
    perf, scores = result.performance, result.section().scores
    return {
        "bench": cfg.bench, "subject": args.subject if cfg.bench == "mmlu" else None, "orderings": spec,
        "questions": scores.n_questions, "requests": scores.n_samples,
        "prompt_tokens": perf["prompt_tokens"].value, "evaluated_tokens": perf["evaluated_tokens"].value,
        "evaluated_tokens_per_s": perf["evaluated_tokens_per_s"].value,
        "wall_time_s": perf["wall_time"].value, "accuracy_original": scores.accuracy_original,
    }


def prompt_speed(runner: LlamaCppRunner, n_tokens: int, reps: int) -> float:
    rng = random.Random(0)
    runner.time_prompt([rng.randrange(runner.n_vocab) for _ in range(n_tokens)])  # warm-up
    rates = [n_tokens / runner.time_prompt([rng.randrange(runner.n_vocab) for _ in range(n_tokens)])[0]
             for _ in range(reps)]
    return statistics.mean(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subject", default="marketing")
    ap.add_argument("--orderings", default="original,cyclic")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path, default=Path("bench/results/engine_limit.json"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        runs = [evaluate(spec, args, Path(tmp)) for spec in args.orderings.split(",")]
    runner = LlamaCppRunner(resolve("smollm2-135m")[1], n_threads=args.threads, n_batch=args.n_batch)
    try:
        pp_batch = prompt_speed(runner, args.n_batch, args.reps)
        for r in runs:
            mean_request = round(r["evaluated_tokens"] / r["requests"])
            r["mean_evaluated_tokens_per_request"] = mean_request
            r["pp_at_mean_request_tokens_per_s"] = prompt_speed(runner, mean_request, args.reps)
            r["ratio_to_pp_n_batch"] = r["evaluated_tokens_per_s"] / pp_batch
            r["ratio_to_pp_at_mean_request"] = r["evaluated_tokens_per_s"] / r["pp_at_mean_request_tokens_per_s"]
    finally:
        runner.close()

    print(f"llama.cpp pp{args.n_batch}: {pp_batch:.1f} tokens/s (threads {args.threads}, n_batch {args.n_batch})")
    head = f"{'orderings':<10} {'questions':>9} {'prompt tok':>10} {'evaluated':>10} {'eval tok/s':>10} " \
           f"{'wall s':>7} {'/pp' + str(args.n_batch):>8} {'mean req':>8} {'/pp@req':>8}"
    print(head)
    for r in runs:
        print(f"{r['orderings']:<10} {r['questions']:>9} {r['prompt_tokens']:>10.0f} {r['evaluated_tokens']:>10.0f} "
              f"{r['evaluated_tokens_per_s']:>10.1f} {r['wall_time_s']:>7.1f} {r['ratio_to_pp_n_batch']:>8.3f} "
              f"{r['mean_evaluated_tokens_per_request']:>8} {r['ratio_to_pp_at_mean_request']:>8.3f}")
    if len(runs) > 1:
        print(f"wall time {runs[-1]['orderings']} / {runs[0]['orderings']}: "
              f"{runs[-1]['wall_time_s'] / runs[0]['wall_time_s']:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"pp_n_batch_tokens_per_s": pp_batch, "threads": args.threads,
                                     "n_batch": args.n_batch, "runs": runs, "environment": environment()},
                                    indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
