"""Throughput at a batch size, the offline scenario: items per second of one call that processes a
whole batch, timed over repeated calls after one untimed call (warm-up)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mobeval.core.printing import fig
from mobeval.core.figures import Figure

MIN_SECONDS = 2.0  # each batch size is timed over at least this long, and at least MIN_CALLS calls
MIN_CALLS = 3
PREFIX = "throughput_batch_"


def batch_throughput(call: Callable[[], Any], size: int, unit: str, note: str = "") -> dict:
    """`call` processes `size` items; their rate as a Figure dict, stored under PREFIX + size."""
    call()
    n, start = 0, time.perf_counter()
    while n < MIN_CALLS or time.perf_counter() - start < MIN_SECONDS:
        call()
        n += 1
    seconds = time.perf_counter() - start
    return Figure(value=size * n / seconds, unit=unit, count=n, source="measured, offline scenario",
                  note=f"{n} batches of {size} in {seconds:.2f} s" + (f"; {note}" if note else "")).model_dump()


def throughput_rows(perf: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Report rows of the throughput figures in `perf`, by batch size."""
    keys = sorted((k for k in perf if k.startswith(PREFIX)), key=lambda k: int(k[len(PREFIX):]))
    return [(f"throughput, batch {k[len(PREFIX):]}", fig(perf[k], "{:.1f}"), perf[k].note) for k in keys]
