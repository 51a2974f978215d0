"""`mobeval perf`: raw engine speed on the runner an evaluation uses."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from mobeval.core.console import err, fail, out
from mobeval.core.errors import MobevalError
from mobeval.measure.contention import RULE, ContentionSampler
from mobeval.core.printing import Table


def _int_list(text: str, flag: str, least: int = 1) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or any(v < least for v in values):
        fail(f"{flag} {text!r}: expected comma-separated whole numbers >= {least}, e.g. 1,2")
    return values


def perf(
    model: str = typer.Option("smollm2-135m", help="Model alias or .gguf path."),
    threads: str = typer.Option("", help="Thread counts to sweep, e.g. 1,2.", show_default="all cores"),
    n_batch: str = typer.Option("512", help="Batch sizes to sweep, e.g. 128,512."),
    n_ctx: str = typer.Option("2048", help="Context lengths to sweep."),
    pp: int = typer.Option(512, help="Prompt-processing test length (llama-bench pp); 0 skips it."),
    tg: int = typer.Option(128, help="Generation test length (llama-bench tg); 0 skips it."),
    ttft: Optional[str] = typer.Option(None, help="Prompt lengths for time to first token; \"\" for none.",
                                       show_default="64,256,1024: those that fit --n-ctx"),
    reps: int = typer.Option(5, help="Measured repetitions per test."),
    warmup: int = typer.Option(1, help="Unmeasured repetitions before them."),
    min_duration: float = typer.Option(1.0, help="A test is valid only if its repetitions last this long (s)."),
    cooldown: float = typer.Option(0.0, help="Seconds to idle between swept settings."),
    output_dir: Path = typer.Option(Path("results"), help="Where perf__<model>__<time>.json goes."),
) -> None:
    """Raw engine speed (pp512, tg128, time to first token) on the runner an evaluation uses."""
    import json
    import os
    from datetime import datetime

    from mobeval.measure.environment import environment
    from mobeval.measure.perf import DEFAULT_TTFT, check_perf_settings, sweep, to_json
    from mobeval.text.models import resolve
    from mobeval.text.runners.llamacpp import LlamaCppRunner

    thread_list = _int_list(threads, "--threads") if threads else [os.cpu_count() or 1]
    batches, contexts = _int_list(n_batch, "--n-batch"), _int_list(n_ctx, "--n-ctx")
    ttft_lengths = _int_list(ttft, "--ttft") if ttft else []
    try:
        ttft_lengths = check_perf_settings(contexts, pp=pp, tg=tg, ttft=ttft_lengths, ttft_given=ttft is not None,
                                           reps=reps, warmup=warmup, min_duration=min_duration, cooldown=cooldown)
        spec, path = resolve(model)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    if ttft is None and len(ttft_lengths) < len(DEFAULT_TTFT):
        skipped = ", ".join(str(n) for n in DEFAULT_TTFT if n not in ttft_lengths)
        err.print(f"note: time to first token at {skipped} tokens skipped: longer than --n-ctx {min(contexts)}",
                  highlight=False)

    def make(t: int, b: int, c: int):
        return LlamaCppRunner(path, n_threads=t, n_batch=b, n_ctx=c)

    with err.status(f"measuring {escape(spec.alias)} ..."):
        sampler = ContentionSampler().start()
        try:
            configs = sweep(make, thread_list, batches, contexts, cooldown_s=cooldown, pp=pp, tg=tg,
                            ttft_lengths=ttft_lengths, reps=reps, warmup=warmup, min_duration_s=min_duration)
        except MobevalError as exc:
            fail(str(exc), exc.exit_code)
        contention = sampler.stop()
    t = Table(title=f"{spec.alias} ({spec.quant}) on llama.cpp", header_style="bold")
    for col in ("setting", "test", "tokens/s", "llama.cpp's timer", "ratio", "TTFT", "valid"):
        t.add_column(col, justify="right", no_wrap=col in ("setting", "tokens/s"))
    for c in configs:
        for r in c.tests:
            t.add_row(f"t={c.n_threads} b={c.n_batch} c={c.n_ctx}", r.test,
                      f"{r.tokens_per_s:.1f} ± {r.tokens_per_s_std:.1f}", f"{r.engine_tokens_per_s:.1f}",
                      f"{r.ratio_to_engine:.3f}", "" if r.ttft_ms is None else f"{r.ttft_ms:.0f} ms",
                      "yes" if r.valid else "no*")
    out.print(t)
    for c in configs:
        for r in c.tests:
            if not r.valid:
                out.print(f"* {r.test} at t={c.n_threads} b={c.n_batch} c={c.n_ctx}: {r.reason}", highlight=False,
                          markup=False)
    for c in configs:
        out.print(f"t={c.n_threads} b={c.n_batch} c={c.n_ctx}: CPU {c.cpu_freq_mhz_before} -> "
                  f"{c.cpu_freq_mhz_after} MHz, KV cache {c.kv_cache_bytes / 2**20:.1f} MiB (f16, computed)",
                  highlight=False)
    if contention.contended:
        out.print(f"[yellow]warning: measured under contention[/]: {escape(contention.describe())} ({RULE}); these "
                  f"speeds are not the engine's own: {escape(contention.remedy())}", highlight=False)
    output_dir.mkdir(parents=True, exist_ok=True)
    dest = output_dir / f"perf__{spec.alias}__{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    dest.write_text(json.dumps({
        "schema_version": "mobeval.perf/1", "model": {"alias": spec.alias, "path": str(path), "quant": spec.quant},
        "runner": "llama.cpp", "environment": environment(), "contention": contention.to_json(),
        "configs": to_json(configs),
    }, indent=2) + "\n")
    out.print(f"json: {dest}", highlight=False, markup=False)
