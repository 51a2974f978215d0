"""Benchmark registry. Loaders are imported only when used, so `datasets` loads only when needed.

Each benchmark declares the options (BenchOptions fields) it takes; `load_benchmark` checks what
was given against that before loading anything, so no flag is accepted and then left unused.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from mobeval.core.catalog import catalog
from mobeval.core.entries import BenchmarkEntry
from mobeval.core.options import FLAGS, BenchOptions
from mobeval.core.errors import DataError, MobevalError, did_you_mean


BENCHMARKS: dict[str, BenchmarkEntry] = catalog().benchmarks

# name -> ("module:function", one-line description), as `mobeval list benches` reads it
REGISTRY: dict[str, tuple[str, str]] = {name: (e.target, e.description) for name, e in BENCHMARKS.items()}

DEFAULT_BENCH = "everyday-mobile"


# Other names a benchmark is known by (issue 14 says spectrum-synthetic); RunConfig stores the canonical one.
ALIASES = {"spectrum-synthetic": "synthetic-spectrum"}


def canonical_bench(name: str) -> str:
    return ALIASES.get(name, name)


def bench_entry(name: str) -> BenchmarkEntry:
    name = canonical_bench(name)
    if name not in BENCHMARKS:
        raise MobevalError(f"unknown benchmark {name!r}{did_you_mean(name, BENCHMARKS)}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def check_options(name: str, options: BenchOptions) -> None:
    """Every option given is one benchmark `name` takes, with a sensible value: else an error naming the flag."""
    entry = bench_entry(name)
    for option in options.given():
        if option not in entry.takes:
            takes = ", ".join(entry.flags) or "no options"
            own = catalog().kinds[entry.kind].own_data if entry.kind in catalog().kinds else ""
            way_out = f"; for a file of your own use {own}" if option == "data" and own else ""
            raise MobevalError(f"{FLAGS[option]} is not taken by benchmark {name} (it takes: {takes}){way_out}")
    for option in entry.needs:
        if option not in options.given():
            raise MobevalError(f"benchmark {name} needs {FLAGS[option]}")
    if options.shots < 0:
        raise MobevalError(f"--shots must be 0 or more, not {options.shots}")
    if any(not s.strip() for s in options.subjects):
        raise MobevalError(f"--subjects: an empty subject name in {','.join(options.subjects)!r}")
    for option in ("data", "answers", "labels"):
        path = getattr(options, option)
        if path is not None and not Path(path).exists():
            raise DataError(f"{FLAGS[option]} {path}: no such file or folder")


def load_benchmark(name: str, options: BenchOptions):
    """The benchmark's items, checked options first: BenchmarkData for mcq, ImageFolderSet for images."""
    check_options(name, options)
    module, func = bench_entry(name).target.split(":")
    return getattr(import_module(module), func)(options)


__all__ = ["BENCHMARKS", "REGISTRY", "DEFAULT_BENCH", "BenchmarkEntry", "BenchOptions",
           "bench_entry", "check_options", "load_benchmark"]
