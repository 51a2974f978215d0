"""A spectrum benchmark as loaded: an index of captures (id, SNR level, where each comes from) and a
way to make one capture when it is needed. Nothing holds samples until `capture(ref)` is called, so a
run keeps one capture in memory at a time, and of a capture in files only the samples the runner reads
(`capture(ref, samples)`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mobeval.spectrum.task.items import Capture

EMPTY = "empty"  # stratum of captures of empty spectrum
UNKNOWN = "unknown"  # stratum of captures with signals but no recorded SNR level (recordings)


@dataclass(frozen=True)
class CaptureRef:
    """One capture of a benchmark, known before its samples are made or read."""

    id: str
    snr_level_db: float | None
    n_signals: int | None  # None: known only once the capture is made (generated captures)
    source: Mapping[str, Any]  # what refuse_training_overlap reads: kind, generator_version, seed, split

    @property
    def stratum(self) -> str:
        """The SNR group the capture counts in: the level in dB, 'empty' or 'unknown'."""
        if self.snr_level_db is not None:
            return f"{self.snr_level_db:g}"
        return EMPTY if self.n_signals == 0 else UNKNOWN


@dataclass(frozen=True)
class SpectrumSet:
    name: str
    refs: tuple[CaptureRef, ...]
    sources: list[str]  # "generator v1 seed 14 test" or the folder read
    description: dict[str, Any]  # recorded in the result's data section
    data_sha256: str  # identifies the data behind the refs (generator recipe, or the files' index)
    make: Callable[[CaptureRef], Capture] = field(repr=False)
    make_start: Callable[[CaptureRef, int], Capture] | None = field(default=None, repr=False)
    """Where set: the capture with only its first `samples` samples loaded (files too large to hold)."""

    def capture(self, ref: CaptureRef, samples: int | None = None) -> Capture:
        """The capture; `samples`: the leading samples the caller reads (None: all). A set that makes
        captures whole (generated ones) may return more."""
        if samples is not None and self.make_start is not None:
            return self.make_start(ref, samples)
        return self.make(ref)
