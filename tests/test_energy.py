"""Energy meters: planted powercap trees, an Android battery trace, NVML where a GPU is, estimates."""

import os
from pathlib import Path

import pytest

from mobeval.measure.android import AndroidBatteryMeter, integrate, parse_battery, parse_trace
from mobeval.measure.energy import EstimateMeter, UnavailableMeter, energy_meters, measure_idle
from mobeval.measure.nvml import nvml_meter
from mobeval.measure.rapl import RaplMeter, rapl_meter

TRACE = Path(__file__).parent / "fixtures" / "android_battery_trace.txt"


def plant_zone(root, name, zone_name, energy_uj, max_uj=262143328850):
    z = root / name
    z.mkdir(parents=True)
    (z / "name").write_text(zone_name + "\n")
    (z / "energy_uj").write_text(f"{energy_uj}\n")
    (z / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return z


def set_energy(zone, value):
    (zone / "energy_uj").write_text(f"{value}\n")


@pytest.fixture
def powercap(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBEVAL_POWERCAP_ROOT", str(tmp_path))
    return tmp_path


def test_rapl_sums_packages_and_dram_and_handles_wraparound(powercap):
    pkg0 = plant_zone(powercap, "intel-rapl:0", "package-0", 1_000_000)
    pkg1 = plant_zone(powercap, "intel-rapl:1", "package-1", 5_000_000)
    dram = plant_zone(powercap, "intel-rapl:0:0", "dram", 999_000_000, max_uj=1_000_000_000)
    core = plant_zone(powercap, "intel-rapl:0:1", "core", 5)  # inside package: must not count
    meter = rapl_meter()
    assert isinstance(meter, RaplMeter)
    meter.start()
    set_energy(pkg0, 13_500_000)  # +12.5 J
    set_energy(pkg1, 6_000_000)  # +1.0 J
    set_energy(dram, 1_500_000)  # wrapped: 1e9 - 999e6 + 1.5e6 uJ = 2.5 J
    set_energy(core, 10_000_000)
    reading = meter.stop()
    assert reading.source == "rapl"
    assert reading.joules == pytest.approx(16.0)
    assert reading.zones == pytest.approx(
        {"package-0@intel-rapl:0": 12.5, "package-1@intel-rapl:1": 1.0, "dram@intel-rapl:0:0": 2.5})
    assert reading.scope.startswith("dram+package") and "not this process" in reading.scope


def test_no_powercap_is_unavailable_with_a_reason(powercap):
    os.rmdir(powercap)
    reading = rapl_meter().stop()
    assert reading.source == "unavailable" and reading.joules is None
    assert "no powercap interface" in reading.reason


def test_unreadable_counter_names_the_fix(powercap):
    pkg = plant_zone(powercap, "intel-rapl:0", "package-0", 1)
    # root reads any file mode, so make the counter unreadable as a file in a way root sees too
    (pkg / "energy_uj").unlink()
    (pkg / "energy_uj").mkdir()
    reading = rapl_meter().stop()
    assert reading.source == "unavailable"
    assert "not readable" in reading.reason and "chmod o+r" in reading.reason and "root" in reading.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_counter(powercap):
    pkg = plant_zone(powercap, "intel-rapl:0", "package-0", 1)
    (pkg / "energy_uj").chmod(0)
    assert "chmod o+r" in rapl_meter().stop().reason


def test_this_machine_without_rapl_reports_unavailable_and_estimate_only_when_asked(monkeypatch):
    monkeypatch.delenv("MOBEVAL_POWERCAP_ROOT", raising=False)
    if not isinstance(rapl_meter(), UnavailableMeter) or not isinstance(nvml_meter(), UnavailableMeter):
        pytest.skip("this machine has a real energy counter")
    (auto,) = energy_meters("auto")
    assert auto.source == "unavailable" and "powercap" in auto.stop().reason
    (est,) = energy_meters("estimate", watts_per_core=5.0)
    est.start()
    sum(i * i for i in range(300_000))  # some CPU time
    reading = est.stop()
    assert reading.source == "estimate" and reading.joules > 0
    assert "5.0 W per busy core" in reading.assumption and "estimated" in reading.scope


def test_estimate_is_cpu_seconds_times_stated_watts():
    # Bracketed by reads just before and after stop(): the process's CPU time moves in clock ticks and
    # other threads of the test process add to it, so a point comparison on a short span was flaky.
    meter = EstimateMeter(watts_per_core=10.0)
    meter.start()
    cpu0 = meter._cpu0
    sum(i * i for i in range(2_000_000))
    before = meter._cpu() - cpu0
    reading = meter.stop()
    after = meter._cpu() - cpu0
    assert before > 0.05
    assert before * 10.0 <= reading.joules <= after * 10.0


def test_off_and_idle():
    (off,) = energy_meters("off")
    assert "turned off" in off.stop().reason
    assert measure_idle(off, 1.0) is None


def test_idle_power_from_a_planted_counter(powercap):
    plant_zone(powercap, "intel-rapl:0", "package-0", 0)
    assert measure_idle(rapl_meter(), 0.05) == 0.0


def test_android_trace_integrates_to_hand_computed_joules():
    samples = parse_trace(TRACE.read_text())
    assert len(samples) == 20 and samples[0] == (0.0, 4_000_000, -500_000)
    # 4 s at 2.0 W, a 1 s ramp from 2.0 W to 5.85 W, then 5 s at 5.85 W
    assert integrate(samples) == pytest.approx(8.0 + 3.925 + 29.25)


def test_android_meter_replays_a_recorded_trace_through_its_sampler(tmp_path):
    values = iter([(uv, ua) for _, uv, ua in parse_trace(TRACE.read_text())] + [(3_900_000, -1_500_000)] * 100)
    meter = AndroidBatteryMeter(reader=lambda: next(values), period_s=0.01, trace_path=tmp_path / "trace.txt")
    meter.start()
    import time
    time.sleep(0.1)
    reading = meter.stop()
    assert reading.source == "android-battery" and reading.joules > 0 and "whole phone" in reading.scope
    assert parse_trace((tmp_path / "trace.txt").read_text()) == [(round(t, 3), v, i) for t, v, i in meter.samples]


def test_android_battery_output_parsing():
    assert parse_battery("4012345\n-523000\n") == (4012345, -523000)
    with pytest.raises(ValueError):
        parse_battery("4012345\n")
    with pytest.raises(ValueError, match="trace line 1"):
        parse_trace("1.0 4000000\n")


def test_nvml_where_a_gpu_is_present():
    meter = nvml_meter()
    if isinstance(meter, UnavailableMeter):
        pytest.skip(f"no NVIDIA GPU energy counter here: {meter.reason}")
    meter.start()
    reading = meter.stop()
    assert reading.source == "nvml" and reading.joules >= 0
