"""Energy from Linux powercap RAPL counters, or an honest 'unavailable' with the reason.

A meter is picked by `energy_meter()`: RaplMeter where package counters are readable, otherwise an
UnavailableMeter that says why. RAPL counts the whole CPU package (and DRAM where exposed), not
this process: other work on the machine is included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"


def powercap_root() -> Path:
    return Path(os.environ.get("MOBEVAL_POWERCAP_ROOT", DEFAULT_POWERCAP_ROOT))


@dataclass
class EnergyReading:
    source: str  # "rapl" or "unavailable"
    joules: float | None
    scope: str  # what the counters cover
    zones: dict[str, float] = field(default_factory=dict)  # zone name -> joules
    reason: str = ""  # why unavailable


@dataclass
class Zone:
    name: str
    path: Path
    max_uj: int

    def read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text())


def _discover(root: Path) -> tuple[list[Zone], str]:
    """Readable RAPL zones (packages and their dram subzones), or the reason there are none."""
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
        except PermissionError:
            unreadable.append(str(p / "energy_uj"))
        except (OSError, ValueError) as exc:
            unreadable.append(f"{p}: {exc}")
    if unreadable and not zones:
        return [], (
            f"RAPL counters are not readable ({', '.join(unreadable)}); since Linux 5.10 they are "
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

    def start(self) -> None:
        self._start = {z.name: z.read_uj() for z in self.zones}

    def stop(self) -> EnergyReading:
        per_zone = {}
        for z in self.zones:
            delta = z.read_uj() - self._start[z.name]
            if delta < 0:  # the counter wrapped once during the run
                delta += z.max_uj
            per_zone[z.name] = delta / 1e6
        scope = "+".join(sorted({z.name.split("@")[0].split("-")[0] for z in self.zones}))
        return EnergyReading("rapl", sum(per_zone.values()), f"{scope} (whole CPU, not this process)", per_zone)


class UnavailableMeter:
    source = "unavailable"

    def __init__(self, reason: str):
        self.reason = reason

    def start(self) -> None:
        pass

    def stop(self) -> EnergyReading:
        return EnergyReading("unavailable", None, "", reason=self.reason)


def energy_meter(root: Path | None = None) -> RaplMeter | UnavailableMeter:
    zones, reason = _discover(root or powercap_root())
    return RaplMeter(zones) if zones else UnavailableMeter(reason)
