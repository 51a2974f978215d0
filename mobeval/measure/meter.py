"""What an energy meter is and what it reads: every meter (RAPL, NVML, Android, the estimate) builds on these."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class EnergyReading:
    source: str
    joules: float | None
    seconds: float  # the window the joules cover
    scope: str = ""
    zones: dict[str, float] = field(default_factory=dict)  # per zone/device joules
    reason: str = ""  # why unavailable
    assumption: str = ""  # what an estimate assumes
    idle_watts: float | None = None  # measured before the run over a short window


class Meter(Protocol):
    source: str

    def start(self) -> None: ...

    def stop(self) -> EnergyReading: ...


class UnavailableMeter:
    source = "unavailable"

    def __init__(self, reason: str):
        self.reason = reason
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        return EnergyReading("unavailable", None, time.perf_counter() - self._t0, reason=self.reason)
