"""The synthetic capture generator: the recipe, determinism, disjoint splits, and labels that match spectra."""

import itertools
import re

import numpy as np
import pytest
from scipy.signal import welch

from mobeval.spectrum.benchmarks.generate import (
    BANDWIDTHS_HZ,
    GENERATOR_VERSION,
    MODULATIONS,
    SNR_LEVELS_DB,
    CaptureKey,
    Recipe,
    SplitSpec,
    TrainingRecord,
    baseband_waveform,
    generate_capture,
    generate_split,
    refuse_training_overlap,
)
from mobeval.core.errors import DataError
from mobeval.spectrum.task.features import N_BINS, label_mask

FS = 20e6
DF = FS / N_BINS


@pytest.fixture(scope="module")
def captures():
    return list(generate_split(SplitSpec(seed=11, split="test", per_level=1, levels_db=(-20, -6, 0, 10))))


def test_levels_and_recipe_defaults():
    assert SNR_LEVELS_DB == tuple(range(-20, 11, 2)) and len(SNR_LEVELS_DB) == 16
    r = Recipe()
    assert (r.sample_rate_hz, r.num_samples, r.rrc_rolloff, r.rrc_span_symbols) == (20e6, 40_000, 0.35, 10)
    assert r.num_samples / r.sample_rate_hz == pytest.approx(2e-3)
    with pytest.raises(DataError):
        Recipe(modulations=("OOK",))
    with pytest.raises(DataError):
        Recipe(fading="fast")  # none, rayleigh and rician exist (tests/test_spectrum_fading.py)


def test_captures_follow_the_recipe(captures):
    for c in captures:
        assert c.num_samples == 40_000 and c.iq.dtype == np.complex64 and c.sample_rate_hz == FS
        assert 1 <= len(c.signals) <= 10
        ordered = sorted(c.signals, key=lambda s: s.lower_edge_hz)
        assert ordered[0].lower_edge_hz >= -FS / 2 + 50e3 and ordered[-1].upper_edge_hz <= FS / 2 - 50e3
        for a, b in itertools.pairwise(ordered):
            assert b.lower_edge_hz - a.upper_edge_hz >= 100e3 - 1e-6
        for s in c.signals:
            assert min(abs(s.bandwidth_hz - bw) for bw in BANDWIDTHS_HZ) < 1e-3
            assert s.modulation in MODULATIONS and 0 <= s.power_db <= 20
            assert s.snr_db == pytest.approx(s.power_db - 10 * np.log10(c.noise_power))
        assert min(s.snr_db for s in c.signals) == pytest.approx(c.snr_level_db)
        src = c.source
        assert src["generator_version"] == GENERATOR_VERSION and src["split"] == "test" and src["seed"] == 11
        assert src["recipe"]["rrc_rolloff"] == 0.35 and len(src["signals"]) == len(c.signals)
        assert all("symbol_rate_hz" in d and "in_band_snr_db" in d for d in src["signals"])


def test_signal_and_noise_powers_are_what_the_capture_says():
    key = CaptureKey(3, "test", 0, 0)
    c = generate_capture(key)
    f = np.fft.fftshift(np.fft.fftfreq(c.num_samples, 1 / FS))
    spec = np.abs(np.fft.fftshift(np.fft.fft(c.iq.astype(complex)))) ** 2 / c.num_samples**2
    occupied = np.zeros_like(f, dtype=bool)
    for s in c.signals:
        occupied |= (f >= s.lower_edge_hz - 20e3) & (f <= s.upper_edge_hz + 20e3)
    noise_per_bin = spec[~occupied].mean()
    assert noise_per_bin * c.num_samples == pytest.approx(c.noise_power, rel=0.1)
    for s in c.signals:  # energy in the band minus the noise there = the signal's power
        band = (f >= s.lower_edge_hz) & (f <= s.upper_edge_hz)
        measured = spec[band].sum() - noise_per_bin * band.sum()
        assert 10 * np.log10(measured) == pytest.approx(s.power_db, abs=0.5)


def test_deterministic_by_key_and_distinct_across_splits():
    a = generate_capture(CaptureKey(5, "train", -4, 7))
    b = generate_capture(CaptureKey(5, "train", -4, 7))
    assert np.array_equal(a.iq, b.iq) and a.signals == b.signals and a.id == b.id
    others = [generate_capture(CaptureKey(5, split, -4, 7)) for split in ("validation", "test")]
    others.append(generate_capture(CaptureKey(6, "train", -4, 7)))
    others.append(generate_capture(CaptureKey(5, "train", -4, 8)))
    for o in others:
        assert o.id != a.id and not np.array_equal(o.iq, a.iq)


def test_capture_id_encodes_split_and_index():
    key = CaptureKey(42, "validation", -20, 123)
    assert key.id == "synth-v1-s42-validation-snr-20-000123"
    assert CaptureKey.parse(key.id) == key
    assert CaptureKey.parse(CaptureKey(1, "test", None, 0).id).snr_db is None
    assert CaptureKey(1, "test", 4, 0).id == "synth-v1-s1-test-snr+04-000000"
    with pytest.raises(DataError):
        CaptureKey.parse("capture-7")
    with pytest.raises(DataError):
        CaptureKey(1, "dev", 0, 0)
    ids = {k.id for split in ("train", "validation", "test") for k in SplitSpec(1, split, 50).capture_keys()}
    assert len(ids) == 3 * 50 * 16


