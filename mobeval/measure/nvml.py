"""NVIDIA GPU energy from NVML's total-energy counter (millijoules since driver load)."""

from __future__ import annotations

import time

from mobeval.measure.meter import EnergyReading, UnavailableMeter


class NvmlMeter:
    source = "nvml"

    def __init__(self, pynvml, handles: list):
        self._nvml = pynvml
        self.handles = handles
        self._start: list[int] = []
        self._t0 = 0.0

    def _read(self) -> list[int]:
        return [self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]

    def start(self) -> None:
        self._start = self._read()
        self._t0 = time.perf_counter()

    def joules_so_far(self) -> float:
        """Joules since start(), without stopping (what an energy --budget watches)."""
        return sum((b - a) / 1000 for a, b in zip(self._start, self._read()))

    def stop(self) -> EnergyReading:
        per_gpu = {f"gpu{i}": (b - a) / 1000 for i, (a, b) in enumerate(zip(self._start, self._read()))}
        return EnergyReading("nvml", sum(per_gpu.values()), time.perf_counter() - self._t0,
                             scope=f"{len(per_gpu)} NVIDIA GPU(s), whole device", zones=per_gpu)


def nvml_meter() -> NvmlMeter | UnavailableMeter:
    try:
        import pynvml  # from the nvidia-ml-py package
    except ImportError:
        return UnavailableMeter("no NVML (nvidia-ml-py not installed)")
    try:
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        if not handles:
            return UnavailableMeter("NVML found no GPU")
        for h in handles:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(h)  # Volta and newer only
    except Exception as exc:  # NVMLError subclasses: no driver, no GPU, unsupported
        return UnavailableMeter(f"NVML unavailable: {exc}")
    return NvmlMeter(pynvml, handles)
