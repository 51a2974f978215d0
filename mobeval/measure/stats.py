"""Summary statistics with the count behind them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist, fmean


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


def wilson(p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion p over n trials; exactly 0 (1) at p = 0 (1), where floating
    point would leave ~1e-17."""
    if n <= 0:
        raise ValueError("no trials")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return (0.0 if p <= 0 else max(0.0, centre - half)), (1.0 if p >= 1 else min(1.0, centre + half))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for `successes` of `n` trials."""
    if n <= 0:
        raise ValueError("no trials")
    return wilson(successes / n, n, confidence)
