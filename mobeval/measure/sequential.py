"""Confidence sequences for a mean of values in [0, 1]: intervals that hold at every item at once, so a run may
be watched as it goes and stopped whenever its interval is narrow enough without the interval losing its
coverage (a classical interval recomputed after every item and stopped on does lose it).

The method is the hedged betting confidence sequence of Waudby-Smith & Ramdas ("Estimating means of bounded
random variables by betting", JRSS-B 2024, Theorem 3 and, for sampling without replacement from a finite set,
Section 6): for each candidate mean m two gamblers bet that the next value lies above or below m, with
predictable bet sizes from the values seen so far; m is excluded once their averaged capital reaches 1/alpha.
By Ville's inequality the true mean is excluded at any time with probability at most alpha. The running
intersection keeps the interval from widening. Computed on a grid of candidate means (the interval's ends are
grid points, rounded outwards).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METHOD = "betting confidence sequence (Waudby-Smith & Ramdas 2024), hedged, predictable plug-in bets"


@dataclass(frozen=True)
class Sequence:
    """The confidence sequence after each value: `low[t]`, `high[t]` hold with the first t+1 values."""

    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray  # the running mean
    alpha: float
    population: int | None  # N when the values are drawn without replacement from N items


def _bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """The predictable plug-in bet size before each value (it uses only the values before it)."""
    t = np.arange(1, x.shape[-1] + 1)
    mu_hat = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)
    prev_mu = np.concatenate([np.full(x.shape[:-1] + (1,), 0.5), mu_hat[..., :-1]], axis=-1)
    var_hat = (0.25 + np.cumsum((x - prev_mu) ** 2, axis=-1)) / (t + 1)
    prev_var = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), var_hat[..., :-1]], axis=-1)
    return np.sqrt(2 * math.log(2 / alpha) / (prev_var * t * np.log1p(t)))


def confidence_sequence(values, alpha: float = 0.05, population: int | None = None, grid: int = 1000,
                        c: float = 0.5) -> Sequence:
    """The confidence sequence of the mean of `values` (each in [0, 1], in the order they were drawn). With
    `population` N, the values are taken to be drawn uniformly without replacement from N items and the target
    is the mean of all N; without it, they are independent draws of a common mean. Leading axes of `values`
    are independent streams (for simulation)."""
    x = np.asarray(values, dtype=float)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError("no values")
    if not np.all((x >= 0) & (x <= 1)):
        raise ValueError("values must lie in [0, 1]")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = x.shape[-1]
    if population is not None and population < n:
        raise ValueError(f"{n} values drawn from a population of {population}")
    m = (np.arange(grid) + 0.5) / grid  # candidate means
    lam = _bets(x, alpha)[..., None]  # (..., n, 1)
    xs = x[..., None]
    if population is None:
        target = np.broadcast_to(m, x.shape + (grid,))
    else:
        # the mean of the items not yet drawn, were the population's mean m
        before = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)[..., :-1]], axis=-1)
        left = population - np.arange(n)
        target = (population * m - before[..., None]) / left[:, None]
    inside = (target >= 0) & (target <= 1)
    if population is not None:
        # and the items still left after this one must be able to make up the mean m
        after = np.cumsum(x, axis=-1)[..., None]
        rest = np.maximum(population - np.arange(1, n + 1), 1)[:, None]
        inside &= (population * m - after >= -1e-9) & (population * m - after <= rest + 1e-9)
    tgt = np.clip(target, 1e-12, 1 - 1e-12)
    lam_up = np.minimum(lam, c / tgt)
    lam_down = np.minimum(lam, c / (1 - tgt))
    with np.errstate(divide="ignore"):
        log_up = np.cumsum(np.log1p(lam_up * (xs - tgt)), axis=-2)
        log_down = np.cumsum(np.log1p(-lam_down * (xs - tgt)), axis=-2)
    capital = 0.5 * np.exp(np.minimum(log_up, 700)) + 0.5 * np.exp(np.minimum(log_down, 700))
    # a candidate is out once its capital reached 1/alpha, or once the values drawn rule it out (without replacement)
    excluded = np.maximum.accumulate((capital >= 1 / alpha) | ~inside, axis=-2)
    kept = ~excluded
    any_kept = kept.any(axis=-1)
    first = np.where(any_kept, kept.argmax(axis=-1), 0)
    last = np.where(any_kept, grid - 1 - kept[..., ::-1].argmax(axis=-1), grid - 1)
    low = np.where(any_kept, first / grid, 0.0)
    high = np.where(any_kept, (last + 1) / grid, 1.0)
    low, high = np.maximum.accumulate(low, axis=-1), np.minimum.accumulate(high, axis=-1)
    mean = np.cumsum(x, axis=-1) / np.arange(1, n + 1)
    if population == n:  # every item drawn: the mean is known
        low[..., -1] = high[..., -1] = mean[..., -1]
    return Sequence(low=low, high=high, mean=mean, alpha=alpha, population=population)



class RunningSequence:
    """The same confidence sequence, one value at a time (O(grid) per value): what a run updates after each item
    to decide whether to stop. `interval` after n values equals `confidence_sequence(values[:n])`'s last."""

    def __init__(self, alpha: float = 0.05, population: int | None = None, grid: int = 1000, c: float = 0.5):
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha, self.population, self.grid, self.c = alpha, population, grid, c
        self.m = (np.arange(grid) + 0.5) / grid
        self.log_up = np.zeros(grid)
        self.log_down = np.zeros(grid)
        self.excluded = np.zeros(grid, dtype=bool)
        self.n, self.total, self.sq = 0, 0.0, 0.25  # values seen, their sum, the variance estimate's numerator
        self.mu_hat, self.var_hat = 0.5, 0.25
        self.low, self.high = 0.0, 1.0

    def update(self, value: float) -> tuple[float, float]:
        x = float(value)
        if not 0 <= x <= 1:
            raise ValueError(f"value {value!r} is not in [0, 1]")
        if self.population is not None and self.n >= self.population:
            raise ValueError(f"more values than the population of {self.population}")
        t = self.n + 1
        lam = math.sqrt(2 * math.log(2 / self.alpha) / (self.var_hat * t * math.log1p(t)))
        if self.population is None:
            target = self.m
        else:
            target = (self.population * self.m - self.total) / (self.population - self.n)
        inside = (target >= 0) & (target <= 1)
        tgt = np.clip(target, 1e-12, 1 - 1e-12)
        with np.errstate(divide="ignore"):
            self.log_up += np.log1p(np.minimum(lam, self.c / tgt) * (x - tgt))
            self.log_down += np.log1p(-np.minimum(lam, self.c / (1 - tgt)) * (x - tgt))
        self.n, self.total = t, self.total + x
        self.sq += (x - self.mu_hat) ** 2
        self.mu_hat, self.var_hat = (0.5 + self.total) / (t + 1), self.sq / (t + 1)
        capital = 0.5 * np.exp(np.minimum(self.log_up, 700)) + 0.5 * np.exp(np.minimum(self.log_down, 700))
        out = (capital >= 1 / self.alpha) | ~inside
        if self.population is not None:
            rest = max(self.population - t, 1)
            out |= (self.population * self.m - self.total < -1e-9) | (self.population * self.m - self.total > rest + 1e-9)
        self.excluded |= out
        kept = np.flatnonzero(~self.excluded)
        if kept.size:
            self.low = max(self.low, kept[0] / self.grid)
            self.high = min(self.high, (kept[-1] + 1) / self.grid)
        if self.population == t:
            self.low = self.high = self.mean
        return self.low, self.high

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else float("nan")

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def running_wilson(values) -> tuple[np.ndarray, np.ndarray]:
    """The classical 95% Wilson interval recomputed after each value (what a user watching a run would see): the
    interval that loses its coverage when watched and stopped on, kept here to show that against the sequence."""
    x = np.asarray(values, dtype=float)
    t = np.arange(1, x.shape[-1] + 1)
    p = np.cumsum(x, axis=-1) / t
    z = 1.959963984540054  # NormalDist().inv_cdf(0.975)
    denom = 1 + z * z / t
    centre = (p + z * z / (2 * t)) / denom
    half = z * np.sqrt(p * (1 - p) / t + z * z / (4 * t * t)) / denom
    return centre - half, centre + half
