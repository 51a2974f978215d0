"""The classical baseline: a thresholded, smoothed PSD with a noise floor estimated from the capture.

No training. Steps, on the same first 16,384 samples the nets see (by default):
1. Welch PSD: Hann segments of `segment` samples, 50% overlap, fftshifted (1,024 coarse bins of
   19.5 kHz at 20 MS/s and the default segment).
2. Smoothing: moving average over `smooth_bins` coarse bins (circular at the band edges).
3. Noise floor by forward consecutive mean excision (FCME): start from the quietest `start_fraction`
   of bins, take their mean m, keep every bin below m * F, repeat until the set stops changing. F is
   the chi-square quantile for `false_alarm_per_bin` at the estimate's equivalent degrees of freedom,
   divided by nu: nu = 2 * segments / (1 + 2 * 0.167^2) for Welch with Hann at 50% overlap, times
   s^2 / (s + 2(s-1) 4/9 + 2(s-2) 1/36) for a moving average over s bins (adjacent Hann bins'
   powers correlate 4/9, bins two apart 1/36); measured on noise here: nu 59 and 108 for s = 1 and 3,
   against 59 and 109 from the formula. The threshold is m * F.
4. Score per bin: psd / (psd + threshold), in (0, 1) and exactly 0.5 at the threshold, interpolated
   linearly from the coarse bins onto the 16,384 model bins (features.bin_frequencies). A bin without
   power scores 0, so an all-zero capture (floor and threshold 0) is reported as unoccupied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import welch
from scipy.stats import chi2

from mobeval.core.errors import DataError
from mobeval.spectrum.task.features import N_BINS, bin_frequencies
from mobeval.spectrum.task.items import Capture

_HANN_HALF_OVERLAP_CORRELATION = 0.167


@dataclass(frozen=True)
class EnergyDetectorConfig:
    segment: int = 1024
    smooth_bins: int = 3
    false_alarm_per_bin: float = 1e-5
    start_fraction: float = 0.25
    samples: int = N_BINS
    max_iterations: int = 50

    def __post_init__(self) -> None:
        if self.segment < 16 or self.samples < self.segment:
            raise DataError(f"need 16 <= segment <= samples, got segment {self.segment}, samples {self.samples}")
        if not 0 < self.false_alarm_per_bin < 1:
            raise DataError(f"false_alarm_per_bin must be in (0, 1), got {self.false_alarm_per_bin}")
        if self.smooth_bins < 1:
            raise DataError(f"smooth_bins must be >= 1, got {self.smooth_bins}")

    @property
    def segments(self) -> int:
        step = self.segment // 2
        return (self.samples - self.segment) // step + 1

    @property
    def degrees_of_freedom(self) -> float:
        s = self.smooth_bins
        smoothing_gain = s * s / (s + 2 * max(s - 1, 0) * 4 / 9 + 2 * max(s - 2, 0) / 36)
        return 2 * self.segments / (1 + 2 * _HANN_HALF_OVERLAP_CORRELATION**2) * smoothing_gain

    @property
    def threshold_factor(self) -> float:
        nu = self.degrees_of_freedom
        return float(chi2.ppf(1 - self.false_alarm_per_bin, nu) / nu)


@dataclass(frozen=True)
class Detection:
    scores: np.ndarray
    """Occupancy score per model bin (N_BINS), > 0.5 where the smoothed PSD exceeds the threshold."""
    noise_floor: float
    """Estimated noise PSD (per Hz, Welch's density scaling)."""
    threshold: float
    coarse_psd: np.ndarray


class EnergyDetector:
    """Occupancy by energy: `detect(capture)` returns a Detection; `scores(capture)` just the scores."""

    name = "energy-detector"

    def __init__(self, config: EnergyDetectorConfig = EnergyDetectorConfig()):
        self.config = config

    def describe(self) -> dict:
        c = self.config
        return {"name": self.name, "trained": False, **asdict(c), "threshold_factor": c.threshold_factor,
                "degrees_of_freedom": c.degrees_of_freedom}

    def detect_iq(self, iq: np.ndarray, sample_rate_hz: float) -> Detection:
        c = self.config
        x = np.asarray(iq)
        if x.shape[0] < c.samples:
            raise DataError(f"the energy detector reads {c.samples} samples; the capture has {x.shape[0]}")
        f, psd = welch(x[: c.samples], fs=sample_rate_hz, window="hann", nperseg=c.segment,
                       noverlap=c.segment // 2, return_onesided=False, detrend=False, scaling="density")
        f, psd = np.fft.fftshift(f), np.fft.fftshift(psd)
        if c.smooth_bins > 1:
            kernel = np.ones(c.smooth_bins) / c.smooth_bins
            pad = c.smooth_bins // 2
            psd = np.convolve(np.concatenate([psd[-pad:], psd, psd[: c.smooth_bins - 1 - pad]]), kernel, mode="valid")
        noise = self._noise_floor(psd)
        threshold = noise * c.threshold_factor
        fine = np.interp(bin_frequencies(sample_rate_hz), f, psd)
        # A bin with no power at all scores 0 (nothing there) even where the floor is 0 too (an all-zero
        # capture: 0 / 0); power over a floor of exactly 0 scores 1.
        total = fine + threshold
        scores = np.divide(fine, total, out=np.zeros_like(fine), where=total > 0)
        return Detection(scores, noise, threshold, psd)

    def _noise_floor(self, psd: np.ndarray) -> float:
        c = self.config
        ordered = np.sort(psd)
        selected = ordered[: max(1, int(len(ordered) * c.start_fraction))]
        for _ in range(c.max_iterations):
            mean = float(selected.mean())
            nxt = psd[psd < mean * c.threshold_factor]
            if nxt.size == selected.size or nxt.size == 0:  # none below: a floor of 0 (an all-zero capture)
                break
            selected = nxt
        return float(selected.mean())

    def detect(self, capture: Capture) -> Detection:
        return self.detect_iq(capture.iq, capture.sample_rate_hz)

    def scores(self, capture: Capture) -> np.ndarray:
        return self.detect(capture).scores
