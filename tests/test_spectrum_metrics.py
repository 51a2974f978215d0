"""Spectrum metrics on hand-computed cases, and against brute-force implementations written here."""

import itertools

import numpy as np
import pytest

from mobeval.core.errors import DataError
from mobeval.measure.stats import wilson_interval
from mobeval.spectrum.task.metrics import (
    EMPTY,
    MetricSettings,
    by_snr,
    group_figures,
    matched_ious,
    runs,
    score_runs,
    snr_table,
    table_csv,
    widen,
)

FAST = MetricSettings(bootstrap_resamples=300)


def scores_from(n, predicted, half=()):
    s = np.full(n, 0.1)
    s[list(predicted)] = 0.9
    s[list(half)] = 0.5  # exactly the threshold: not predicted (score > threshold)
    return s


# The README's worked example: 20 bins, true A=[2,6) B=[10,15) C=[17,19);
# predicted bins 3-6, 10-11, 13-14; bin 12 scores exactly 0.5.
TRUE = [(2, 6), (10, 15), (17, 19)]
SCORES = scores_from(20, [3, 4, 5, 6, 10, 11, 13, 14], half=[12])


def test_worked_example_per_bin():
    s = score_runs(TRUE, SCORES, FAST)
    assert (s.tp, s.fp, s.tn, s.fn) == (7, 1, 8, 4)
    g = group_figures([s], FAST)
    assert g["bin_accuracy"].value == pytest.approx(15 / 20)
    assert g["bin_precision"].value == pytest.approx(7 / 8)
    assert g["bin_recall"].value == pytest.approx(7 / 11)
    assert g["bin_f1"].value == pytest.approx(14 / 19)


def test_worked_example_iou_and_recall():
    s = score_runs(TRUE, SCORES, FAST)
    # A-[3,7): 3/5; B-[10,12) or [13,15): 2/5; C has no overlapping segment left: 0
    assert s.signal_ious == pytest.approx((0.6, 0.4, 0.0))
    assert s.predicted_segments == 3
    g = group_figures([s], FAST)
    assert g["mean_iou"].value == pytest.approx(1 / 3)
    assert g["recall_at_iou_0.5"].value == pytest.approx(1 / 3)
    assert g["recall_at_iou_0.7"].value == 0
    assert g["recall_at_iou_0.9"].value == 0
    assert g["mean_iou"].n == 3 and g["mean_iou"].n_unit == "signals"


def test_one_bin_tolerance_is_off_by_default_and_widens_predictions_when_on():
    assert MetricSettings().widen_bins == 0
    on = MetricSettings(widen_bins=1, bootstrap_resamples=10)
    s = score_runs(TRUE, SCORES, on)
    # predicted 2-7, 9-12, 12-15 after widening
    assert (s.tp, s.fp, s.tn, s.fn) == (9, 4, 5, 2)
    assert s.signal_ious == pytest.approx((0.6, 0.4, 0.0)), "IoU uses the thresholded mask as is"
    assert on.record()["widen_bins"] == 1 and MetricSettings().record()["predicted_if"] == "score > 0.5"


def test_hungarian_beats_greedy_on_a_hand_built_case():
    # T1=[2,10) T2=[12,16); P2=[0,4) P1=[7,14). Greedy takes T1-P1 (3/12) and leaves T2 with 0;
    # the optimum pairs T1-P2 (2/10) and T2-P1 (2/9).
    assert matched_ious([(2, 10), (12, 16)], [(0, 4), (7, 14)]) == pytest.approx([0.2, 2 / 9])


def test_capture_without_prediction_counts_zero_not_skipped():
    hit = score_runs(TRUE, SCORES, FAST, snr_level_db=0)
    miss = score_runs([(0, 5), (8, 12)], np.zeros(20), FAST, snr_level_db=0)
    assert miss.signal_ious == (0.0, 0.0) and miss.predicted_segments == 0
    g = group_figures([hit, miss], FAST)
    assert g["mean_iou"].value == pytest.approx((0.6 + 0.4) / 5)  # skipping would give 1/3
    assert g["mean_iou"].n == 5


def test_more_segments_than_signals_and_unmatched_signals():
    # one true run, three predicted: the best one matches, the others are spurious
    s = score_runs([(5, 10)], scores_from(20, [0, 1, 5, 6, 7, 8, 9, 15]), FAST)
    assert s.signal_ious == (1.0,) and s.predicted_segments == 3
    # three true runs, one predicted segment overlapping two of them
    s = score_runs([(0, 4), (6, 10), (14, 18)], scores_from(20, range(2, 8)), FAST)
    assert sorted(s.signal_ious) == pytest.approx([0.0, 0.0, 2 / 8])


def test_empty_spectrum_false_alarms_with_wilson_interval():
    quiet = score_runs([], np.zeros(20), FAST, snr_level_db=None)
    alarm = score_runs([], scores_from(20, [7]), FAST, snr_level_db=None)
    assert quiet.is_empty and alarm.is_empty
    g = group_figures([quiet, alarm], FAST)
    fa = g["false_alarm_rate"]
    assert fa.value == 0.5 and fa.n == 2 and fa.ci_method == "wilson"
    assert (fa.ci_low, fa.ci_high) == pytest.approx((0.0945, 0.9055), abs=1e-4)  # Wilson, 1 of 2, 95%
    assert g["false_alarm_bin_share"].value == pytest.approx(1 / 40)
    assert "mean_iou" not in g and g["bin_recall"].value is None  # no true bins: undefined, not 0
    assert g["bin_precision"].value == 0.0


