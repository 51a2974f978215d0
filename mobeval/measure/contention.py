"""Was the machine busy while we measured? What other processes (and, on a VM, the hypervisor) took of the CPU
during a window, from the system's CPU counters and this process tree's own CPU time.

On 2 cores, one CPU-heavy neighbour made a llama.cpp run 22x slower (its threads spin at every barrier while
their core is taken) and nothing in the result said so. A window is *contended* when other processes used more
than OTHERS_LIMIT of the machine's CPU time (its cores x the window), or the hypervisor stole more than
STEAL_LIMIT of it; latency measured in a contended window is not called valid (results/assemble.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import psutil

OTHERS_LIMIT = 0.10  # share of the machine's CPU time used by other processes
STEAL_LIMIT = 0.05  # share stolen by the hypervisor (VMs)
RULE = (f"contended when other processes used more than {OTHERS_LIMIT:.0%} of the machine's CPU time during the "
        f"measurement, or the hypervisor stole more than {STEAL_LIMIT:.0%}")


@dataclass(frozen=True)
class Contention:
    window_s: float
    cpus: int
    others_cpu_s: float  # CPU seconds used by every process outside this process tree
    others_share: float  # others_cpu_s / (cpus x window_s)
    steal_s: float
    steal_share: float
    load_avg_1m: float | None  # at the end of the window
    contended: bool

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        parts = [f"other processes used {self.others_share:.0%} of the CPU ({self.others_cpu_s:.1f} CPU-s over "
                 f"{self.window_s:.1f} s on {self.cpus} cores)"]
        if self.steal_s > 0:
            parts.append(f"the hypervisor stole {self.steal_share:.0%}")
        if self.load_avg_1m is not None:
            parts.append(f"load average {self.load_avg_1m:.2f}")
        return "; ".join(parts)


    def free_cores(self) -> int:
        """The cores the others left free, rounded (at least one)."""
        return max(1, self.cpus - round(max(self.others_share, self.steal_share) * self.cpus))

    def remedy(self) -> str:
        """What to do about it, from bench/llamacpp_under_load.py and bench/torch_eager_latency.py: a runtime
        given a thread per core waits at every barrier for the thread whose core is taken."""
        return (f"measure again on an idle machine; to measure beside the others, give the runtime the cores they "
                f"left free (--threads {self.free_cores()} here): with a core taken, llama.cpp and torch ran faster "
                "at one thread fewer than the cores (bench/README.md)")


def _busy_and_steal() -> tuple[float, float]:
    t = psutil.cpu_times()
    steal = getattr(t, "steal", 0.0) or 0.0
    idle = t.idle + (getattr(t, "iowait", 0.0) or 0.0)
    total = sum(v for k, v in t._asdict().items() if k not in ("guest", "guest_nice"))  # guests are in user
    return total - idle - steal, steal


def _own_cpu_s() -> float:
    """CPU seconds of this process and every child it started (a probe, a server, a worker), living or reaped."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:4])  # user, system, children_user, children_system (reaped children)
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:  # gone meanwhile: counted in children_* once reaped
            pass
    return total


class ContentionSampler:
    """Start before the measured work, stop after it: what the rest of the machine did meanwhile."""

    def __init__(self) -> None:
        self._t0 = self._busy0 = self._steal0 = self._own0 = 0.0

    def start(self) -> "ContentionSampler":
        self._t0 = time.perf_counter()
        self._busy0, self._steal0 = _busy_and_steal()
        self._own0 = _own_cpu_s()
        return self

    def stop(self) -> Contention:
        window = max(time.perf_counter() - self._t0, 1e-9)
        busy, steal = _busy_and_steal()
        own = _own_cpu_s() - self._own0
        cpus = psutil.cpu_count(logical=True) or 1
        capacity = cpus * window
        others = max(0.0, (busy - self._busy0) - own)
        stolen = max(0.0, steal - self._steal0)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        others_share, steal_share = min(1.0, others / capacity), min(1.0, stolen / capacity)
        return Contention(window_s=window, cpus=cpus, others_cpu_s=others, others_share=others_share, steal_s=stolen,
                          steal_share=steal_share, load_avg_1m=load,
                          contended=others_share > OTHERS_LIMIT or steal_share > STEAL_LIMIT)
