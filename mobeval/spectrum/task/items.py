"""A spectrum-segmentation item: one complex-baseband IQ capture and the signals truly in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from mobeval.core.errors import DataError


@dataclass(frozen=True)
class Signal:
    """One transmitted signal. Frequencies are absolute (Hz), like SigMF's annotation edges."""

    lower_edge_hz: float
    upper_edge_hz: float
    modulation: str
    power_db: float
    """Transmit power in dB relative to 1 (the mean |x|^2 of the signal in the capture)."""
    snr_db: float
    """Signal power over the noise power in the full sample-rate band (see benchmarks.spectrum.generate)."""

    def __post_init__(self) -> None:
        if not self.upper_edge_hz > self.lower_edge_hz:
            raise DataError(
                f"signal {self.modulation}: upper edge {self.upper_edge_hz} Hz is not above lower edge {self.lower_edge_hz} Hz"
            )

    @property
    def centre_hz(self) -> float:
        return (self.lower_edge_hz + self.upper_edge_hz) / 2

    @property
    def bandwidth_hz(self) -> float:
        return self.upper_edge_hz - self.lower_edge_hz


@dataclass(frozen=True, eq=False)
class Capture:
    """An IQ capture: complex64 samples at `sample_rate_hz` around `centre_freq_hz`, with its true signals.

    `snr_level_db` is the level the capture belongs to (the SNR of its weakest signal); it is None for
    a capture of empty spectrum. `source` says where it came from (generator version and seed, or a file).
    Equality is by identity: captures hold arrays.
    """

    id: str
    iq: np.ndarray
    sample_rate_hz: float
    centre_freq_hz: float
    signals: tuple[Signal, ...]
    noise_power: float
    snr_level_db: float | None
    source: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        iq = np.asarray(self.iq)
        if iq.ndim != 1 or not np.iscomplexobj(iq):
            raise DataError(f"capture {self.id}: iq must be a 1-D complex array, got {iq.dtype} shape {iq.shape}")
        iq = np.array(iq, dtype=np.complex64)  # a private read-only copy: the caller's array stays writable
        iq.setflags(write=False)
        object.__setattr__(self, "iq", iq)
        object.__setattr__(self, "signals", tuple(self.signals))
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))
        if self.sample_rate_hz <= 0:
            raise DataError(f"capture {self.id}: sample rate must be positive, got {self.sample_rate_hz}")

    @property
    def num_samples(self) -> int:
        return int(self.iq.shape[0])

    @property
    def band_hz(self) -> tuple[float, float]:
        """The captured band: centre ± sample_rate/2."""
        half = self.sample_rate_hz / 2
        return self.centre_freq_hz - half, self.centre_freq_hz + half

    @property
    def is_empty(self) -> bool:
        return not self.signals
