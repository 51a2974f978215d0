"""llama.cpp under a CPU-heavy neighbour: which thread count and wait policy keep `mobeval run` usable.

Each configuration is a fresh `mobeval run` process (SmolLM2-135M Q4_1, the bundled everyday-mobile
questions, 4 cyclic orderings), run alone or beside a background load, one after another:

- `quiet`: nothing else;
- `python-loop`: one pure-Python `while True: pass` process (one of the cores taken);
- `two-loops`: two of them (every core of a 2-core machine taken).

Configurations: `--threads` 2 or 1 (or the machine's cores and one fewer), and how OpenMP's threads wait
(unset; OMP_WAIT_POLICY=PASSIVE; or a shorter spin, GOMP_SPINCOUNT=30000 or 10000). llama-cpp-python's wheel is built with OpenMP (its libggml-cpu links
libgomp), and in such a build ggml's barrier is `#pragma omp barrier`: ggml's own polling level
(`ggml_threadpool_params.poll`, llama.cpp's `--poll`) is used only by its non-OpenMP thread pool, and
llama-cpp-python does not bind `llama_attach_threadpool` anyway. So OpenMP's wait policy is the polling
knob that reaches this build; the script records whether the build links libgomp.

Per configuration: evaluated tokens/s (llama.cpp's work per second of the run's scoring), the median question
latency, the run's wall time, and what the run itself recorded about contention (mobeval's
measure/contention.py): whether it marked itself contended, and the other processes' share of the CPU.

    python bench/llamacpp_under_load.py [--limit 4] [--out bench/results/llamacpp_under_load.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

LOADS = {"quiet": 0, "python-loop": 1, "two-loops": 2}
LOAD_LIMIT = 0.7


# OpenMP's wait at a barrier or between parallel regions: unset (libgomp spins about 300,000 rounds, then
# sleeps), PASSIVE (sleeps at once), or a shorter spin (GOMP_SPINCOUNT rounds)
POLICIES = {"default": {}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
            "spin 30000": {"GOMP_SPINCOUNT": "30000"}, "spin 10000": {"GOMP_SPINCOUNT": "10000"}}


def configs(cores: int) -> list[tuple[int, str]]:
    threads = sorted({cores, max(1, cores - 1)}, reverse=True)
    out = []
    for t in threads:
        # one thread has no barrier to wait at: only the default
        out += [(t, p) for p in (POLICIES if t > 1 else ["default"])]
    return out


@contextlib.contextmanager
def background(load: str) -> Iterator[list[int]]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(LOADS[load])]
    try:
        time.sleep(1.0 if procs else 0)
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def build_uses_openmp() -> bool | None:
    try:
        import llama_cpp
    except ImportError:
        return None
    lib = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    if not lib.exists():
        return None
    out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=False).stdout
    return "libgomp" in out


def run_once(threads: int, policy: str, limit: int, timeout_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(POLICIES[policy])
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "mobeval", "run", "--limit", str(limit), "--threads", str(threads),
               "--output-dir", out, "-q"]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return {"threads": threads, "wait_policy": policy, "timed_out_s": timeout_s}
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"threads {threads} {policy}: mobeval run failed:\n{done.stderr[-3000:]}")
        result = json.loads((Path(done.stdout.strip()) / "result.json").read_text())
    perf = result["performance"]
    note = perf["cpu_contention"]["note"] or ""
    share = re.search(r"other processes used (\d+)% of the CPU", note)
    return {
        "threads": threads, "wait_policy": policy, "process_wall_s": wall,
        "run_wall_s": perf["wall_time"]["value"],
        "evaluated_tokens_per_s": perf["evaluated_tokens_per_s"]["value"],
        "question_latency_p50_s": perf["question_latency_p50"]["value"],
        "marked_contended": bool(perf["cpu_contention"]["value"]),
        "others_share": int(share.group(1)) / 100 if share else None, "contention_note": note,
        "accuracy_mean": result["task"]["scores"]["accuracy_mean"],
    }


def machine() -> dict:
    from mobeval.measure.environment import cpu_model

    import llama_cpp

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "llama_cpp_python": llama_cpp.__version__,
            "openmp_build": build_uses_openmp()}


def print_table(rows: list[dict]) -> None:
    quiet = {(r["threads"], r["wait_policy"]): r for r in rows if r["load"] == "quiet" and "timed_out_s" not in r}
    print(f"{'load':12} {'threads':>7} {'wait policy':12} {'eval tok/s':>10} {'x quiet':>8} {'q p50 s':>8} "
          f"{'wall s':>7} {'marked contended':>17} {'others':>7}")
    for r in rows:
        if "timed_out_s" in r:
            print(f"{r['load']:12} {r['threads']:>7} {r['wait_policy']:12} did not finish in {r['timed_out_s']:.0f} s")
            continue
        base = quiet.get((r["threads"], r["wait_policy"]))
        ratio = r["evaluated_tokens_per_s"] / base["evaluated_tokens_per_s"] if base else float("nan")
        share = "" if r["others_share"] is None else f"{r['others_share']:.0%}"
        print(f"{r['load']:12} {r['threads']:>7} {r['wait_policy']:12} {r['evaluated_tokens_per_s']:>10.1f} "
              f"{ratio:>8.2f} {r['question_latency_p50_s']:>8.3f} {r['run_wall_s']:>7.1f} "
              f"{'yes' if r['marked_contended'] else 'no':>17} {share:>7}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=4, help="questions per run (each under 4 orderings)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before a run is given up")
    ap.add_argument("--out", type=Path, default=Path("bench/results/llamacpp_under_load.json"))
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    print(f"load average (1 min) at start: {load0:.2f}")
    if load0 > LOAD_LIMIT:
        print(f"WARNING: load {load0:.2f} > {LOAD_LIMIT}: the 'quiet' rows are not quiet")
    env = machine()
    print(f"{env['cpu']}, {env['cores']} cores, llama-cpp-python {env['llama_cpp_python']} "
          f"(OpenMP build: {env['openmp_build']}); smollm2-135m, everyday-mobile, {args.limit} questions x 4 "
          "orderings per run")
    subprocess.run([sys.executable, "-m", "mobeval", "run", "--limit", "1", "--output-dir",
                    tempfile.mkdtemp(), "-q"], capture_output=True, check=True)  # warm the page cache
    started, rows = time.time(), []
    for load in LOADS:
        with background(load) as pids:
            for threads, policy in configs(env["cores"]):
                row = run_once(threads, policy, args.limit, args.timeout)
                rows.append({"load": load, "background_pids": pids, **row})
                print(f"  {load} t{threads} {policy}: {row.get('evaluated_tokens_per_s', 'timeout')}", flush=True)
    report = {"machine": env, "command": " ".join(sys.argv), "limit": args.limit, "start_loadavg": load0,
              "rows": rows, "seconds": time.time() - started}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print_table(rows)
    print(f"\n{report['seconds']:.0f} s; json: {args.out}")


if __name__ == "__main__":
    main()
