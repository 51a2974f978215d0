"""Energy from planted powercap trees; memory sampler against a known allocation; statistics."""

import os
import time

import pytest

from mobeval.measure.energy import RaplMeter, energy_meter
from mobeval.measure.memory import PeakMemorySampler
from mobeval.measure.stats import percentile, summarize


def plant_zone(root, name, zone_name, energy_uj, max_uj=262143328850):
    z = root / name
    z.mkdir(parents=True)
    (z / "name").write_text(zone_name + "\n")
    (z / "energy_uj").write_text(f"{energy_uj}\n")
    (z / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return z


def set_energy(zone, value):
    (zone / "energy_uj").write_text(f"{value}\n")


def test_rapl_sums_package_and_dram_zones_and_handles_wraparound(tmp_path, monkeypatch):
    pkg = plant_zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    dram = plant_zone(tmp_path, "intel-rapl:0:0", "dram", 999_000_000, max_uj=1_000_000_000)
    core = plant_zone(tmp_path, "intel-rapl:0:1", "core", 5)  # inside package: must not count
    monkeypatch.setenv("MOBEVAL_POWERCAP_ROOT", str(tmp_path))
    meter = energy_meter()
    assert isinstance(meter, RaplMeter)
    meter.start()
    set_energy(pkg, 13_500_000)  # +12.5 J
    set_energy(dram, 1_500_000)  # wrapped: 1e9 - 999e6 + 1.5e6 = 2.5 J
    set_energy(core, 10_000_000)
    reading = meter.stop()
    assert reading.source == "rapl"
    assert reading.joules == pytest.approx(15.0)
    assert reading.zones == pytest.approx({"package-0@intel-rapl:0": 12.5, "dram@intel-rapl:0:0": 2.5})
    assert "not this process" in reading.scope


def test_no_powercap_is_unavailable_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBEVAL_POWERCAP_ROOT", str(tmp_path / "absent"))
    reading = energy_meter().stop()
    assert reading.source == "unavailable" and reading.joules is None
    assert "no powercap interface" in reading.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_counter_names_the_fix(tmp_path, monkeypatch):
    pkg = plant_zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (pkg / "energy_uj").chmod(0)
    monkeypatch.setenv("MOBEVAL_POWERCAP_ROOT", str(tmp_path))
    reading = energy_meter().stop()
    assert reading.source == "unavailable" and "chmod" in reading.reason


def test_unreadable_counter_as_root_via_directory(tmp_path, monkeypatch):
    # Root can read any mode, so plant a counter that cannot be read as a file at all.
    pkg = plant_zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (pkg / "energy_uj").unlink()
    (pkg / "energy_uj").mkdir()
    monkeypatch.setenv("MOBEVAL_POWERCAP_ROOT", str(tmp_path))
    reading = energy_meter().stop()
    assert reading.source == "unavailable" and "not readable" in reading.reason


def test_this_machine_without_rapl_says_unavailable(monkeypatch):
    monkeypatch.delenv("MOBEVAL_POWERCAP_ROOT", raising=False)
    if any(p.name.startswith("intel-rapl") for p in __import__("pathlib").Path("/sys/class/powercap").glob("*")):
        pytest.skip("this machine exposes RAPL")
    reading = energy_meter().stop()
    assert reading.source == "unavailable" and reading.reason


def test_peak_memory_sees_a_transient_allocation():
    n = 200 * 1024 * 1024
    with PeakMemorySampler(period_s=0.005) as mem:
        time.sleep(0.05)
        block = bytearray(n)  # zero-filled: every page touched
        time.sleep(0.1)
        del block
        time.sleep(0.05)
    rise = mem.peak_bytes - mem.baseline_bytes
    assert 0.9 * n <= rise <= 1.2 * n
    assert mem.samples >= 20


def test_percentiles_match_numpy_linear_method():
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 90) == pytest.approx(4.6)
    s = summarize(xs)
    assert (s.count, s.mean, s.p99) == (5, 3.0, pytest.approx(4.96))
    assert summarize([]) is None
