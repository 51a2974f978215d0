"""Confidence sequences (mobeval.measure.sequential): coverage under the worst stopping time, by simulation, with
the classical interval recomputed after every item shown to lose its coverage on the same streams."""

from __future__ import annotations

import numpy as np
import pytest

from mobeval.measure.sequential import confidence_sequence, running_wilson
from mobeval.measure.stats import wilson

REPS, T = 2000, 300


@pytest.mark.parametrize("mu", [0.25, 0.5, 0.9])
def test_coverage_at_the_worst_time_and_peeking_under_covers(mu):
    rng = np.random.default_rng(27 + int(100 * mu))
    x = (rng.random((REPS, T)) < mu).astype(float)
    covered, width = [], []
    for chunk in np.array_split(x, 8):  # 250 streams at a time: the grid of candidates is held per value
        cs = confidence_sequence(chunk, alpha=0.05, grid=200)
        # the worst stopping time: the first item at which the interval misses the true mean, if any
        covered.append(np.all((cs.low <= mu) & (mu <= cs.high), axis=-1))
        width.append(cs.high[:, -1] - cs.low[:, -1])
    cs_covers = np.concatenate(covered).mean()
    lo, hi = running_wilson(x)
    peek_covers = np.all((lo <= mu) & (mu <= hi), axis=-1).mean()
    assert cs_covers >= 0.95, cs_covers
    assert peek_covers < 0.85, peek_covers  # a 95% interval watched after every item misses far more often
    # and the sequence still narrows: after 300 items it is informative
    assert np.median(np.concatenate(width)) < 0.3


def test_the_running_wilson_is_the_one_of_measure_stats():
    x = np.array([1, 0, 1, 1, 0, 1.0])
    lo, hi = running_wilson(x)
    assert (lo[-1], hi[-1]) == pytest.approx(wilson(4 / 6, 6), abs=1e-12)


def test_without_replacement_from_a_finite_set_ends_exact():
    rng = np.random.default_rng(5)
    items = (rng.random(200) < 0.3).astype(float)
    order = rng.permutation(200)
    cs = confidence_sequence(items[order], alpha=0.05, population=200, grid=2000)
    truth = items.mean()
    assert np.all((cs.low <= truth + 1e-9) & (truth - 1e-9 <= cs.high))
    # every item drawn: only the true mean is left (to the grid's resolution)
    assert cs.high[-1] - cs.low[-1] <= 2 / 2000 and cs.low[-1] <= truth <= cs.high[-1]


def test_running_intersection_never_widens():
    rng = np.random.default_rng(1)
    cs = confidence_sequence((rng.random(500) < 0.6).astype(float))
    assert np.all(np.diff(cs.low) >= 0) and np.all(np.diff(cs.high) <= 0)


@pytest.mark.parametrize("bad", [[], [1.5], [-0.1, 0.2], [float("nan")]])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError):
        confidence_sequence(bad)


@pytest.mark.parametrize("population", [None, 120])
def test_running_sequence_equals_the_batch_one(population):
    from mobeval.measure.sequential import RunningSequence

    rng = np.random.default_rng(3)
    x = (rng.random(120) < 0.4).astype(float) * rng.random(120)  # values in [0, 1], not only 0/1
    batch = confidence_sequence(x, alpha=0.05, population=population, grid=500)
    run = RunningSequence(alpha=0.05, population=population, grid=500)
    for i, v in enumerate(x):
        lo, hi = run.update(v)
        assert (lo, hi) == pytest.approx((batch.low[i], batch.high[i]), abs=1e-12)
    assert run.mean == pytest.approx(x.mean())


@pytest.mark.parametrize("kind", ["bernoulli", "shares of 4 orderings"])
def test_without_replacement_coverage_at_the_worst_time(kind):
    """What a run under --until samples: one finite selection of 200 items in uniformly random orders (the seeded
    order, mobeval.stopping.run_order, over seeds). The true mean is the selection's; the sequence must hold it at
    every prefix in at least 95% of the orders, and close on it once every item is drawn."""
    rng = np.random.default_rng(271)
    n = 200
    items = ((rng.random(n) < 0.3).astype(float) if kind == "bernoulli" else rng.binomial(4, 0.35, n) / 4)
    truth = items.mean()
    orders = np.stack([items[rng.permutation(n)] for _ in range(1000)])
    covered = []
    for chunk in np.array_split(orders, 8):
        cs = confidence_sequence(chunk, alpha=0.05, population=n, grid=400)
        covered.append(np.all((cs.low <= truth + 1e-9) & (truth - 1e-9 <= cs.high), axis=-1))
        assert np.allclose(cs.low[:, -1], truth) and np.allclose(cs.high[:, -1], truth)
    assert np.concatenate(covered).mean() >= 0.95
