"""The energy-detector baseline on generated captures: it finds strong signals, rarely alarms on empty
spectrum, and loses signals at low SNR (measured, not assumed: the figures are printed)."""

import numpy as np
import pytest

from mobeval.spectrum.benchmarks.generate import CaptureKey, Recipe, SplitSpec, generate_capture, generate_split
from mobeval.core.errors import DataError
from mobeval.spectrum.runners.energy_detector import EnergyDetector, EnergyDetectorConfig
from mobeval.spectrum.task.features import N_BINS, signal_bins
from mobeval.spectrum.task.metrics import MetricSettings, by_snr, score_capture, snr_table, table_csv

SETTINGS = MetricSettings(bootstrap_resamples=300)


@pytest.fixture(scope="module")
def detector():
    return EnergyDetector()


def test_scores_are_per_bin_and_threshold_at_one_half(detector):
    c = generate_capture(CaptureKey(30, "test", 10, 0))
    d = detector.detect(c)
    assert d.scores.shape == (N_BINS,) and np.all((d.scores > 0) & (d.scores < 1))
    assert d.threshold == pytest.approx(d.noise_floor * detector.config.threshold_factor)
    assert d.noise_floor == pytest.approx(c.noise_power / c.sample_rate_hz, rel=0.15)
    desc = detector.describe()
    assert desc["trained"] is False and desc["segment"] == 1024 and desc["false_alarm_per_bin"] == 1e-5


def test_equivalent_degrees_of_freedom_match_noise(detector):
    """The threshold's chi-square model: the smoothed Welch PSD of noise has the variance it assumes."""
    rng = np.random.default_rng(1)
    ratios = []
    for _ in range(20):
        x = (rng.standard_normal(N_BINS) + 1j * rng.standard_normal(N_BINS)) * np.sqrt(0.5)
        psd = detector.detect_iq(x, 20e6).coarse_psd
        ratios.append(psd / psd.mean())
    nu = 2 / np.var(np.concatenate(ratios))
    assert nu == pytest.approx(detector.config.degrees_of_freedom, rel=0.1)


def test_finds_a_strong_lone_signal(detector):
    for i in range(8):
        c = generate_capture(CaptureKey(31, "test", 10, i), Recipe(min_signals=1, max_signals=1))
        s = score_capture(c, detector.scores(c), SETTINGS)
        start, stop = signal_bins(c.signals[0], c.sample_rate_hz, c.centre_freq_hz)
        assert s.signal_ious[0] > 0.45, (c.id, c.signals[0])
        assert s.tp >= 0.95 * (stop - start)  # it covers the signal; resolution widens it


def test_empty_spectrum_rarely_alarms(detector):
    caps = list(generate_split(SplitSpec(32, "test", per_level=0, empty=60)))
    per = by_snr([score_capture(c, detector.scores(c), SETTINGS) for c in caps], SETTINGS)
    fa = per["empty"]["false_alarm_rate"]
    assert fa.n == 60 and fa.value <= 0.1, fa  # designed for about 1% (1e-5 per bin)


def test_per_snr_table_low_against_high_snr(detector, capsys):
    caps = list(generate_split(SplitSpec(33, "test", per_level=4, levels_db=(-20, 10))))
    per = by_snr([score_capture(c, detector.scores(c), SETTINGS) for c in caps], SETTINGS)
    rows = snr_table(per)
    with capsys.disabled():
        print("\nenergy detector, 4 captures per level (seed 33):\n" + table_csv(rows))
    low, high = per[-20.0], per[10.0]
    assert high["bin_recall"].value >= 0.95 and high["bin_accuracy"].value >= 0.95
    # at -20 dB (weakest signal; full-band SNR) the detector misses much of the occupied spectrum
    assert low["bin_recall"].value < high["bin_recall"].value - 0.2
    assert low["mean_iou"].value < high["mean_iou"].value


def test_config_errors():
    with pytest.raises(DataError):
        EnergyDetectorConfig(segment=8)
    with pytest.raises(DataError):
        EnergyDetectorConfig(false_alarm_per_bin=0)
    with pytest.raises(DataError):
        EnergyDetector().detect_iq(np.ones(1000, complex), 20e6)
