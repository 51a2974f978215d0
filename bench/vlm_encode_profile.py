"""Where the hybrid runner's encode time goes: its own ONNX Runtime session timed in one process, in several
settings, against a fresh session's bare loop (what bench/vlm_hybrid_overhead.py compares with).

- inside answer(): the session.run the runner times, with llama.cpp's idle OpenMP threads released after each
  answer (what the runner does) and without;
- the same session back to back (warm caches, nothing between runs);
- right after a llama.cpp prefill of the question's text, with and without releasing the OpenMP threads;
- after a 256 MB memory sweep (cold caches, no other threads);
- a fresh session of the same model, back to back (the other bench's bare loop).

Medians over the bundled vlm-digits set's first N multiple-choice questions (+1 warm-up), digits-vlm.

    python bench/vlm_encode_profile.py [--items 20] [--threads 2]

Writes bench/results/vlm_encode_profile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def timed_ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "vlm_encode_profile.json")
    args = ap.parse_args()

    import onnxruntime as ort

    from mobeval.measure.environment import cpu_model
    from mobeval.text.runners.llamacpp_openmp import release_openmp_threads
    from mobeval.vlm.benchmarks.digits import load_digits_set
    from mobeval.vlm.models.manifest import resolve
    from mobeval.vlm.runners import hybrid
    from mobeval.vlm.runners.base import VlmQuery
    from mobeval.vlm.runners.image_encoder import with_head
    from mobeval.vlm.task.prompt import build_prompt, letters

    load0 = os.getloadavg()[0]
    items = [i for i in load_digits_set().items if i.multiple_choice][: args.items + 1]
    runner = hybrid.HybridRunner(resolve("digits-vlm"), threads=args.threads)
    queries = [VlmQuery(i.id, tuple(i.images), build_prompt(i, tuple(range(len(i.options)))),
                        letters(len(i.options)), max_tokens=4) for i in items]
    pixels = [runner.encoder.pixels(q.images) for q in queries]
    session, name, outputs = runner.encoder.session, runner.encoder.input_name, runner.encoder.outputs
    run = lambda p: session.run(outputs, {name: p})  # noqa: E731
    rows: dict[str, float] = {}

    def inside_answer(release: bool) -> float:
        kept = hybrid.release_openmp_threads
        if not release:
            hybrid.release_openmp_threads = lambda: False
        try:
            times = []
            for k, q in enumerate(queries):
                runner.answer(q)
                if k:
                    times.append(runner.last_engine.encoder_run_ms)
            return statistics.median(times)
        finally:
            hybrid.release_openmp_threads = kept

    rows["inside answer(), OpenMP threads released (the runner)"] = inside_answer(True)
    rows["inside answer(), not released"] = inside_answer(False)
    run(pixels[0])
    rows["same session, back to back"] = statistics.median(timed_ms(lambda p=p: run(p)) for p in pixels[1:])
    for release in (False, True):
        times = []
        for q, p in zip(queries, pixels[1:]):
            runner.lm.reset()
            runner.lm.feed_tokens(runner.lm.tokenize(q.prompt, True), logits_last=True)
            runner.lm.last_logits()
            if release:
                release_openmp_threads()
            times.append(timed_ms(lambda p=p: run(p)))
        rows[f"same session, right after a llama.cpp prefill{', threads released' if release else ''}"] = \
            statistics.median(times)
    sweep, times = np.ones(64 << 20, np.float32), []
    for p in pixels[1:]:
        sweep += 1.0
        times.append(timed_ms(lambda p=p: run(p)))
    rows["same session, after a 256 MB memory sweep"] = statistics.median(times)
    options = ort.SessionOptions()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = args.threads
    fresh = ort.InferenceSession(with_head(Path(runner.info.model_files["encoder"]), runner.projector),
                                 sess_options=options, providers=["CPUExecutionProvider"])
    fresh.run(outputs, {name: pixels[0]})
    rows["fresh session, back to back (the bare loop)"] = statistics.median(
        timed_ms(lambda p=p: fresh.run(outputs, {name: p})) for p in pixels[1:])
    runner.close()
    bare = rows["fresh session, back to back (the bare loop)"]
    print(f"{cpu_model()}, {os.cpu_count()} cores, threads {args.threads}, onnxruntime {ort.__version__}; "
          f"digits-vlm encoder + projector, {args.items} images (+1 warm-up); load average {load0:.2f} at the start")
    print(f"{'session.run of the encoder':62} {'p50 ms':>7} {'x bare':>7}")
    for what, ms in rows.items():
        print(f"{what:62} {ms:7.2f} {ms / bare:7.2f}")
    report = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_1min_start": load0,
                          "load_average_1min_end": os.getloadavg()[0]},
              "threads": args.threads, "items": args.items, "onnxruntime": ort.__version__, "p50_ms": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
