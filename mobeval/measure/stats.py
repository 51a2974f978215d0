"""Summary statistics with the count behind them."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of a non-empty list."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float
    p50: float
    p90: float
    p99: float


def summarize(values: list[float]) -> Summary | None:
    if not values:
        return None
    return Summary(len(values), fmean(values), *(percentile(values, q) for q in (50, 90, 99)))
