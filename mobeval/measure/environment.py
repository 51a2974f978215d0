"""The machine a run happened on."""

from __future__ import annotations

import os
import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from mobeval.core.version import __version__

LIBRARIES = ("llama-cpp-python", "numpy", "psutil", "datasets", "huggingface_hub", "pydantic")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo; platform.processor() as a fallback)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The instruction-set flags that decide which kernels a runtime can use (x86 SIMD and matrix units, ARM
# NEON/SVE/SME and dot products): enough to tell two machines' results apart without the full flag list.
_ISA = re.compile(r"^(pni|sse|ssse|avx|fma|f16c|bmi|amx|vaes|vpclmul|asimd|neon|sve|sme\d*$|fphp|bf16|i8mm|dotprod)")


def cpu_isa(flags: set[str]) -> list[str]:
    """The ISA flags relevant to ML kernels among a CPU's /proc/cpuinfo flags."""
    return sorted(f for f in flags if _ISA.match(f))


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _lib_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def cpu_freq_mhz() -> float | None:
    freq = psutil.cpu_freq()
    return round(freq.current, 1) if freq else None


def cpu_flags() -> set[str]:
    """The CPU's ISA flags as /proc/cpuinfo lists them (x86 "flags", ARM "Features"); empty elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":", 1)[0].strip()
            if key in ("flags", "Features"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()



def environment() -> dict:
    from mobeval.core.catalog import catalog, load_target

    flags = cpu_flags()
    battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
    freq = psutil.cpu_freq()
    return {
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cpu_isa": cpu_isa(flags),
        "cpu_logical": psutil.cpu_count(logical=True),
        "cpu_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpu_freq_mhz": round(freq.current) if freq else None,
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "on_battery": None if battery is None else not battery.power_plugged,
        "mobeval": __version__,
        "libraries": {name: _lib_version(name) for name in LIBRARIES},
        # what each modality's runtimes say of themselves here (the catalogs' ENVIRONMENT functions)
        **{k: v for target in catalog().environment for k, v in load_target(target)().items()},
    }
