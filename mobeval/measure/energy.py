"""Energy meters and the factory that picks them.

Every reading says its source (`rapl`, `nvml`, `android-battery`, `estimate`, `unavailable`) and its
scope (what the counter covers). Where no counter can be read the meter is an UnavailableMeter that
says why; an estimate is made only when asked for, and is labelled as one.
"""

from __future__ import annotations

import time
import psutil

from mobeval.measure.meter import EnergyReading, Meter, UnavailableMeter

DEFAULT_WATTS_PER_CORE = 4.0
__all__ = ["EnergyReading", "Meter", "UnavailableMeter", "EstimateMeter", "energy_meters", "measure_idle"]


class EstimateMeter:
    """Joules estimated as this process's CPU seconds x a stated power per busy core."""

    source = "estimate"

    def __init__(self, watts_per_core: float = DEFAULT_WATTS_PER_CORE):
        self.watts_per_core = watts_per_core
        self._proc = psutil.Process()
        self._cpu0 = 0.0
        self._t0 = 0.0

    def _cpu(self) -> float:
        t = self._proc.cpu_times()
        return t.user + t.system

    def start(self) -> None:
        self._cpu0, self._t0 = self._cpu(), time.perf_counter()

    def joules_so_far(self) -> float:
        """The estimate since start(), without stopping (what an energy --budget watches)."""
        return (self._cpu() - self._cpu0) * self.watts_per_core

    def stop(self) -> EnergyReading:
        cpu_s = self._cpu() - self._cpu0
        return EnergyReading(
            "estimate", cpu_s * self.watts_per_core, time.perf_counter() - self._t0,
            scope="this process (estimated, not measured)",
            assumption=f"{cpu_s:.1f} CPU-seconds of this process x {self.watts_per_core} W per busy core; "
                       "idle, memory, uncore and other processes are not counted",
        )


def measure_idle(meter: Meter, seconds: float) -> float | None:
    """Average watts a real counter sees over `seconds` before the run (the part to subtract)."""
    if seconds <= 0 or meter.source in ("unavailable", "estimate"):
        return None
    meter.start()
    time.sleep(seconds)
    reading = meter.stop()
    return None if reading.joules is None else reading.joules / reading.seconds


def energy_meters(mode: str = "auto", watts_per_core: float = DEFAULT_WATTS_PER_CORE,
                  android_serial: str | None = None) -> list[Meter]:
    """The meters for a run: `auto` every real counter found here (RAPL, NVML); `estimate` an
    estimate beside them; `android` a phone's battery over adb; `off` none."""
    from mobeval.measure.nvml import nvml_meter
    from mobeval.measure.rapl import rapl_meter

    if mode == "off":
        return [UnavailableMeter("energy measurement turned off (--energy off)")]
    if mode == "android":
        from mobeval.measure.android import android_meter

        return [android_meter(android_serial)]
    meters: list[Meter] = []
    reasons = []
    for found in (rapl_meter(), nvml_meter()):
        if isinstance(found, UnavailableMeter):
            reasons.append(found.reason)
        else:
            meters.append(found)
    if mode == "estimate":
        meters.append(EstimateMeter(watts_per_core))
    if not meters:
        meters.append(UnavailableMeter("; ".join(reasons)))
    return meters
