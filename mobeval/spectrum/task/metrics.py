"""Spectrum-segmentation figures: per-bin, per-signal (IoU), false alarms; per SNR level with 95% CIs.

A detector returns one real occupancy score per FFT bin. Definitions (README, "Spectrum metrics
(definitions)", works one example through):

- Predicted mask: bin k is predicted occupied iff score[k] > threshold (declared; 0.5 by default).
- Tolerance (off by default, recorded): `widen_bins = w` widens every predicted run by w bins on each
  side before the per-bin counts, as the CMuSeNet evaluation code does with w = 1. It applies to the
  per-bin figures only; IoU and false alarms use the thresholded mask as is.
- Per-bin counts over all bins: TP, FP, TN, FN. accuracy = (TP+TN)/(all bins), precision = TP/(TP+FP),
  recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN); pooled over the captures of a group (a ratio whose
  denominator is 0 is None).
- Per-signal IoU: the true signals are runs of bins (features.signal_bins); the predicted segments are
  the maximal contiguous runs of predicted bins. IoU(a, b) = |a ∩ b| / |a ∪ b| in bins. True and
  predicted runs are matched one-to-one by the Hungarian algorithm maximising the summed IoU; each true
  signal scores the IoU of its match, or 0 when it has no match (more signals than segments) or its
  match does not overlap it. A capture with no predicted segment is not skipped: its signals score 0.
  mean IoU is the mean over all true signals of the group.
- recall at IoU t: the share of true signals whose IoU >= t (t = 0.5, 0.7, 0.9).
- false-alarm rate: over captures of empty spectrum (no signal), the share with at least one predicted
  bin; the false-alarm bin share is the share of their bins predicted occupied.

Confidence intervals (95% by default): Wilson score interval for the false-alarm rate (a proportion of
independent captures). Every other figure pools bins or signals, which are not independent within a
capture, so its interval is a percentile bootstrap over captures (2,000 resamples, seeded; resamples in
which a ratio is undefined are dropped).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from mobeval.core.errors import DataError
from mobeval.measure.stats import wilson_interval

from .features import N_BINS, label_mask, signal_bins
from .items import Capture

Run = tuple[int, int]
"""A half-open run of bins [start, stop)."""

EMPTY = "empty"
"""The group key of captures with no signal."""


@dataclass(frozen=True)
class MetricSettings:
    threshold: float = 0.5
    widen_bins: int = 0
    iou_thresholds: tuple[float, ...] = (0.5, 0.7, 0.9)
    confidence: float = 0.95
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 0

    def __post_init__(self) -> None:
        if self.widen_bins < 0:
            raise DataError(f"widen_bins must be >= 0, got {self.widen_bins}")
        if not 0 < self.confidence < 1:
            raise DataError(f"confidence must be in (0, 1), got {self.confidence}")

    def record(self) -> dict:
        """The settings as written into a result, so every figure says how it was computed."""
        return asdict(self) | {
            "predicted_if": f"score > {self.threshold}",
            "ci_methods": {"false_alarm_rate": "wilson", "other": "percentile bootstrap over captures"},
        }


# --- masks and runs ---------------------------------------------------------------------------------


def predicted_mask(scores: np.ndarray, threshold: float, n_bins: int | None = None) -> np.ndarray:
    s = np.asarray(scores)
    if s.ndim != 1 or (n_bins is not None and s.shape[0] != n_bins):
        raise DataError(f"expected {n_bins or 'a 1-D array of'} occupancy scores, got shape {s.shape}")
    if np.iscomplexobj(s):
        raise DataError("occupancy scores must be real numbers, got complex ones (map a complex output to real first)")
    bad = ~np.isfinite(s)
    if bad.any():
        raise DataError(f"occupancy scores must be finite: {int(bad.sum())} of {s.shape[0]} are NaN or infinite "
                        f"(the first at bin {int(np.flatnonzero(bad)[0])})")
    return s > threshold


def widen(mask: np.ndarray, bins: int) -> np.ndarray:
    """Every predicted bin also marks its `bins` neighbours on each side (binary dilation)."""
    if bins == 0:
        return mask.copy()
    out = mask.copy()
    for d in range(1, bins + 1):
        out[d:] |= mask[:-d]
        out[:-d] |= mask[d:]
    return out


def runs(mask: np.ndarray) -> list[Run]:
    """The maximal runs of True in a boolean mask, as half-open [start, stop)."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def run_iou(a: Run, b: Run) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union else 0.0


