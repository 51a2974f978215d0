"""Energy of an Android phone over adb: battery voltage x current, sampled while the model runs there.

`/sys/class/power_supply/battery/voltage_now` is in microvolts and `current_now` in microamps on
most devices (the sign of the current differs between vendors, so its magnitude is used). The
reading is the whole phone's draw from its battery, and is meaningless while it charges: unplug it.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

from mobeval.measure.meter import EnergyReading, UnavailableMeter

BATTERY = "/sys/class/power_supply/battery"
Sample = tuple[float, int, int]  # (seconds, microvolts, microamps)


def parse_battery(text: str) -> tuple[int, int]:
    """(microvolts, microamps) from `cat voltage_now current_now` output."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) != 2:
        raise ValueError(f"expected voltage_now and current_now, got {text!r}")
    return int(lines[0]), int(lines[1])


def parse_trace(text: str) -> list[Sample]:
    """A recorded trace: one `seconds microvolts microamps` line per sample; `#` starts a comment."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            t, uv, ua = line.split()
            out.append((float(t), int(uv), int(ua)))
        except ValueError as exc:
            raise ValueError(f"trace line {n}: expected 'seconds microvolts microamps', got {line!r}") from exc
    return out


def integrate(samples: list[Sample]) -> float:
    """Joules by the trapezoid rule over power = V x |I|."""
    joules = 0.0
    for (t0, v0, i0), (t1, v1, i1) in zip(samples, samples[1:]):
        p0, p1 = v0 * abs(i0) / 1e12, v1 * abs(i1) / 1e12
        joules += (p0 + p1) / 2 * (t1 - t0)
    return joules


def format_trace(samples: list[Sample]) -> str:
    return "".join(f"{t:.3f} {uv} {ua}\n" for t, uv, ua in samples)


class AdbReader:
    def __init__(self, serial: str | None = None):
        self.cmd = ["adb", *(["-s", serial] if serial else []), "shell", "cat",
                    f"{BATTERY}/voltage_now", f"{BATTERY}/current_now"]

    def __call__(self) -> tuple[int, int]:
        out = subprocess.run(self.cmd, capture_output=True, text=True, timeout=5, check=True).stdout
        return parse_battery(out)


class AndroidBatteryMeter:
    source = "android-battery"

    def __init__(self, serial: str | None = None, period_s: float = 0.25, reader=None,
                 trace_path: Path | None = None):
        self.reader = reader or AdbReader(serial)
        self.period_s = period_s
        self.trace_path = trace_path
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def _sample(self) -> None:
        uv, ua = self.reader()
        self.samples.append((time.perf_counter() - self._t0, uv, ua))

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self._sample()

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self.samples = []
        self._stop.clear()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="mobeval-adb", daemon=True)
        self._thread.start()

    def joules_so_far(self) -> float | None:
        """Joules integrated over the samples so far, without stopping (what an energy --budget watches)."""
        samples = list(self.samples)
        return integrate(samples) if len(samples) > 1 else 0.0

    def stop(self) -> EnergyReading:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()
        if self.trace_path:
            self.trace_path.write_text(format_trace(self.samples))
        return EnergyReading("android-battery", integrate(self.samples), self.samples[-1][0],
                             scope=f"whole phone, from its battery ({len(self.samples)} samples, "
                                   f"every {self.period_s} s)")


def android_meter(serial: str | None = None) -> AndroidBatteryMeter | UnavailableMeter:
    if shutil.which("adb") is None:
        return UnavailableMeter("adb not found: install Android platform-tools and attach the phone")
    return AndroidBatteryMeter(serial)
