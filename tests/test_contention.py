"""A run with a CPU-heavy neighbour is marked as measured under contention, with the neighbour's share, and its
latency is not called valid (measure/contention.py). The neighbour is a real busy process outside this
process tree (it is reparented away from us), like another user's job."""

from __future__ import annotations

import json
import subprocess
import time

import psutil
import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.measure.contention import OTHERS_LIMIT, Contention, ContentionSampler

SPIN = "while :; do :; done"


def _neighbours(seconds: float, n: int) -> None:
    """n busy processes that are not our descendants: started through a shell that exits at once, so they are
    reparented away from us, like another user's job."""
    script = " ".join(f"timeout {seconds} sh -c '{SPIN}' &" for _ in range(n))
    subprocess.run(["sh", "-c", script], check=True)


def _stop_neighbours() -> None:
    for p in psutil.process_iter(["cmdline"]):
        if p.info["cmdline"] and SPIN in " ".join(p.info["cmdline"]):
            p.kill()


def test_a_busy_neighbour_is_seen_and_our_own_work_is_not():
    cpus = psutil.cpu_count(logical=True) or 1
    sampler = ContentionSampler().start()
    end = time.time() + 1.5
    while time.time() < end:  # our own work: never counted as contention
        pass
    own = sampler.stop()
    _neighbours(3, cpus)
    time.sleep(0.3)
    sampler = ContentionSampler().start()
    time.sleep(2)
    busy = sampler.stop()
    assert busy.contended and busy.others_share > 0.5, busy
    assert busy.others_share > own.others_share
    assert "other processes used" in busy.describe()


def test_a_run_beside_a_neighbour_is_marked_and_its_latency_not_valid(tmp_path):
    cpus = psutil.cpu_count(logical=True) or 1
    _neighbours(60, cpus)
    try:
        res = CliRunner().invoke(app, ["run", "--limit", "3", "--orderings", "original", "--output-dir", str(tmp_path),
                                       "--threads", "1"], env={"COLUMNS": "200"})
    finally:
        _stop_neighbours()
    assert res.exit_code == 0, res.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    perf = json.loads((folder / "result.json").read_text())["performance"]
    busy = perf["cpu_contention"]
    assert busy["value"] == 1.0 and "measured under contention: other processes used" in busy["note"]
    assert "give the runtime the cores they left free (--threads 1 here)" in busy["note"]  # every core was taken
    assert perf["latency_valid"]["value"] == 0.0 and "other processes used" in perf["latency_valid"]["note"]
    segments = [json.loads(line) for line in (folder / "segments.jsonl").read_text().splitlines()]
    recorded = [s["contention"] for s in segments if "contention" in s and s["contention"]]
    assert recorded and recorded[-1]["others_share"] > OTHERS_LIMIT
    assert "measured under contention" in " ".join(res.output.split())


def test_a_quiet_run_records_the_machine_quiet(tmp_path):
    """Alone on the machine (as in CI), a run is not marked; where the machine is busy with other work anyway,
    say so instead of failing."""
    res = CliRunner().invoke(app, ["run", "--limit", "2", "--orderings", "original", "--output-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    busy = json.loads((folder / "result.json").read_text())["performance"]["cpu_contention"]
    if busy["value"]:
        pytest.skip(f"this machine is busy with other work: {busy['note']}")
    assert busy["note"].startswith("quiet: other processes used")


@pytest.mark.parametrize("cpus, share, free", [(2, 0.45, 1), (2, 0.2, 2), (8, 0.26, 6), (2, 1.0, 1), (4, 0.0, 4)])
def test_the_advice_names_the_cores_the_others_left_free(cpus, share, free):
    c = Contention(window_s=10, cpus=cpus, others_cpu_s=share * cpus * 10, others_share=share, steal_s=0,
                   steal_share=0, load_avg_1m=None, contended=share > OTHERS_LIMIT)
    assert c.free_cores() == free and f"--threads {free} here" in c.remedy()