def test_empty_spectrum_captures():
    c = generate_capture(CaptureKey(2, "test", None, 0))
    assert c.is_empty and c.snr_level_db is None and c.noise_power == 1.0
    assert np.mean(np.abs(c.iq) ** 2) == pytest.approx(1.0, rel=0.05)
    spec = SplitSpec(2, "test", per_level=1, levels_db=(0,), empty=2)
    assert [k.snr_db for k in spec.capture_keys()] == [0, None, None]


def test_evaluation_on_training_captures_is_refused():
    training = TrainingRecord(GENERATOR_VERSION, seed=9, splits=("train", "validation"))
    train = generate_capture(CaptureKey(9, "train", 0, 0))
    val = generate_capture(CaptureKey(9, "validation", 0, 0))
    test = generate_capture(CaptureKey(9, "test", 0, 0))
    other_seed = generate_capture(CaptureKey(10, "train", 0, 0))
    refuse_training_overlap([test, other_seed], training)
    refuse_training_overlap([train], None)
    for used in (train, val):
        with pytest.raises(DataError, match=re.escape(used.id)):
            refuse_training_overlap([test, used], training)
    by_id = TrainingRecord(GENERATOR_VERSION, seed=9, splits=(), capture_ids=frozenset({test.id}))
    with pytest.raises(DataError):
        refuse_training_overlap([test], by_id)


def hann_psd(x):
    f, p = welch(x, FS, window="hann", nperseg=N_BINS, noverlap=N_BINS // 2, return_onesided=False, detrend=False)
    return np.fft.fftshift(f), np.fft.fftshift(p)


@pytest.mark.parametrize("modulation", MODULATIONS)
def test_label_holds_the_signal_energy_and_the_spectrum_ends_at_the_label_edge(modulation):
    """Noise-free, one signal at a time, every bandwidth: >= 99.9% of the energy is in the labelled
    bins, and 2 bins beyond each label edge the PSD is at least 25 dB below the in-band level. (An
    RRC spectrum rolls off over the outer 0.35/1.35 of the band, so a -3 dB edge is not the label
    edge; the label edge is where the spectrum ends; the remaining floor is the 10-symbol truncation.)"""
    rng = np.random.default_rng(0)
    for bw in BANDWIDTHS_HZ:
        x, _params = baseband_waveform(modulation, bw, 40_000, Recipe(), rng)
        assert np.mean(np.abs(x) ** 2) == pytest.approx(1.0)
        f, p = hann_psd(x)
        label = np.abs(f) <= bw / 2
        assert p[label].sum() / p.sum() >= 0.999, (modulation, bw)
        inner = p[np.abs(f) <= bw / 4].mean()
        flank = (np.abs(f) > bw / 2 + 2 * DF) & (np.abs(f) <= bw / 2 + 40 * DF)
        assert 10 * np.log10(p[flank].mean() / inner) <= -25, (modulation, bw)
        # The band is filled: the -30 dB support (PSD smoothed over 9 bins, relative to its peak) ends at
        # the label edges: within 6 bins or 1% of the bandwidth for the RRC-shaped modulations; GMSK's
        # and 2FSK's skirts fall below -30 dB up to 15% of the bandwidth inside their channel filter.
        smooth = np.convolve(p, np.ones(9) / 9, mode="same")
        support = np.flatnonzero(smooth >= smooth.max() / 1000)
        lo_gap, hi_gap = f[support[0]] + bw / 2, bw / 2 - f[support[-1]]
        if modulation in ("GMSK", "2FSK"):
            assert -2 * DF <= lo_gap <= 0.15 * bw and -2 * DF <= hi_gap <= 0.15 * bw, (modulation, bw, lo_gap, hi_gap)
        else:
            tol = max(6 * DF, 0.01 * bw)
            assert abs(lo_gap) <= tol and abs(hi_gap) <= tol, (modulation, bw, lo_gap / DF, hi_gap / DF)


def test_labels_match_the_capture_spectrum_at_high_snr(captures):
    c = next(c for c in captures if c.snr_level_db == 10)
    f, p = hann_psd(c.iq.astype(complex))
    mask = label_mask(c)
    noise_psd = c.noise_power / FS
    assert np.median(p[~mask]) == pytest.approx(noise_psd, rel=0.25)
    for s in c.signals:
        inside = (f >= s.lower_edge_hz) & (f <= s.upper_edge_hz)
        gap = ((f > s.upper_edge_hz + 5 * DF) & (f < s.upper_edge_hz + 60 * DF)) | (
            (f < s.lower_edge_hz - 5 * DF) & (f > s.lower_edge_hz - 60 * DF))
        ratio_db = 10 * np.log10(p[inside].mean() / p[gap & ~mask].mean())
        expected_db = 10 * np.log10(10 ** (s.snr_db / 10) * FS / s.bandwidth_hz)  # in-band SNR
        assert ratio_db >= 10, (s, ratio_db)
        assert ratio_db <= expected_db + 1.5, (s, ratio_db, expected_db)
    # the label mask and the spectrum agree bin by bin where the in-band SNR is high
    assert np.mean(p[mask] > 4 * noise_psd) > 0.9
    assert np.mean(p[~mask] > 4 * noise_psd) < 0.05
