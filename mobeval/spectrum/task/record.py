"""One line of a spectrum-segmentation run's samples.jsonl: one capture, scored.

A record keeps the capture's per-bin counts and per-signal IoUs (so every figure of the task section
is computed from the file alone, metrics.group_figures) and the predicted segments as runs of bins
(so `mobeval compare` can measure how far two runners' masks agree without the captures).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mobeval.spectrum.task.metrics import CaptureScore


@dataclass(frozen=True)
class SpectrumRecord:
    capture_id: str
    snr_level_db: float | None  # the capture's level (its weakest signal); None: empty spectrum or unknown
    n_signals: int  # true signals in the capture
    tp: int  # per-bin counts at `threshold`, after widening by `widen_bins`
    fp: int
    tn: int
    fn: int
    signal_ious: tuple[float, ...]  # per true signal, its Hungarian-matched IoU (0 when unmatched)
    predicted_runs: tuple[tuple[int, int], ...]  # predicted segments, half-open [start, stop) bins, not widened
    n_bins: int
    threshold: float
    widen_bins: int
    load_s: float  # generating the capture, or reading its files: outside the runner
    prepare_s: float  # the runner's prepare(capture): its input (FFT image, samples), outside the timed call
    latency_s: float  # the runner's segment call for this capture alone (single stream)
    ordering: int = 0  # one record per capture
    warmup: bool = False

    @property
    def item_id(self) -> str:
        return self.capture_id

    @property
    def group(self) -> str:
        """The SNR group it counts in: the level in dB ('-20', '0', ...), 'empty' or 'unknown'."""
        if self.snr_level_db is not None:
            return f"{self.snr_level_db:g}"
        return "empty" if self.n_signals == 0 else "unknown"

    def mask(self) -> np.ndarray:
        """The predicted bins (not widened) as a boolean mask."""
        m = np.zeros(self.n_bins, dtype=bool)
        for a, b in self.predicted_runs:
            m[a:b] = True
        return m

    def score(self) -> CaptureScore:
        """The counts this capture contributes to its group's figures (metrics.group_figures)."""
        return CaptureScore(
            capture_id=self.capture_id, snr_level_db=self.snr_level_db, tp=self.tp, fp=self.fp, tn=self.tn,
            fn=self.fn, signal_ious=self.signal_ious, predicted_segments=len(self.predicted_runs),
            predicted_bins=sum(b - a for a, b in self.predicted_runs), n_bins=self.n_bins,
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> SpectrumRecord:
        d = dict(d)
        d["signal_ious"] = tuple(float(x) for x in d["signal_ious"])
        d["predicted_runs"] = tuple((int(a), int(b)) for a, b in d["predicted_runs"])
        return cls(**d)


def group_order(group: str) -> tuple[int, float]:
    """Sort key of SNR groups: levels ascending, then 'empty', then 'unknown'."""
    try:
        return 0, float(group)
    except ValueError:
        return (1, 0.0) if group == "empty" else (2, 0.0)
