"""What the AMX fallback costs: llama.cpp's prompt and decode speed with its extra buffer types (AMX, weight
repacking) on and off, for one or more llama-cpp-python builds, same model and threads.

    python bench/extra_bufts_cost.py [--models smollm2-135m,gemma3-270m] [--threads 2] [--rounds 3] [--reps 3]
        [--builds native=.venv/bin/python,no-amx=/tmp/noamx/bin/python] [--settings on,off]

The build guard (mobeval/text/runners/llamacpp_build.py) turns extra buffer types off where the AMX path crashes.
Where both settings run this measures what that costs; on an AMX Xeon, where the native build's "on" dies,
it compares the fallback (native build, off) with the other fix, a build compiled without AMX (`--builds`:
each NAME=PYTHON is a venv with its own llama-cpp-python; mobeval must be importable there too).

Every measurement runs in a child process of that build's Python, so a setting that crashes is reported as
such (the signal) and the bench goes on. Configurations alternate round after round (these machines' speed
drifts by several percent a minute). pp: 512 tokens as one prompt from an empty cache (llama-bench's pp512);
tg: 128 single-token decodes (tg128). Prints a table and writes JSON (default
bench/results/extra_bufts_cost.json).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from mobeval.text.runners.llamacpp_build import run_probe

ROOT = Path(__file__).resolve().parents[1]


def speeds(path: Path, extra: bool, threads: int, reps: int) -> dict:
    """Median pp512 and tg128 (tokens/s) over `reps` repetitions after one warm-up, in this process."""
    import llama_cpp

    from mobeval.text.runners.llamacpp_params import open_llama

    llm = open_llama(path, use_extra_bufts=extra, n_ctx=1024, n_batch=512, n_threads=threads,
                     n_threads_batch=threads)
    rng = random.Random(0)
    vocab = llm.n_vocab()
    pp, tg = [], []
    try:
        for rep in range(reps + 1):  # the first repetition warms up and is dropped
            tokens = [rng.randrange(vocab) for _ in range(512)]
            llm.n_tokens = 0
            t0 = time.perf_counter()
            llm.eval(tokens)
            t1 = time.perf_counter()
            llm.n_tokens = 0
            for t in tokens[:128]:
                llm.eval([t])
            t2 = time.perf_counter()
            if rep:
                pp.append(512 / (t1 - t0))
                tg.append(128 / (t2 - t1))
    finally:
        llm.close()
    return {"pp512": statistics.median(pp), "tg128": statistics.median(tg),
            "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()}


def measure(python: str, path: Path, extra: bool, threads: int, reps: int) -> dict:
    """`speeds` in a child of `python`, run as the build guard runs its probes; {"crashed": "SIGSEGV"} where
    the child dies of a signal (or hangs)."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); from extra_bufts_cost import speeds; "
            f"from pathlib import Path; print(json.dumps(speeds(Path({str(path)!r}), {extra}, {threads}, {reps})))")
    outcome = run_probe([python, "-c", code], timeout_s=3600)
    if outcome.crashed:
        return {"crashed": outcome.signal or outcome.detail}
    if not outcome.ok:
        raise SystemExit(f"{python}: {outcome.detail}")
    return json.loads(outcome.detail.splitlines()[-1])


def main() -> None:
    from mobeval.measure.environment import environment
    from mobeval.text.models import resolve

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="smollm2-135m,gemma3-270m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--builds", default=f"this={sys.executable}",
                    help="NAME=PYTHON,...: venvs whose llama-cpp-python builds are compared (default: this one)")
    ap.add_argument("--settings", default="on,off", help="extra buffer types: on, off or both")
    ap.add_argument("--out", type=Path, default=Path("bench/results/extra_bufts_cost.json"))
    args = ap.parse_args()
    builds = dict(b.split("=", 1) for b in args.builds.split(","))
    configs = [(name, s == "on") for name in builds for s in args.settings.split(",")]
    env = environment()
    rows = []
    for alias in args.models.split(","):
        spec, path = resolve(alias)
        runs: dict[tuple[str, bool], list[dict]] = {c: [] for c in configs}
        for _ in range(args.rounds):
            for name, extra in configs:
                if any("crashed" in r for r in runs[(name, extra)]):
                    continue  # a crash is not retried every round
                runs[(name, extra)].append(measure(builds[name], path, extra, args.threads, args.reps))
        for (name, extra), got in runs.items():
            ok = [r for r in got if "crashed" not in r]
            rows.append({"model": alias, "quant": spec.quant, "build": name, "extra_bufts": extra,
                         "crashed": next((r["crashed"] for r in got if "crashed" in r), None),
                         "pp512": statistics.mean(r["pp512"] for r in ok) if ok else None,
                         "tg128": statistics.mean(r["tg128"] for r in ok) if ok else None,
                         "system_info": ok[0]["system_info"] if ok else None, "rounds": got})
    print(f"{env['cpu']}, {env['cpu_logical']} logical cores, threads {args.threads}, "
          f"{args.rounds} rounds x {args.reps} reps; tokens/s, mean over rounds of the median of the reps; "
          "ratios to the first configuration that ran, per model")
    print(f"{'model':<14}{'quant':<8}{'build':<10}{'extra':<7}{'pp512':>9}{'ratio':>7}{'tg128':>9}{'ratio':>7}")
    for alias in args.models.split(","):
        mine = [r for r in rows if r["model"] == alias]
        ref = next((r for r in mine if r["pp512"]), None)
        for r in mine:
            if r["crashed"]:
                print(f"{alias:<14}{r['quant']:<8}{r['build']:<10}{'on' if r['extra_bufts'] else 'off':<7}"
                      f"  died with {r['crashed']}")
                continue
            r["pp_ratio"], r["tg_ratio"] = r["pp512"] / ref["pp512"], r["tg128"] / ref["tg128"]
            print(f"{alias:<14}{r['quant']:<8}{r['build']:<10}{'on' if r['extra_bufts'] else 'off':<7}"
                  f"{r['pp512']:>9.1f}{r['pp_ratio']:>7.3f}{r['tg128']:>9.1f}{r['tg_ratio']:>7.3f}")
    for name, python in builds.items():
        info = next((r["system_info"] for r in rows if r["build"] == name and r["system_info"]), "(no run)")
        print(f"build {name} ({python}): {info}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"environment": env, "threads": args.threads, "builds": builds, "rows": rows},
                                   indent=2) + "\n")
    print(f"json: {args.out}")


if __name__ == "__main__":
    main()
