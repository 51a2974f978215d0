"""Peak resident memory, sampled by a background thread while the run goes on."""

from __future__ import annotations

import threading
import time

import psutil


class PeakMemorySampler:
    """Samples this process's RSS every `period_s` from start() to stop().

    The baseline is the RSS at start(), before the model loads; the peak is the highest sample,
    so a peak between two reads at the end is not missed the way an end-of-run read misses it.
    A memory-mapped model file counts in RSS only for the pages actually touched.
    """

    def __init__(self, period_s: float = 0.01, full_period_s: float = 0.25):
        self.period_s = period_s
        self.full_period_s = full_period_s  # USS/PSS read /proc/PID/smaps_rollup: costlier, so rarer
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline_bytes = 0
        self.peak_bytes = 0
        self.samples = 0
        self.peak_uss_bytes: int | None = None
        self.peak_pss_bytes: int | None = None
        self._last_full = 0.0

    def _read(self) -> None:
        rss = self._proc.memory_info().rss
        self.samples += 1
        if rss > self.peak_bytes:
            self.peak_bytes = rss

    def _read_full(self) -> None:
        try:
            full = self._proc.memory_full_info()
        except (psutil.AccessDenied, OSError):
            return
        uss, pss = getattr(full, "uss", None), getattr(full, "pss", None)  # pss: Linux only
        if uss is not None:
            self.peak_uss_bytes = max(uss, self.peak_uss_bytes or 0)
        if pss is not None:
            self.peak_pss_bytes = max(pss, self.peak_pss_bytes or 0)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self._read()
            now = time.perf_counter()
            if now - self._last_full >= self.full_period_s:
                self._last_full = now
                self._read_full()

    def start(self) -> "PeakMemorySampler":
        self.baseline_bytes = self._proc.memory_info().rss
        self.peak_bytes = self.baseline_bytes
        self._thread = threading.Thread(target=self._loop, name="mobeval-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._read()
            self._read_full()

    def __enter__(self) -> "PeakMemorySampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def now() -> float:
    return time.perf_counter()
