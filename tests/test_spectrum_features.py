"""The model input (normalised spectrum image) and the bin mask, with the bin <-> frequency mapping."""

import numpy as np
import pytest

from mobeval.core.errors import DataError
from mobeval.spectrum.task.features import (
    IMAGE_SHAPE,
    N_BINS,
    bin_frequencies,
    bin_width_hz,
    frequency_to_bin,
    label_mask,
    signal_bins,
    spectrum_image,
)
from mobeval.spectrum.task.items import Capture, Signal

FS = 20e6
DF = FS / N_BINS


def test_bin_frequency_mapping():
    f = bin_frequencies(FS, centre_freq_hz=2.4e9)
    assert f[N_BINS // 2] == 2.4e9 and f[0] == 2.4e9 - FS / 2
    assert bin_width_hz(FS) == pytest.approx(1220.703125)
    assert np.allclose(np.diff(f), DF)
    for k in (0, 1, 5000, N_BINS // 2, N_BINS - 1):
        assert frequency_to_bin(f[k], FS, 2.4e9) == k
        assert frequency_to_bin(f[k] + 0.49 * DF, FS, 2.4e9) == k
    with pytest.raises(DataError):
        frequency_to_bin(2.4e9 + FS / 2 + DF, FS, 2.4e9)


@pytest.mark.parametrize("k", [0, 3, 8192, 10_000, N_BINS - 1])
def test_tone_lands_in_its_bin_of_the_image(k):
    f = bin_frequencies(FS)[k]
    iq = 3 * np.exp(2j * np.pi * f * np.arange(40_000) / FS)
    img = spectrum_image(iq)
    assert img.shape == IMAGE_SHAPE and img.dtype == np.complex64
    assert np.abs(img).max() == pytest.approx(1.0)
    r, c = divmod(k, 128)
    assert np.unravel_index(np.argmax(np.abs(img)), img.shape) == (0, r, c)
    assert np.abs(img).sum() == pytest.approx(1.0, abs=1e-3)  # an on-bin tone leaks nowhere


def test_image_uses_only_the_first_16384_samples():
    rng = np.random.default_rng(0)
    iq = rng.standard_normal(40_000) + 1j * rng.standard_normal(40_000)
    changed = iq.copy()
    changed[N_BINS:] = 0
    assert np.array_equal(spectrum_image(iq), spectrum_image(changed))
    with pytest.raises(DataError):
        spectrum_image(iq[: N_BINS - 1])
    with pytest.raises(DataError):
        spectrum_image(np.zeros(N_BINS, complex))


def capture(signals, centre=0.0):
    return Capture("c", np.zeros(N_BINS, np.complex64), FS, centre, tuple(signals), 1.0, 0.0)


def test_label_mask_marks_bins_whose_centre_is_inside_the_band():
    f = bin_frequencies(FS, 1e9)
    a = Signal(f[10] - DF / 4, f[20] + DF / 4, "QPSK", 0, 0)  # bins 10..20
    b = Signal(f[100], f[110], "BPSK", 0, 0)  # edges exactly on bin centres: both included
    c = Signal(f[200] + DF / 10, f[200] + DF / 5, "BPSK", 0, 0)  # narrower than a bin, no centre inside
    cap = capture([a, b, c], centre=1e9)
    mask = label_mask(cap)
    assert signal_bins(a, FS, 1e9) == (10, 21)
    assert signal_bins(b, FS, 1e9) == (100, 111)
    assert signal_bins(c, FS, 1e9) == (0, 0)
    assert mask.sum() == 11 + 11 and mask[10:21].all() and mask[100:111].all() and not mask[9] and not mask[21]


def test_signal_edges_must_be_ordered():
    with pytest.raises(DataError):
        Signal(2e6, 1e6, "QPSK", 0, 0)
