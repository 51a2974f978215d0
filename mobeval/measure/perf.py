"""`mobeval perf`: llama-bench's figures (pp512, tg128) plus time to first token, measured on the
same runner object an evaluation uses, with llama.cpp's own timers read alongside.

Each test runs `warmup` times unmeasured, then `reps` times; a result is valid only with at least
MIN_REPS measured repetitions lasting at least `min_duration_s` in all (MLPerf's rule, scaled down).
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import asdict, dataclass, field
from statistics import fmean, pstdev
from typing import Callable

from mobeval.core.errors import MobevalError
from mobeval.measure.environment import cpu_freq_mhz

MIN_REPS = 3
DEFAULT_TTFT = (64, 256, 1024)
MAX_N_CTX = 1 << 20  # as mobeval.config: a context beyond a million tokens is a typo


def check_perf_settings(contexts: list[int], pp: int, tg: int, ttft: list[int], ttft_given: bool, reps: int,
                        warmup: int, min_duration: float, cooldown: float) -> list[int]:
    """Every `mobeval perf` setting checked before a model loads, each error naming its flag. Returns
    the time-to-first-token lengths to run: those given, or the defaults that fit the smallest context."""
    problems = []
    for name, value, least in (("--pp", pp, 0), ("--tg", tg, 0), ("--reps", reps, 1), ("--warmup", warmup, 0),
                               ("--min-duration", min_duration, 0), ("--cooldown", cooldown, 0)):
        if value < least:
            problems.append(f"{name} {value}: must be at least {least}")
    if max(contexts) > MAX_N_CTX:
        problems.append(f"--n-ctx {max(contexts)}: more than {MAX_N_CTX:,} tokens")
    ctx = min(contexts)
    fits = ttft if ttft_given else [n for n in DEFAULT_TTFT if n <= ctx]
    for name, n in (("--pp", pp), ("--tg", tg), *(("--ttft", n) for n in fits)):
        if n > ctx:
            problems.append(f"{name} {n} does not fit --n-ctx {ctx}: give {name} <= {ctx} or a larger --n-ctx")
    if not problems and not (pp or tg or fits):
        problems.append("nothing to measure: --pp 0, --tg 0 and no --ttft length")
    if problems:
        raise MobevalError("; ".join(problems))
    return fits


@dataclass
class PerfTest:
    test: str  # "pp512", "tg128", "ttft@256"
    n_tokens: int
    reps: int
    warmup: int
    seconds: list[float]  # wall time of each measured repetition
    engine_seconds: list[float]  # llama.cpp's own timer for the same repetitions
    tokens_per_s: float
    tokens_per_s_std: float
    engine_tokens_per_s: float
    ratio_to_engine: float  # ours / llama.cpp's: 1.0 means no overhead around the engine
    ttft_ms: float | None
    valid: bool
    reason: str


@dataclass
class PerfConfig:
    n_threads: int
    n_batch: int
    n_ctx: int
    cpu_freq_mhz_before: float | None = None
    cpu_freq_mhz_after: float | None = None
    kv_cache_bytes: int | None = None
    tests: list[PerfTest] = field(default_factory=list)


def _measure(name: str, n: int, run: Callable[[], tuple[float, float]], reps: int, warmup: int,
             min_duration_s: float, ttft: bool = False) -> PerfTest:
    for _ in range(warmup):
        run()
    pairs = [run() for _ in range(reps)]
    wall = [w for w, _ in pairs]
    engine = [e for _, e in pairs]
    tps = [n / w for w in wall]
    engine_tps = fmean(n / e for e in engine) if all(e > 0 for e in engine) else float("nan")
    problems = []
    if reps < MIN_REPS:
        problems.append(f"{reps} repetitions < {MIN_REPS}")
    if sum(wall) < min_duration_s:
        problems.append(f"measured {sum(wall):.2f} s < {min_duration_s} s")
    return PerfTest(
        test=name, n_tokens=n, reps=reps, warmup=warmup, seconds=wall, engine_seconds=engine,
        tokens_per_s=fmean(tps), tokens_per_s_std=pstdev(tps) if len(tps) > 1 else 0.0,
        engine_tokens_per_s=engine_tps, ratio_to_engine=fmean(tps) / engine_tps,
        ttft_ms=1000 * fmean(wall) if ttft else None, valid=not problems, reason="; ".join(problems),
    )


def run_config(make_runner: Callable[[int, int, int], object], n_threads: int, n_batch: int, n_ctx: int,
               pp: int, tg: int, ttft_lengths: list[int], reps: int, warmup: int, min_duration_s: float,
               seed: int = 0) -> PerfConfig:
    """All tests for one (threads, batch, context) setting, on a freshly loaded runner."""
    cfg = PerfConfig(n_threads, n_batch, n_ctx, cpu_freq_mhz_before=cpu_freq_mhz())
    runner = make_runner(n_threads, n_batch, n_ctx)
    try:
        cfg.kv_cache_bytes = runner.kv_cache_bytes()
        rng = random.Random(seed)

        def tokens(n: int) -> list[int]:
            return [rng.randrange(runner.n_vocab) for _ in range(n)]

        if pp:
            cfg.tests.append(_measure(f"pp{pp}", pp, lambda: runner.time_prompt(tokens(pp)), reps, warmup,
                                      min_duration_s))
        if tg:
            cfg.tests.append(_measure(f"tg{tg}", tg, lambda: runner.time_generate(tokens(tg)), reps, warmup,
                                      min_duration_s))
        for n in ttft_lengths:  # each fits n_ctx (check_perf_settings)
            cfg.tests.append(_measure(f"ttft@{n}", n, lambda n=n: runner.time_prompt(tokens(n)), reps, warmup,
                                      min_duration_s, ttft=True))
    finally:
        runner.close()
    cfg.cpu_freq_mhz_after = cpu_freq_mhz()
    return cfg


def sweep(make_runner, threads: list[int], batches: list[int], contexts: list[int], cooldown_s: float = 0.0,
          **kw) -> list[PerfConfig]:
    out = []
    for i, (t, b, c) in enumerate(itertools.product(threads, batches, contexts)):
        if i and cooldown_s:
            time.sleep(cooldown_s)
        out.append(run_config(make_runner, t, b, c, **kw))
    return out


def to_json(configs: list[PerfConfig]) -> list[dict]:
    return [asdict(c) for c in configs]
