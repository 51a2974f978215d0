"""The memory sampler's own cost: the same llama.cpp scoring work with and without it running.

    python bench/sampler_overhead.py [--rounds 5] [--prompts 24] [--json bench/results/sampler_overhead.json]

Alternates the two conditions round by round (so drift in the machine's speed hits both alike) and
prints the median time of each and their ratio. Uses the bundled SmolLM2 model and questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from mobeval.core.benchmarks import BenchOptions, load_benchmark
from mobeval.measure.memory import PeakMemorySampler
from mobeval.text.models import resolve
from mobeval.text.prompts import load_template
from mobeval.text.runners.llamacpp import LlamaCppRunner
from mobeval.text.types import ChoiceRequest


def workload(runner: LlamaCppRunner, requests: list[ChoiceRequest]) -> float:
    runner.llm.n_tokens = 0  # start each round from an empty cache
    t0 = time.perf_counter()
    runner.score_choices(requests)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--json", type=Path, default=Path("bench/results/sampler_overhead.json"))
    args = ap.parse_args()

    bench = load_benchmark("everyday-mobile", BenchOptions())
    template = load_template(None, bench.default_template)
    questions = bench.questions[: args.prompts]
    requests = [ChoiceRequest(bench.prompt(template, q, tuple(range(4))), template.continuations(4)) for q in questions]
    runner = LlamaCppRunner(resolve("smollm2-135m")[1])
    workload(runner, requests)  # warm-up
    without, with_sampler, samples = [], [], []
    for _ in range(args.rounds):
        without.append(workload(runner, requests))
        with PeakMemorySampler() as mem:
            with_sampler.append(workload(runner, requests))
        samples.append(mem.samples)
    runner.close()
    a, b = statistics.median(without), statistics.median(with_sampler)
    rows = [("without sampler", a, 0), ("with sampler (10 ms RSS, 0.25 s USS/PSS)", b, statistics.median(samples))]
    print(f"{'condition':<44} {'median s':>9} {'samples':>8}")
    for name, t, n in rows:
        print(f"{name:<44} {t:>9.3f} {n:>8}")
    print(f"ratio with/without: {b / a:.4f}  ({args.rounds} rounds of {len(requests)} prompts)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "rounds": args.rounds, "prompts": len(requests), "without_s": without, "with_s": with_sampler,
        "median_without_s": a, "median_with_s": b, "ratio": b / a, "samples_per_round": samples,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
