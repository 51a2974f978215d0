"""What the hybrid VLM runner adds to its runtimes' own timers, part by part (issue 15: at most 5%).

For the same queries (the bundled vlm-digits set's first N multiple-choice items, asked in their file's
order of options, after one warm-up query), side by side:

- encode: the runner's encode_ms (one ONNX Runtime session: the encoder with the projector appended) against
  ONNX Runtime's bare `InferenceSession.run` of the same inputs: timed inside the runner's call, and in a
  separate bare loop over a fresh session of the same model, threads, output and preprocessed inputs (this
  script's own loop), run twice: back to back (warm caches), and with a 64 MB buffer written before each
  run (cold caches, as in the runner, where each encode follows the language model's decode);
- prefill: the runner's prefill_ms (every prompt batch through llama_decode until the last logits are
  read) against llama.cpp's own timers of the same work (`llama_perf_context`: prompt eval + eval ms);
- decode: the runner's decode_ms (after the first answer token) against llama.cpp's timers of it;
- TTFT: the runner's TTFT against preprocess + bare encoder + llama.cpp's prefill time: what the glue
  (projector, tokenizing, log-softmax, Python) adds to the first token.

Ratios are of medians over the queries, and of totals. Run it on an otherwise idle machine; the load
average at the start and end is recorded with the figures.

    python bench/vlm_hybrid_overhead.py [--items 40] [--threads 2] [--max-tokens 4] [--model digits-vlm]

Writes bench/results/vlm_hybrid_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": os.getloadavg()[0]}


def bare_ort(model: bytes, output: str, inputs: list[np.ndarray], threads: int, flush_mb: int = 0) -> list[float]:
    """ms of each session.run on a fresh session of the same model (encoder + projector) asking for the same
    output (the first call excluded); with flush_mb, a buffer of that size is written before each run, untimed,
    so the run starts with cold caches as it does in the runner, after the language model's decode."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    session.run([output], {name: inputs[0]})
    out = []
    junk = np.ones((flush_mb << 20) // 8)
    for x in inputs:
        if flush_mb:
            junk += 1.0
        t0 = time.perf_counter()
        session.run([output], {name: x})
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=4)
    ap.add_argument("--model", default="digits-vlm", help="a hybrid VLM: digits-vlm (the figures in bench/README), "
                    "digits-clip, or a manifest")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "vlm_hybrid_overhead.json")
    args = ap.parse_args()

    from mobeval.vlm.benchmarks.digits import load_digits_set
    from mobeval.vlm.models.manifest import resolve
    from mobeval.vlm.runners.base import VlmQuery
    from mobeval.vlm.runners.hybrid import HybridRunner
    from mobeval.vlm.task.prompt import build_prompt, letters

    start = machine()
    dataset = load_digits_set()
    items = [i for i in dataset.items if i.multiple_choice][: args.items + 1]
    runner = HybridRunner(resolve(args.model), threads=args.threads)
    rows = []
    pixels = []
    for k, item in enumerate(items):
        order = tuple(range(len(item.options)))
        q = VlmQuery(item.id, tuple(item.images), build_prompt(item, order), letters(len(item.options)),
                     max_tokens=args.max_tokens)
        a = runner.answer(q)
        if k == 0:
            continue  # warm-up
        e, t = runner.last_engine, a.timings
        pixels.append(runner.encoder.pixels(q.images))
        rows.append({"id": item.id, "preprocess_ms": t.preprocess_ms, "encode_ms": t.encode_ms,
                     "ort_run_ms": e.encoder_run_ms, "prefill_ms": t.prefill_ms, "llama_prefill_ms": e.prefill_ms,
                     "ttft_ms": t.ttft_ms, "decode_ms": t.decode_ms, "llama_decode_ms": e.decode_ms,
                     "decode_tokens": t.decode_tokens, "prompt_tokens": t.prompt_tokens,
                     "llama_prefill_positions": e.prefill_positions})
    from mobeval.vlm.runners.image_encoder import with_head
    from mobeval.vlm.runners.projector import EMBEDDINGS

    model = with_head(Path(runner.info.model_files["encoder"]), runner.projector)
    image_tokens = runner.encoder.tokens
    runner.close()
    bare = bare_ort(model, EMBEDDINGS, pixels, args.threads)
    cold = bare_ort(model, EMBEDDINGS, pixels, args.threads, flush_mb=64)
    for r, b, c in zip(rows, bare, cold):
        r["bare_ort_ms"] = b
        r["bare_ort_cold_ms"] = c
        r["parts_ms"] = r["preprocess_ms"] + b + r["llama_prefill_ms"]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def tot(key: str) -> float:
        return sum(r[key] for r in rows)

    decoding = [r for r in rows if r["decode_tokens"] > 1]
    table = [
        ("encode vs ORT run in the call", "encode_ms", "ort_run_ms", rows),
        ("encode vs bare ORT loop", "encode_ms", "bare_ort_ms", rows),
        ("encode vs bare ORT loop, caches flushed (64 MB)", "encode_ms", "bare_ort_cold_ms", rows),
        ("prefill vs llama.cpp prompt eval", "prefill_ms", "llama_prefill_ms", rows),
        ("decode vs llama.cpp eval", "decode_ms", "llama_decode_ms", decoding),
        ("TTFT vs preprocess + bare ORT + llama.cpp prefill", "ttft_ms", "parts_ms", rows),
    ]
    results = []
    print(f"{'what':52} {'mobeval p50':>11} {'engine p50':>10} {'ratio p50':>9} {'ratio sum':>9}")
    for label, ours, theirs, subset in table:
        if not subset:
            continue
        m_ours = statistics.median(r[ours] for r in subset)
        m_theirs = statistics.median(r[theirs] for r in subset)
        s_ratio = sum(r[ours] for r in subset) / sum(r[theirs] for r in subset)
        results.append({"what": label, "mobeval_p50_ms": m_ours, "engine_p50_ms": m_theirs,
                        "ratio_p50": m_ours / m_theirs, "ratio_sum": s_ratio, "queries": len(subset)})
        print(f"{label:52} {m_ours:11.2f} {m_theirs:10.2f} {m_ours / m_theirs:9.3f} {s_ratio:9.3f}")
    print(f"queries {len(rows)} (+1 warm-up), model {args.model}, prompt tokens {med('prompt_tokens'):.0f} "
          f"({image_tokens} image), "
          f"preprocess p50 {med('preprocess_ms'):.2f} ms, threads {args.threads}")
    end = machine()
    print(f"machine: {start['cpu']}, {start['cores']} cores; load average {start['load_average_1min']:.2f} at the "
          f"start, {end['load_average_1min']:.2f} at the end")
    report = {"machine": start, "load_average_1min_end": end["load_average_1min"], "threads": args.threads,
              "model": args.model,
              "versions": {p: version(p) for p in ("onnxruntime", "llama_cpp_python", "numpy")},
              "table": results, "queries": rows, "total_ttft_ms": tot("ttft_ms")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
