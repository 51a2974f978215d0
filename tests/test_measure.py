"""Memory sampler against a known allocation; statistics."""

import pytest

from mobeval.measure.stats import percentile, summarize


TRANSIENT_SCRIPT = """
import time
from mobeval.measure.memory import PeakMemorySampler

n = 200 * 1024 * 1024
with PeakMemorySampler(period_s=0.005) as mem:
    time.sleep(0.05)
    block = bytearray(n)  # zero-filled: every page touched
    time.sleep(0.1)
    del block
    time.sleep(0.05)
print(n, mem.peak_bytes - mem.baseline_bytes, mem.samples)
"""


def test_peak_memory_sees_a_transient_allocation():
    """In a fresh process: in the test process, garbage left by earlier tests (a torch model, say)
    can be collected during the window and hide the allocation from the net RSS."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", TRANSIENT_SCRIPT], capture_output=True, text=True,
                         check=True)
    n, rise, samples = map(int, out.stdout.split())
    assert 0.9 * n <= rise <= 1.2 * n
    assert samples >= 20


def test_percentiles_match_numpy_linear_method():
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 90) == pytest.approx(4.6)
    s = summarize(xs)
    assert (s.count, s.mean, s.p99) == (5, 3.0, pytest.approx(4.96))
    assert summarize([]) is None


PEAK_SCRIPT = """
import sys
import mobeval.engine as engine
from mobeval.config import load_config

allocate_mb, out = int(sys.argv[1]), sys.argv[2]
held = []

def progress(done, total):
    if done == 1 and allocate_mb:
        held.append(bytearray(allocate_mb * 2**20))  # zero-filled: every page touched

cfg = load_config(None, {"limit": 3, "orderings": "original", "output_dir": out, "idle_seconds": 0})
plan = engine.plan(cfg)
run = engine.execute(plan, engine.open_run_dir(plan, False, None), progress)
print(run.result().memory["peak_rss_over_baseline"].value)
"""


def _run_peak(tmp_path, allocate_mb: int) -> float:
    """Peak RSS over baseline of a real 3-question run in a fresh process (a second run in the same
    process would reuse heap freed by the first); `allocate_mb` is held from the 2nd question on."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(allocate_mb), str(tmp_path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def test_a_run_s_peak_memory_moves_by_a_known_allocation(tmp_path):
    base = _run_peak(tmp_path / "a", 0)
    with_block = _run_peak(tmp_path / "b", 256)
    moved = (with_block - base) / 2**20
    assert 256 * 0.9 <= moved <= 256 * 1.1, moved
