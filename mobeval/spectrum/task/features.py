"""The model input (a normalised spectrum as a complex 1x128x128 image) and the label (a bin mask).

Bin <-> frequency mapping. The input is the FFT of the first N_BINS = 16,384 samples, fftshifted, so
bin k (0 <= k < N_BINS) is centred on

    f_k = centre_freq + (k - N_BINS/2) * sample_rate / N_BINS

and covers [f_k - df/2, f_k + df/2) with df = sample_rate / N_BINS (1,220.7 Hz at 20 MS/s). Bin 0 is
the lowest frequency (centre - sample_rate/2), bin N_BINS/2 the centre. A bin is labelled occupied when
its centre frequency lies inside a signal's band, lower_edge <= f_k <= upper_edge (both edges included).
The image is that 16,384-bin row read row by row: image[0, r, c] = bin 128*r + c.
"""

from __future__ import annotations

import numpy as np

from mobeval.core.errors import DataError

from .items import Capture, Signal

N_BINS = 16_384
IMAGE_SHAPE = (1, 128, 128)


def bin_width_hz(sample_rate_hz: float, n_bins: int = N_BINS) -> float:
    return sample_rate_hz / n_bins


def bin_frequencies(sample_rate_hz: float, centre_freq_hz: float = 0.0, n_bins: int = N_BINS) -> np.ndarray:
    """Centre frequency (Hz) of every fftshifted bin, lowest first."""
    return centre_freq_hz + (np.arange(n_bins) - n_bins // 2) * (sample_rate_hz / n_bins)


def frequency_to_bin(freq_hz: float, sample_rate_hz: float, centre_freq_hz: float = 0.0, n_bins: int = N_BINS) -> int:
    """Index of the fftshifted bin whose span [f_k - df/2, f_k + df/2) holds `freq_hz`."""
    k = int(np.floor((freq_hz - centre_freq_hz) / (sample_rate_hz / n_bins) + 0.5)) + n_bins // 2
    if not 0 <= k < n_bins:
        raise DataError(f"{freq_hz} Hz is outside the captured band {centre_freq_hz} ± {sample_rate_hz / 2} Hz")
    return k


def spectrum_image(iq: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """The paper's model input: fftshift(FFT(first n_bins samples)) / max |.|, as complex64 1x128x128."""
    x = np.asarray(iq)
    if x.shape[0] < n_bins:
        raise DataError(f"a capture needs at least {n_bins} samples for the model input, got {x.shape[0]}")
    spec = np.fft.fftshift(np.fft.fft(x[:n_bins].astype(np.complex128)))
    peak = np.abs(spec).max()
    if not np.isfinite(peak) or peak == 0:
        raise DataError("the capture's spectrum is all zero or not finite; it cannot be normalised")
    side = round(np.sqrt(n_bins))
    return (spec / peak).astype(np.complex64).reshape(1, side, side)


def signal_bins(signal: Signal, sample_rate_hz: float, centre_freq_hz: float, n_bins: int = N_BINS) -> tuple[int, int]:
    """The half-open run [start, stop) of bins whose centres lie inside the signal's band (may be empty)."""
    f = bin_frequencies(sample_rate_hz, centre_freq_hz, n_bins)
    inside = np.nonzero((f >= signal.lower_edge_hz) & (f <= signal.upper_edge_hz))[0]
    if inside.size == 0:
        return 0, 0
    return int(inside[0]), int(inside[-1]) + 1


def label_mask(capture: Capture, n_bins: int = N_BINS) -> np.ndarray:
    """Boolean mask over the n_bins fftshifted bins: True where a bin centre lies inside any signal."""
    mask = np.zeros(n_bins, dtype=bool)
    for s in capture.signals:
        start, stop = signal_bins(s, capture.sample_rate_hz, capture.centre_freq_hz, n_bins)
        mask[start:stop] = True
    return mask
