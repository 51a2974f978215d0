"""Where digits-vlm's encoder loses its SQNR at W8A16 (issue 28; docs/digits-encoder-sqnr.md).

Quantizes the encoder as scripts/quantize_digits_vlm_encoder.py does (same seed, calibration and held-out
draws) and splits the output SQNR on held-out digits: the figure recomputed in numpy, int8 weights alone,
uint16 activations alone, the weights' error without / with only each filter's tap sum, each conv's int8
weights alone (worst first), and the float model's own sensitivity to input noise. --photos DIR repeats the
calibration-free rows on ImageNet photos (the digits' preprocessing) for comparison.

    python scripts/digits_encoder_sqnr_breakdown.py [--images 16] [--photos ../shared/data/imagenet-samples]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def weights_variant(base, wm, mode: str, only: set[str] | None = None) -> bytes:
    """The float model with the QDQ model's dequantized conv weights: "int8" as they are, "dc-neutral" each
    filter's error minus its mean over the taps, "dc-only" only that mean."""
    import onnx
    from onnx import numpy_helper as nh

    m = onnx.ModelProto()
    m.CopyFrom(base)
    convs = {n.input[1]: n.name for n in m.graph.node if n.op_type == "Conv"}
    for init in m.graph.initializer:
        if init.name in convs and init.name in wm and (only is None or convs[init.name] in only):
            w = np.asarray(wm[init.name]["float"], np.float64)
            err = (np.asarray(wm[init.name]["dequantized"], np.float64) - w).reshape(w.shape[0], w.shape[1], -1)
            mean = err.mean(axis=2, keepdims=True)
            err = {"int8": err, "dc-neutral": err - mean, "dc-only": np.broadcast_to(mean, err.shape)}[mode]
            init.CopyFrom(nh.from_array((w + err.reshape(w.shape)).astype(np.float32), init.name))
    return m.SerializeToString()


def activations_only(qdq_path: Path, float_path: Path) -> bytes:
    """The QDQ model with every weight/bias DequantizeLinear replaced by the float initializer."""
    import onnx

    finit = {i.name: i for i in onnx.load(str(float_path)).graph.initializer}
    m = onnx.load(str(qdq_path))
    init, keep = {i.name for i in m.graph.initializer}, []
    for n in m.graph.node:
        src = n.input[0][: -len("_quantized")] if n.op_type == "DequantizeLinear" else ""
        if n.op_type == "DequantizeLinear" and n.input[0] in init and n.input[0].endswith("_quantized") and src in finit:
            t = type(finit[src])()
            t.CopyFrom(finit[src])
            t.name = n.output[0]
            m.graph.initializer.append(t)
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m.SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=16, help="held-out digits to measure on (of the script's 32)")
    ap.add_argument("--photos", type=Path, help="an ImageNet-style folder (class/*.JPEG): the same rows on photos")
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization.qdq_loss_debug import create_weight_matching
    from PIL import Image
    from sklearn.datasets import load_digits

    from mobeval.vision.quantize.fidelity import output_sqnr, run_model, sqnr_db
    from mobeval.vision.quantize.qdq import quantize_onnx
    from mobeval.vision.quantize.scheme import QuantScheme
    from mobeval.vision.task.preprocess import PreprocessSpec
    from mobeval.vlm.benchmarks.digits import is_eval_index, render_digit
    from mobeval.vlm.models.encoder import ENCODER_OUTPUT
    from mobeval.vlm.models.manifest import resolve
    from mobeval.vlm.runners import projector as projector_io

    ref = resolve("digits-vlm")
    fpath = ref.files["encoder"]
    spec = PreprocessSpec(**projector_io.load(ref.files["projector"]).meta["preprocess"])
    digits = load_digits()
    rng = np.random.default_rng(15)  # as scripts/quantize_digits_vlm_encoder.py
    train = [i for i in range(len(digits.target)) if not is_eval_index(i)]
    held = [i for i in range(len(digits.target)) if is_eval_index(i)]
    calib = sorted(rng.choice(train, 64, replace=False).tolist())
    sqnr_idx = sorted(rng.choice(held, 32, replace=False).tolist())[: args.images]
    pixels = lambda idx: [spec.apply(render_digit(digits.images[i])) for i in idx]  # noqa: E731
    quant = quantize_onnx(fpath, QuantScheme.parse("w8a16"), pixels(calib))
    xs = pixels(sqnr_idx)
    print(f"{quant.path.name}; {len(xs)} held-out digits")

    def run(model, inputs, optimise=True):
        o = ort.SessionOptions()
        o.log_severity_level = 3
        if not optimise:  # the QDQ arithmetic simulated in float (ORT fuses float-weight QDQ convs wrongly otherwise)
            o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
        return [s.run([ENCODER_OUTPUT], {s.get_inputs()[0].name: x[None]})[0] for x in inputs]

    f = np.concatenate(run_model(fpath, xs, ENCODER_OUTPUT)).astype(np.float64)
    q = np.concatenate(run_model(quant.path, xs, ENCODER_OUTPUT)).astype(np.float64)
    print(f"W8A16 output SQNR (output_sqnr) {output_sqnr(fpath, quant.path, xs, output=ENCODER_OUTPUT):6.2f} dB; "
          f"numpy 20log10(|f|/|f-q|) {20 * np.log10(np.linalg.norm(f) / np.linalg.norm(f - q)):6.2f} dB")
    base, wm = onnx.load(str(fpath)), create_weight_matching(str(fpath), str(quant.path))
    print(f"uint16 activations only (weights float) {sqnr_db(run(str(fpath), xs), run(activations_only(quant.path, fpath), xs, False)):6.2f} dB")
    sets = [("digits", xs)]
    if args.photos:
        files = sorted(p for p in args.photos.glob("*/*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        sets.append(("photos", [spec.apply(Image.open(p)) for p in files[:: max(1, len(files) // args.images)][: args.images]]))
    for label, inputs in sets:
        ref_out = run(str(fpath), inputs)
        row = [f"{m} {sqnr_db(ref_out, run(weights_variant(base, wm, m), inputs)):6.2f} dB" for m in ("int8", "dc-neutral", "dc-only")]
        noisy = [x + np.random.default_rng(0).normal(0, 1e-3, x.shape).astype(np.float32) for x in inputs]
        print(f"{label}: int8 weights only (activations float): " + " | ".join(row)
              + f" | float model, input + N(0, 1e-3): {sqnr_db(ref_out, run(str(fpath), noisy)):6.2f} dB")
    ref_out = run(str(fpath), xs)
    convs = [n.name for n in base.graph.node if n.op_type == "Conv"]
    one = sorted((sqnr_db(ref_out, run(weights_variant(base, wm, "int8", {c}), xs)), c) for c in convs)
    print("one conv's int8 weights alone, worst 6: " + "; ".join(f"{c} {v:.2f} dB" for v, c in one[:6]))


if __name__ == "__main__":
    main()
