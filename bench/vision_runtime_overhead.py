"""What mobeval adds to a runtime's own per-image inference time, for the vision runners.

For ONNX Runtime and LiteRT, on the same model file, threads and images, each in a fresh process and
alternated over rounds:

- `mobeval run --bench imagefolder ... --runner R`: its recorded inference latency per image (p50 of the
  runner's classify call, warm-up excluded), read from result.json;
- a bare loop over the runtime (`InferenceSession.run`, or the LiteRT `Interpreter` with XNNPACK, the API
  mobeval's runner uses), timing each image's call the same way, the first call excluded; this script's
  own preprocessing (Pillow, numpy), nothing imported from mobeval. Each image is preprocessed just
  before its call, as in mobeval's single stream; a second pass prepares every input first and runs the
  calls back to back (caches hot), to show what interleaving costs by itself;
- LiteRT only: LiteRT's own benchmark tool (`ai_edge_litert/tools/benchmark_litert_model.py`, its
  CompiledModel API) on the same .tflite and threads. ONNX Runtime's `onnxruntime_perf_test` does not
  ship in the pip wheel, so the bare loop is its reference.

The goal: mobeval's p50 at most 1.05 x the bare loop's. Run it on an otherwise idle machine.

    python bench/vision_runtime_overhead.py [--data ../shared/data/imagenet-samples] [--images 200]
        [--threads 1] [--rounds 3]

Writes bench/results/vision_runtime_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "imagenet-samples"
TOOL = "ai_edge_litert/tools/benchmark_litert_model.py"


def images(data: Path, n: int) -> list[Path]:
    found = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    if not found:
        sys.exit(f"{data}: no images")
    return found[:n]


def preprocess(path: Path, size: int = 224) -> np.ndarray:
    """EfficientNet-Lite0's input (short side size+32, bilinear, centre crop, [-1, 1], NCHW)."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = size + 32
    img = img.resize((s, int(s * h / w)) if w <= h else (int(s * w / h), s), Image.BILINEAR)
    w, h = img.size
    left, top = round((w - size) / 2), round((h - size) / 2)
    x = np.asarray(img.crop((left, top, left + size, top + size)), np.float32) / 255
    return ((x - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()


def bare(runtime: str, model: str, files: list[str], threads: int, interleaved: bool) -> dict:
    """Per-image seconds of the runtime's own call (run in a child process). Interleaved: each image
    is decoded and preprocessed just before its call, as in mobeval's single stream (and an app);
    otherwise every input is prepared first and the calls run back to back, caches hot."""
    inputs = None if interleaved else [preprocess(Path(f)) for f in files]
    if runtime == "onnxruntime":
        import onnxruntime as ort

        o = ort.SessionOptions()
        o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(model, sess_options=o, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def call(x):
            return sess.run(None, {name: x})
    else:
        from ai_edge_litert import interpreter as litert

        it = litert.Interpreter(model_path=model, num_threads=threads)
        it.allocate_tensors()
        inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

        def call(x):
            it.set_tensor(inp, x)
            it.invoke()
            return it.get_tensor(out)
    times = []
    for k, f in enumerate(files):
        x = preprocess(Path(f)) if interleaved else inputs[k]
        t0 = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - t0)
    return {"p50_s": statistics.median(times[1:]), "mean_s": statistics.fmean(times[1:]), "n": len(times) - 1}


def child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"child {spec['runtime']} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mobeval_run(runtime: str, data: Path, n: int, threads: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "mobeval", "run", "--bench", "imagefolder", "--data", str(data), "--limit", str(n),
           "--model", "efficientnet-lite0", "--runner", runtime, "--threads", str(threads), "--seed", "0",
           "--output-dir", str(out), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    folder = Path(done.stdout.strip().splitlines()[-1])
    result = json.loads((folder / "result.json").read_text())
    perf = result["performance"]
    ids = [json.loads(line)["image_id"] for line in (folder / "samples.jsonl").read_text().splitlines()]
    root = Path(result["data"]["root"])
    return {"p50_s": perf["inference_latency_p50"]["value"], "mean_s": perf["inference_latency_mean"]["value"],
            "n": perf["inference_latency_p50"]["count"], "model_file": result["runner"]["model_file"],
            "files": [str(root / i) for i in ids]}


def litert_tool(model: str, n: int, threads: int) -> dict:
    import ai_edge_litert

    tool = Path(ai_edge_litert.__file__).parent.parent / TOOL
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        subprocess.run([sys.executable, str(tool), f"--model={model}", f"--num_runs={n}", "--warmup_runs=1",
                        f"--num_threads={threads}", f"--result_json={out}"], capture_output=True, check=True)
        lat = json.loads(out.read_text())["latency"]
    return {"p50_s": lat["median_ms"] / 1000, "mean_s": lat["avg_ms"] / 1000, "n": lat["num_runs"]}


def machine() -> str:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "vision_runtime_overhead.json")
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(bare(spec["runtime"], spec["model"], spec["files"], spec["threads"], spec["interleaved"])))
        return
    load = os.getloadavg()[0]
    print(f"machine: {machine()}; 1-min load average at start {load:.2f}")
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for runtime in ("onnxruntime", "litert"):
                m = mobeval_run(runtime, args.data, args.images, args.threads, Path(tmp) / f"{runtime}{rnd}")
                spec = {"runtime": runtime, "model": m["model_file"], "files": m["files"], "threads": args.threads}
                b = child({**spec, "interleaved": True})
                hot = child({**spec, "interleaved": False})
                rows.setdefault(f"{runtime}: mobeval", []).append(m)
                rows.setdefault(f"{runtime}: bare loop", []).append(b)
                rows.setdefault(f"{runtime}: bare loop, inputs prepared first", []).append(hot)
                if runtime == "litert":
                    rows.setdefault("litert: LiteRT's benchmark tool", []).append(
                        litert_tool(m["model_file"], args.images, args.threads))
                print(f"round {rnd + 1}/{args.rounds} {runtime}: mobeval p50 {1000 * m['p50_s']:.2f} ms, "
                      f"bare p50 {1000 * b['p50_s']:.2f} ms", flush=True)
    summary = {k: {"p50_ms": 1000 * statistics.median(r["p50_s"] for r in v),
                   "mean_ms": 1000 * statistics.median(r["mean_s"] for r in v), "n_per_round": v[0]["n"]}
               for k, v in rows.items()}
    print(f"\n{'what':44} {'p50 ms':>8} {'mean ms':>8} {'/ bare p50':>10}")
    for k, v in summary.items():
        ref = summary[f"{k.split(':')[0]}: bare loop"]["p50_ms"]  # the same workload as mobeval's
        v["ratio_to_bare_p50"] = v["p50_ms"] / ref
        print(f"{k:44} {v['p50_ms']:8.2f} {v['mean_ms']:8.2f} {v['ratio_to_bare_p50']:10.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine(), "load_average_at_start": load, "images": args.images, "threads": args.threads,
        "rounds": args.rounds, "data": str(args.data), "summary": summary,
        "rounds_detail": {k: [{x: y for x, y in r.items() if x != "files"} for r in v] for k, v in rows.items()},
    }, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
