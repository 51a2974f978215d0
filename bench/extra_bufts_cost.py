"""What the AMX fallback costs: llama.cpp's prompt and decode speed with its extra buffer types (AMX, weight
repacking) on and off, on the same build, model and threads.

    python bench/extra_bufts_cost.py [--models smollm2-135m,gemma3-270m] [--threads 2] [--rounds 3] [--reps 3]

The build guard (mobeval/runners/llamacpp_build.py) turns extra buffer types off only where the AMX path
crashes; this measures what that costs where both settings run. The settings alternate round after round
(this machine's speed drifts by several percent a minute). pp: 512 tokens as one prompt from an empty cache
(llama-bench's pp512); tg: 128 single-token decodes (tg128). Prints a table and writes JSON (default
bench/results/extra_bufts_cost.json).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from mobeval.measure.environment import environment
from mobeval.models import resolve
from mobeval.runners.llamacpp_params import open_llama


def speeds(path: Path, extra: bool, threads: int, reps: int) -> tuple[float, float]:
    llm = open_llama(path, use_extra_bufts=extra, n_ctx=1024, n_batch=512, n_threads=threads,
                     n_threads_batch=threads)
    rng = random.Random(0)
    vocab = llm.n_vocab()
    pp, tg = [], []
    try:
        for rep in range(reps + 1):  # the first repetition warms up and is dropped
            tokens = [rng.randrange(vocab) for _ in range(512)]
            llm.n_tokens = 0
            t0 = time.perf_counter()
            llm.eval(tokens)
            t1 = time.perf_counter()
            llm.n_tokens = 0
            for t in tokens[:128]:
                llm.eval([t])
            t2 = time.perf_counter()
            if rep:
                pp.append(512 / (t1 - t0))
                tg.append(128 / (t2 - t1))
    finally:
        llm.close()
    return statistics.median(pp), statistics.median(tg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="smollm2-135m,gemma3-270m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/extra_bufts_cost.json"))
    args = ap.parse_args()
    env = environment()
    rows = []
    for alias in args.models.split(","):
        spec, path = resolve(alias)
        runs = {True: [], False: []}
        for _ in range(args.rounds):
            for extra in (True, False):
                runs[extra].append(speeds(path, extra, args.threads, args.reps))
        on_pp, on_tg = (statistics.mean(r[i] for r in runs[True]) for i in (0, 1))
        off_pp, off_tg = (statistics.mean(r[i] for r in runs[False]) for i in (0, 1))
        rows.append({"model": alias, "quant": spec.quant, "pp512_on": on_pp, "pp512_off": off_pp,
                     "tg128_on": on_tg, "tg128_off": off_tg, "pp_ratio_off_on": off_pp / on_pp,
                     "tg_ratio_off_on": off_tg / on_tg, "rounds": runs})
    print(f"{env['cpu']}, {env['cpu_logical']} logical cores, threads {args.threads}, "
          f"{args.rounds} rounds x {args.reps} reps; llama.cpp features: "
          + " ".join(k for k, v in (env["llama_cpp_features"] or {}).items() if v == "1"))
    print(f"{'model':<14}{'quant':<8}{'pp512 on':>10}{'pp512 off':>11}{'off/on':>8}{'tg128 on':>10}{'tg128 off':>11}{'off/on':>8}")
    for r in rows:
        print(f"{r['model']:<14}{r['quant']:<8}{r['pp512_on']:>10.1f}{r['pp512_off']:>11.1f}{r['pp_ratio_off_on']:>8.3f}"
              f"{r['tg128_on']:>10.1f}{r['tg128_off']:>11.1f}{r['tg_ratio_off_on']:>8.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"environment": env, "threads": args.threads, "rows": rows}, indent=2) + "\n")
    print(f"json: {args.out}")


if __name__ == "__main__":
    main()
