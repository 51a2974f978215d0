"""Linux powercap RAPL counters (Intel, and AMD processors that expose the same interface).

The counters cover the whole CPU package (and DRAM where exposed), not this process. They wrap at
max_energy_range_uj; a window shorter than one wrap (minutes at full load) is handled exactly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mobeval.measure.meter import EnergyReading, UnavailableMeter

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"


def powercap_root() -> Path:
    return Path(os.environ.get("MOBEVAL_POWERCAP_ROOT", DEFAULT_POWERCAP_ROOT))


@dataclass
class Zone:
    name: str
    path: Path
    max_uj: int

    def read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text())


def discover(root: Path) -> tuple[list[Zone], str]:
    """Readable package and DRAM zones, or the reason there are none."""
    if not root.is_dir():
        return [], f"no powercap interface at {root} (no RAPL on this machine or in this container)"
    candidates = sorted(p for p in root.glob("intel-rapl:*") if p.is_dir())
    if not candidates:
        return [], f"no intel-rapl zones under {root} (no RAPL counters exposed here)"
    zones, unreadable = [], []
    for p in candidates:
        try:
            name = (p / "name").read_text().strip()
        except OSError:
            name = p.name
        if not (name.startswith("package") or name == "dram"):
            continue  # core/uncore are inside package: counting them would double count
        try:
            zone = Zone(f"{name}@{p.name}", p, int((p / "max_energy_range_uj").read_text()))
            zone.read_uj()
            zones.append(zone)
        except (OSError, ValueError) as exc:
            unreadable.append(f"{p / 'energy_uj'} ({type(exc).__name__})")
    if unreadable and not zones:
        return [], (
            f"RAPL counters are not readable: {', '.join(unreadable)}; since Linux 5.10 they are "
            f"root-only: run as root or `sudo chmod o+r {root}/intel-rapl:*/energy_uj "
            f"{root}/intel-rapl:*/intel-rapl:*/energy_uj`"
        )
    if not zones:
        return [], f"no package or dram RAPL zones under {root}"
    return zones, ""


class RaplMeter:
    source = "rapl"

    def __init__(self, zones: list[Zone]):
        self.zones = zones
        self._start: dict[str, int] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._start = {z.name: z.read_uj() for z in self.zones}
        self._t0 = time.perf_counter()

    def _since_start(self) -> dict[str, float]:
        per_zone = {}
        for z in self.zones:
            delta = z.read_uj() - self._start[z.name]
            if delta < 0:  # the counter wrapped once during the window
                delta += z.max_uj
            per_zone[z.name] = delta / 1e6
        return per_zone

    def joules_so_far(self) -> float:
        """Joules since start(), without stopping (what an energy --budget watches)."""
        return sum(self._since_start().values())

    def stop(self) -> EnergyReading:
        per_zone = self._since_start()
        kinds = sorted({z.name.split("@")[0].rstrip("-0123456789") for z in self.zones})
        return EnergyReading("rapl", sum(per_zone.values()), time.perf_counter() - self._t0,
                             scope=f"{'+'.join(kinds)} (whole CPU package, not this process)", zones=per_zone)


def rapl_meter(root: Path | None = None) -> RaplMeter | UnavailableMeter:
    zones, reason = discover(root or powercap_root())
    return RaplMeter(zones) if zones else UnavailableMeter(reason)