def matched_ious(true_runs: Sequence[Run], pred_runs: Sequence[Run]) -> list[float]:
    """Per true run, the IoU of its Hungarian match among the predicted runs (0 if unmatched)."""
    if not true_runs:
        return []
    if not pred_runs:
        return [0.0] * len(true_runs)
    iou = np.array([[run_iou(t, p) for p in pred_runs] for t in true_runs])
    rows, cols = linear_sum_assignment(iou, maximize=True)
    out = [0.0] * len(true_runs)
    for r, c in zip(rows, cols):
        out[r] = float(iou[r, c])
    return out


# --- one capture ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureScore:
    """The counts one capture contributes to its group's figures."""

    capture_id: str
    snr_level_db: float | None
    tp: int
    fp: int
    tn: int
    fn: int
    signal_ious: tuple[float, ...]
    predicted_segments: int
    predicted_bins: int
    n_bins: int

    @property
    def is_empty(self) -> bool:
        return not self.signal_ious


def score_runs(
    true_runs: Sequence[Run],
    scores: np.ndarray,
    settings: MetricSettings = MetricSettings(),
    *,
    capture_id: str = "",
    snr_level_db: float | None = None,
) -> CaptureScore:
    """Score one capture given its true signals as bin runs and the detector's score per bin."""
    n = int(np.asarray(scores).shape[0])
    pred = predicted_mask(scores, settings.threshold)
    truth = np.zeros(n, dtype=bool)
    for a, b in true_runs:
        if not 0 <= a <= b <= n:
            raise DataError(f"capture {capture_id}: true run [{a}, {b}) is outside the {n} bins")
        truth[a:b] = True
    counted = widen(pred, settings.widen_bins)
    pred_runs = runs(pred)
    return CaptureScore(
        capture_id=capture_id,
        snr_level_db=snr_level_db,
        tp=int(np.sum(counted & truth)),
        fp=int(np.sum(counted & ~truth)),
        tn=int(np.sum(~counted & ~truth)),
        fn=int(np.sum(~counted & truth)),
        signal_ious=tuple(matched_ious([r for r in true_runs if r[1] > r[0]], pred_runs)),
        predicted_segments=len(pred_runs),
        predicted_bins=int(pred.sum()),
        n_bins=n,
    )


def score_capture(capture: Capture, scores: np.ndarray, settings: MetricSettings = MetricSettings()) -> CaptureScore:
    """Score one capture: its signals' bin runs (features.signal_bins) against the scores per bin."""
    if np.asarray(scores).shape != (N_BINS,):
        raise DataError(f"capture {capture.id}: expected {N_BINS} occupancy scores, got shape {np.asarray(scores).shape}")
    true_runs = [signal_bins(s, capture.sample_rate_hz, capture.centre_freq_hz) for s in capture.signals]
    if label_mask(capture).sum() != sum(b - a for a, b in true_runs):
        raise DataError(f"capture {capture.id}: its signals overlap in frequency; each bin belongs to one signal at most")
    return score_runs(true_runs, scores, settings, capture_id=capture.id, snr_level_db=capture.snr_level_db)


