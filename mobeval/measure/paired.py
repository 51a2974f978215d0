"""Paired comparison of two runs on the same items: is the accuracy difference real?

Definitions (README, "Paired comparisons"):
- difference = accuracy(b) - accuracy(a), over the n items both runs scored.
- 95% interval of the difference: percentile bootstrap over items, resampling the *pairs* (an item keeps its two
  outcomes together), `resamples` draws from a seeded generator.
- McNemar's exact test: of the discordant items (right in one run, wrong in the other), only_a are right in a
  only and only_b in b only; under "no difference" each discordant item is a fair coin, so the two-sided p-value
  is min(1, 2 * P[Binomial(only_a + only_b, 1/2) <= min(only_a, only_b)]); 1.0 when there are no discordant items.
- prediction flip rate: the share of items whose *prediction* differs between the runs (a change from one wrong
  answer to another wrong answer is a flip; it does not change correctness).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

from mobeval.core.errors import MobevalError


@dataclass(frozen=True)
class PairedComparison:
    """Run b against run a on the same n items."""

    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_b - accuracy_a
    ci_low: float
    ci_high: float
    only_a: int  # items right in a, wrong in b
    only_b: int  # items right in b, wrong in a
    mcnemar_p: float
    confidence: float = 0.95
    resamples: int = 10_000

    @property
    def significant(self) -> bool:
        """True when McNemar's test rejects "same accuracy" at 1 - confidence."""
        return self.mcnemar_p < 1 - self.confidence


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    if only_a < 0 or only_b < 0:
        raise MobevalError("McNemar counts must be non-negative")
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def _check_pair(a: Sequence, b: Sequence) -> int:
    if len(a) != len(b):
        raise MobevalError(f"paired comparison needs the same items in both runs: {len(a)} vs {len(b)} outcomes")
    if not a:
        raise MobevalError("paired comparison needs at least one item")
    return len(a)


def compare_paired(a: Sequence[bool], b: Sequence[bool], *, confidence: float = 0.95, resamples: int = 10_000,
                   seed: int = 0) -> PairedComparison:
    """Compare per-item correctness of two runs, item i of a paired with item i of b."""
    n = _check_pair(a, b)
    if not 0 < confidence < 1:
        raise MobevalError(f"confidence must be in (0, 1), got {confidence}")
    xa = np.asarray(a, dtype=bool)
    xb = np.asarray(b, dtype=bool)
    delta = xb.astype(np.int8) - xa.astype(np.int8)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    boot = delta[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    only_a = int(np.sum(xa & ~xb))
    only_b = int(np.sum(xb & ~xa))
    return PairedComparison(n=n, accuracy_a=float(xa.mean()), accuracy_b=float(xb.mean()),
                            difference=float(delta.mean()), ci_low=float(lo), ci_high=float(hi),
                            only_a=only_a, only_b=only_b, mcnemar_p=mcnemar_exact_p(only_a, only_b),
                            confidence=confidence, resamples=resamples)


def prediction_flip_rate(pred_a: Sequence[Hashable], pred_b: Sequence[Hashable]) -> float:
    """Share of items whose prediction differs between two runs (None counts as a prediction: 'no answer')."""
    n = _check_pair(pred_a, pred_b)
    return sum(x != y for x, y in zip(pred_a, pred_b)) / n