def test_wilson_against_closed_form_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert wilson_interval(3, 10) == pytest.approx((0.10779, 0.60322), abs=1e-5)


def test_bootstrap_interval_brackets_the_value_and_collapses_on_identical_captures():
    same = [score_runs(TRUE, SCORES, FAST) for _ in range(5)]
    g = group_figures(same, FAST)
    assert g["bin_accuracy"].ci_low == g["bin_accuracy"].ci_high == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    varied = [score_runs(TRUE, rng.uniform(size=20), FAST) for _ in range(30)]
    for name, e in group_figures(varied, FAST).items():
        assert e.ci_method == "bootstrap" and e.ci_low <= e.value <= e.ci_high, name
    acc = group_figures(varied, FAST)["bin_accuracy"]
    assert acc.ci_high - acc.ci_low > 0.01


def test_per_snr_grouping_and_plot_ready_table():
    scores = [
        score_runs(TRUE, SCORES, FAST, capture_id="a", snr_level_db=4),
        score_runs([(0, 5), (8, 12)], np.zeros(20), FAST, capture_id="b", snr_level_db=-2),
        score_runs([], np.zeros(20), FAST, capture_id="c", snr_level_db=None),
    ]
    per = by_snr(scores, FAST)
    assert list(per) == [-2.0, 4.0, EMPTY]
    assert per[-2.0]["mean_iou"].value == 0 and per[4.0]["mean_iou"].value == pytest.approx(1 / 3)
    rows = snr_table(per)
    iou_rows = [r for r in rows if r["figure"] == "mean_iou"]
    assert [(r["snr_db"], r["value"]) for r in iou_rows] == [(-2.0, 0.0), (4.0, pytest.approx(1 / 3))]
    fa = [r for r in rows if r["figure"] == "false_alarm_rate"]
    assert len(fa) == 1 and fa[0]["snr_db"] == EMPTY and fa[0]["ci_method"] == "wilson"
    csv = table_csv(rows).splitlines()
    assert csv[0] == "figure,snr_db,value,ci_low,ci_high,n,n_unit,ci_method"
    assert len(csv) == len(rows) + 1


def test_bad_scores_are_errors():
    with pytest.raises(DataError):
        score_runs(TRUE, np.full(20, np.nan))
    with pytest.raises(DataError):
        score_runs(TRUE, np.ones(20) + 0j)
    with pytest.raises(DataError):
        score_runs([(15, 25)], np.zeros(20))
    with pytest.raises(DataError):
        group_figures([])


# --- brute force, written independently ----------------------------------------------------------


def brute_runs(mask):
    out, start = [], None
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        if not m and start is not None:
            out.append((start, i))
            start = None
    return out


def brute_iou(a, b):
    sa, sb = set(range(*a)), set(range(*b))
    return len(sa & sb) / len(sa | sb)


def brute_best_total(true_runs, pred_runs):
    """Best summed IoU over every one-to-one assignment (itertools.permutations), unmatched = 0."""
    slots = list(pred_runs) + [None] * len(true_runs)
    best = 0.0
    for perm in itertools.permutations(range(len(slots)), len(true_runs)):
        total = sum(brute_iou(t, slots[p]) for t, p in zip(true_runs, perm) if slots[p] is not None)
        best = max(best, total)
    return best


def random_case(rng, n=16, most_runs=4):
    """Random truth and scores with at most `most_runs` runs each, so the permutations stay few."""
    while True:
        true_runs = brute_runs(rng.uniform(size=n) < 0.5)
        scores = rng.uniform(size=n)
        if len(true_runs) <= most_runs and len(brute_runs(scores > 0.5)) <= most_runs:
            return true_runs, scores


@pytest.mark.parametrize("seed", range(40))
def test_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    true_runs, scores = random_case(rng)
    pred = [s > 0.5 for s in scores]
    pred_runs = brute_runs(pred)
    assert runs(np.array(pred)) == pred_runs
    s = score_runs(true_runs, scores, MetricSettings(bootstrap_resamples=10))
    assert sum(s.signal_ious) == pytest.approx(brute_best_total(true_runs, pred_runs))
    assert len(s.signal_ious) == len(true_runs)
    truth = {i for a, b in true_runs for i in range(a, b)}
    tp = sum(1 for i in range(len(scores)) if pred[i] and i in truth)
    fp = sum(1 for i in range(len(scores)) if pred[i] and i not in truth)
    fn = sum(1 for i in range(len(scores)) if not pred[i] and i in truth)
    assert (s.tp, s.fp, s.fn, s.tn) == (tp, fp, fn, len(scores) - tp - fp - fn)
    # widening by w: a bin counts as predicted when any predicted bin is within w of it
    for w in (1, 2):
        wide = widen(np.array(pred), w)
        assert list(wide) == [any(pred[j] for j in range(max(0, i - w), min(len(pred), i + w + 1))) for i in range(len(pred))]
