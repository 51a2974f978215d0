"""`mobeval perf` against llama.cpp's own llama-bench on the same model, threads and batch size.

    python bench/llama_bench_check.py --llama-bench PATH [--model smollm2-135m] [--threads 2] [--rounds 3]

llama-bench is not shipped by llama-cpp-python; build it from the llama.cpp that llama-cpp-python
vendors (same commit, so the same kernels):

    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 && tar xzf llama_cpp_python-0.3.36.tar.gz
    cd llama_cpp_python-0.3.36/vendor/llama.cpp
    cmake -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF && cmake --build build --target llama-bench -j

The two alternate, round after round (this machine's speed drifts by several percent over a minute),
with llama-bench on the settings the llama.cpp runner uses: flash attention off (llama-cpp-python's
default; llama-bench's own default is auto), n_batch = n_ubatch = 512. Prints a table of pp512 and
tg128 from both and their ratio, and writes JSON (default bench/results/llama_bench_check.json).
Installs nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def llama_bench(binary: Path, model: Path, args) -> dict[str, float]:
    out = subprocess.run([str(binary), "-m", str(model), "-t", str(args.threads), "-p", str(args.pp), "-n", str(args.tg),
                          "-b", str(args.n_batch), "-ub", str(args.n_batch), "-fa", "off", "-r", str(args.reps),
                          "-o", "json"], capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)
    res = {}
    for r in rows:
        name = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
        res[name] = r["avg_ts"]
        res["build"] = f"{r['build_commit']} ({r['build_number']})"
    return res


def mobeval_perf(model: str, args, out: Path) -> dict[str, float]:
    subprocess.run([sys.executable, "-m", "mobeval", "perf", "--model", model, "--threads", str(args.threads),
                    "--n-batch", str(args.n_batch), "--pp", str(args.pp), "--tg", str(args.tg), "--ttft", "",
                    "--reps", str(args.reps), "--output-dir", str(out)], capture_output=True, text=True, check=True)
    doc = json.loads(max(out.glob("perf__*.json"), key=lambda p: p.stat().st_mtime).read_text())
    return {t["test"]: t["tokens_per_s"] for t in doc["configs"][0]["tests"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-bench", type=Path, required=True)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/llama_bench_check.json")
    args = ap.parse_args()

    from mobeval.measure.environment import environment
    from mobeval.text.models import resolve

    path = resolve(args.model)[1]
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            lb = llama_bench(args.llama_bench, path, args)
            mb = mobeval_perf(args.model, args, Path(tmp))
            rounds.append({"llama_bench": lb, "mobeval": mb})
            print(f"round {i + 1}: llama-bench {lb}  mobeval {mb}", file=sys.stderr, flush=True)
    tests = [f"pp{args.pp}", f"tg{args.tg}"]
    summary = []
    print(f"{args.model}, threads {args.threads}, n_batch {args.n_batch}, flash attention off, "
          f"{args.rounds} rounds x {args.reps} reps; llama-bench build {rounds[0]['llama_bench']['build']}")
    print(f"{'test':<8} {'llama-bench t/s':>16} {'mobeval perf t/s':>17} {'ratio':>7}  per round")
    for t in tests:
        a = [r["llama_bench"][t] for r in rounds]
        b = [r["mobeval"][t] for r in rounds]
        ratio = statistics.mean(b) / statistics.mean(a)
        per = " ".join(f"{y / x:.3f}" for x, y in zip(a, b))
        print(f"{t:<8} {statistics.mean(a):>16.1f} {statistics.mean(b):>17.1f} {ratio:>7.3f}  {per}")
        summary.append({"test": t, "llama_bench_tokens_per_s": statistics.mean(a),
                        "mobeval_tokens_per_s": statistics.mean(b), "ratio": ratio})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rounds": rounds,
                                     "summary": summary, "environment": environment()}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
