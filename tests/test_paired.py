"""Paired comparison statistics on hand-computed cases."""

import pytest

from mobeval.core.errors import MobevalError
from mobeval.measure.paired import compare_paired, mcnemar_exact_p, prediction_flip_rate


def test_mcnemar_exact_hand_cases():
    # 1 vs 6 discordant: 2 * P[Bin(7, 1/2) <= 1] = 2 * (1 + 7) / 128
    assert mcnemar_exact_p(1, 6) == pytest.approx(0.125)
    assert mcnemar_exact_p(6, 1) == pytest.approx(0.125)
    # 0 vs 5: 2 / 32
    assert mcnemar_exact_p(0, 5) == pytest.approx(0.0625)
    # balanced: capped at 1
    assert mcnemar_exact_p(3, 3) == 1.0
    assert mcnemar_exact_p(0, 0) == 1.0


def test_compare_paired_counts_and_difference():
    a = [True, True, False, False, True]
    b = [True, False, True, True, True]
    r = compare_paired(a, b, resamples=2000)
    assert (r.n, r.only_a, r.only_b) == (5, 1, 2)
    assert r.accuracy_a == pytest.approx(0.6) and r.accuracy_b == pytest.approx(0.8)
    assert r.difference == pytest.approx(0.2)
    assert r.ci_low <= r.difference <= r.ci_high
    assert r.mcnemar_p == pytest.approx(1.0)  # 2 * P[Bin(3,1/2) <= 1] = 2 * 4/8
    assert not r.significant


def test_bootstrap_interval_is_a_point_when_every_pair_moves_alike():
    r = compare_paired([False] * 10, [True] * 10, resamples=500)
    assert (r.ci_low, r.ci_high) == (1.0, 1.0)
    assert r.mcnemar_p == pytest.approx(2 / 2**10)
    assert r.significant


def test_bootstrap_interval_is_seeded_and_covers_a_mixed_case():
    a = [True] * 30 + [False] * 10
    b = [True] * 25 + [False] * 5 + [True] * 10
    r1, r2 = compare_paired(a, b, seed=3), compare_paired(a, b, seed=3)
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    assert r1.ci_low < 0.125 < r1.ci_high and r1.ci_high - r1.ci_low < 0.5


def test_prediction_flip_rate_counts_wrong_to_wrong_changes():
    assert prediction_flip_rate(["A", "B", "C", None], ["A", "C", "C", "D"]) == pytest.approx(0.5)


def test_unpaired_inputs_are_refused():
    with pytest.raises(MobevalError, match="same items"):
        compare_paired([True], [True, False])
    with pytest.raises(MobevalError, match="at least one"):
        prediction_flip_rate([], [])