# --- groups, intervals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A figure with its confidence interval and the count behind it."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_unit: str
    ci_method: str


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _bootstrap(
    per_capture: dict[str, np.ndarray], figure, settings: MetricSettings, n: int, n_unit: str
) -> Estimate:
    """Figure = figure(sums over captures); percentile bootstrap by resampling captures."""
    totals = {k: np.asarray(v.sum(axis=0), dtype=float) for k, v in per_capture.items()}
    value = float(figure(totals))
    if np.isnan(value):
        return Estimate(None, None, None, n, n_unit, "bootstrap")
    k = len(next(iter(per_capture.values())))
    rng = np.random.default_rng(settings.bootstrap_seed)
    chunk = max(1, 4_000_000 // k)  # bounds the (resamples x captures) index array in memory
    parts = []
    for done in range(0, settings.bootstrap_resamples, chunk):
        idx = rng.integers(0, k, size=(min(chunk, settings.bootstrap_resamples - done), k))
        parts.append(figure({key: v[idx].sum(axis=1) for key, v in per_capture.items()}))
    draws = np.concatenate([np.atleast_1d(np.asarray(p, dtype=float)) for p in parts])
    draws = draws[~np.isnan(draws)]
    alpha = (1 - settings.confidence) / 2
    lo, hi = np.quantile(draws, [alpha, 1 - alpha])
    return Estimate(value, float(lo), float(hi), n, n_unit, "bootstrap")


def iou_key(t: float) -> str:
    return f"recall_at_iou_{t:g}"


def group_figures(scores: Sequence[CaptureScore], settings: MetricSettings = MetricSettings()) -> dict[str, Estimate]:
    """Every figure over one group of captures (one SNR level; over all captures, the overall figure)."""
    if not scores:
        raise DataError("no captures to score")
    c = {f: np.array([getattr(s, f) for s in scores], dtype=float) for f in ("tp", "fp", "tn", "fn")}
    bins = int(sum(s.n_bins for s in scores))
    out: dict[str, Estimate] = {
        "bin_accuracy": _bootstrap(c, lambda t: _ratio(t["tp"] + t["tn"], t["tp"] + t["fp"] + t["tn"] + t["fn"]), settings, bins, "bins"),
        "bin_precision": _bootstrap(c, lambda t: _ratio(t["tp"], t["tp"] + t["fp"]), settings, bins, "bins"),
        "bin_recall": _bootstrap(c, lambda t: _ratio(t["tp"], t["tp"] + t["fn"]), settings, bins, "bins"),
        "bin_f1": _bootstrap(c, lambda t: _ratio(2 * t["tp"], 2 * t["tp"] + t["fp"] + t["fn"]), settings, bins, "bins"),
    }
    n_signals = sum(len(s.signal_ious) for s in scores)
    if n_signals:
        sig = {
            "n": np.array([len(s.signal_ious) for s in scores], dtype=float),
            "iou": np.array([sum(s.signal_ious) for s in scores], dtype=float),
        }
        for t in settings.iou_thresholds:
            sig[iou_key(t)] = np.array([sum(i >= t for i in s.signal_ious) for s in scores], dtype=float)
        out["mean_iou"] = _bootstrap(sig, lambda t: _ratio(t["iou"], t["n"]), settings, n_signals, "signals")
        for t in settings.iou_thresholds:
            key = iou_key(t)
            out[key] = _bootstrap(sig, lambda s, key=key: _ratio(s[key], s["n"]), settings, n_signals, "signals")
    empty = [s for s in scores if s.is_empty]
    if empty:
        alarms = sum(s.predicted_bins > 0 for s in empty)
        lo, hi = wilson_interval(alarms, len(empty), settings.confidence)
        out["false_alarm_rate"] = Estimate(alarms / len(empty), lo, hi, len(empty), "captures", "wilson")
        fa = {"p": np.array([s.predicted_bins for s in empty], float), "n": np.array([s.n_bins for s in empty], float)}
        out["false_alarm_bin_share"] = _bootstrap(
            fa, lambda t: _ratio(t["p"], t["n"]), settings, int(fa["n"].sum()), "bins"
        )
    return out


def level_key(snr_level_db: float | None) -> float | str:
    return EMPTY if snr_level_db is None else float(snr_level_db)


def by_snr(scores: Iterable[CaptureScore], settings: MetricSettings = MetricSettings()) -> dict[float | str, dict[str, Estimate]]:
    """Figures per SNR level (ascending), then the empty-spectrum group under EMPTY if present."""
    groups: dict[float | str, list[CaptureScore]] = {}
    for s in scores:
        groups.setdefault(level_key(s.snr_level_db), []).append(s)
    levels = sorted(k for k in groups if k != EMPTY) + ([EMPTY] if EMPTY in groups else [])
    return {lv: group_figures(groups[lv], settings) for lv in levels}


TABLE_COLUMNS = ("figure", "snr_db", "value", "ci_low", "ci_high", "n", "n_unit", "ci_method")


def snr_table(per_level: dict[float | str, dict[str, Estimate]]) -> list[dict]:
    """Plot-ready long table: one row per (figure, SNR level), figures grouped, SNR ascending."""
    figures: list[str] = []
    for figs in per_level.values():
        figures += [f for f in figs if f not in figures]
    rows = []
    for f in figures:
        for lv, figs in per_level.items():
            if f in figs:
                e = figs[f]
                rows.append(dict(zip(TABLE_COLUMNS, (f, lv, e.value, e.ci_low, e.ci_high, e.n, e.n_unit, e.ci_method))))
    return rows


def table_csv(rows: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
