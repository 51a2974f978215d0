"""Benchmark registry. Loaders are imported only when used, so `datasets` loads only when needed."""

from __future__ import annotations

from importlib import import_module

from mobeval.benchmarks.base import BenchmarkData, BenchOptions
from mobeval.errors import MobevalError

# name -> ("module:function", one-line description)
REGISTRY: dict[str, tuple[str, str]] = {
    "everyday-mobile": (
        "mobeval.benchmarks.bundled:load",
        "bundled with mobeval: everyday mobile tasks, with an answer key (offline default)",
    ),
    "mobile-mmlu": (
        "mobeval.benchmarks.mobile_mmlu:load_mobile_mmlu",
        "MBZUAI-LLM/Mobile-MMLU (16,186 questions, 80 fields); key held back, --answers supplies one",
    ),
    "mobile-mmlu-pro": (
        "mobeval.benchmarks.mobile_mmlu:load_mobile_mmlu_pro",
        "MBZUAI-LLM/Mobile-MMLU-Pro (9,497 questions); key held back, --answers supplies one",
    ),
    "mmlu": (
        "mobeval.benchmarks.mmlu:load",
        "MMLU: Hendrycks layout (--data DIR with test/ and dev/) or cais/mmlu from the hub",
    ),
    "mcq": (
        "mobeval.benchmarks.mcq:load",
        "any local CSV / JSONL / parquet of multiple-choice questions (--data FILE, column mapping)",
    ),
}

DEFAULT_BENCH = "everyday-mobile"


def load_benchmark(name: str, options: BenchOptions) -> BenchmarkData:
    if name not in REGISTRY:
        raise MobevalError(f"unknown benchmark {name!r}; known: {', '.join(REGISTRY)}")
    module, func = REGISTRY[name][0].split(":")
    return getattr(import_module(module), func)(options)


__all__ = ["REGISTRY", "DEFAULT_BENCH", "BenchOptions", "BenchmarkData", "load_benchmark"]
