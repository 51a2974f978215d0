"""An integer-quantized encoder for a bundled digits VLM, as a VLM manifest the hybrid runner takes with --model.

The float encoder ONNX (--model digits-clip: its ViT tower's tokens, the default; digits-vlm: EfficientNet-Lite0
grid features) is quantized by mobeval.vision.quantize (static QDQ,
ONNX Runtime's quantizer; default W8A16, AutoNeural's encoder scheme) on calibration images from the
training pool only (dataset index % 5 != 0); its output SQNR against the float encoder is measured on
held-out images (index % 5 == 0, the pool the vlm-digits set draws from) and written into the manifest as
`encoder_sqnr_db`, which the runner records.

    python scripts/quantize_digits_vlm_encoder.py --out /tmp/digits-clip-w8a16.json [--model digits-clip]
        [--scheme w8a16] [--calibration 64] [--sqnr-images 32]
    mobeval run --task vlm --bench vlm-digits --runner hybrid --model /tmp/digits-clip-w8a16.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mobeval.vlm.benchmarks.digits import is_eval_index, render_digit
from mobeval.vlm.models.manifest import resolve
from mobeval.vlm.models.encoder import ENCODER_OUTPUT
from mobeval.vision.quantize.fidelity import output_sqnr
from mobeval.vision.quantize.qdq import quantize_onnx
from mobeval.vision.quantize.scheme import QuantScheme
from mobeval.vlm.runners import projector as projector_io
from mobeval.vision.task.preprocess import PreprocessSpec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="the manifest to write (.json)")
    ap.add_argument("--model", default="digits-clip", choices=("digits-clip", "digits-vlm"))
    ap.add_argument("--scheme", default="w8a16")
    ap.add_argument("--calibration", type=int, default=64, help="training-pool images to calibrate on")
    ap.add_argument("--sqnr-images", type=int, default=32, help="held-out images to measure the SQNR on")
    args = ap.parse_args()
    from sklearn.datasets import load_digits

    ref = resolve(args.model)
    spec = PreprocessSpec(**projector_io.load(ref.files["projector"]).meta["preprocess"])
    digits = load_digits()
    rng = np.random.default_rng(15)
    train = [i for i in range(len(digits.target)) if not is_eval_index(i)]
    held = [i for i in range(len(digits.target)) if is_eval_index(i)]
    calib_idx = sorted(rng.choice(train, args.calibration, replace=False).tolist())
    sqnr_idx = sorted(rng.choice(held, args.sqnr_images, replace=False).tolist())
    pixels = lambda idx: [spec.apply(render_digit(digits.images[i])) for i in idx]
    quant = quantize_onnx(ref.files["encoder"], QuantScheme.parse(args.scheme), pixels(calib_idx),
                          calibration_info={"ids": [f"digits-{i:05d}" for i in calib_idx], "bench": "digits (train pool)"},
                          source_model={"vlm": args.model, "part": "encoder"})
    sqnr = output_sqnr(ref.files["encoder"], quant.path, pixels(sqnr_idx), output=ENCODER_OUTPUT)
    manifest = {
        "name": f"{args.model} with its encoder quantized {args.scheme} (static QDQ)",
        "encoder": str(quant.path), "projector": str(ref.files["projector"]), "lm": str(ref.files["lm"]),
        **({"lora": str(ref.files["lora"])} if "lora" in ref.files else {}),
        "encoder_sqnr_db": round(sqnr, 2),
        "encoder_quantization": {"scheme": quant.manifest.scheme.model_dump(), "calibration_images": len(calib_idx),
                                 "calibration_pool": "digits dataset index % 5 != 0 (training pool)",
                                 "sqnr_images": len(sqnr_idx), "sqnr_pool": "digits dataset index % 5 == 0 (held out)",
                                 "float_encoder_sha256": ref.part_sha256["encoder"]},
    }
    args.out.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"{quant.path} ({'cached' if quant.cached else 'made now'}): encoder output SQNR {sqnr:.2f} dB on "
          f"{len(sqnr_idx)} held-out images; wrote {args.out}")


if __name__ == "__main__":
    main()
