"""A quantized model's whole account against its float model on a run's items: SQNR per layer, per
weight and of the output, and the accuracy it costs. This is what a run's task section stores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from mobeval.core.errors import MobevalError
from mobeval.core.hashing import file_sha256
from mobeval.vision.quantize.cost import MLPERF_MOBILE_TARGET, AccuracyCost, accuracy_cost
from mobeval.vision.quantize.fidelity import layer_sqnr, run_model, sqnr_db, weight_sqnr
from mobeval.vision.quantize.manifest import QuantManifest
from mobeval.vision.quantize.scheme import QuantScheme

LAYER_SQNR_INPUTS = 16  # layer SQNR runs both models unoptimised with every tensor saved: ~1-2 s an image


class LayerRow(BaseModel):
    tensor: str
    node: str
    op_type: str
    sqnr_db: float  # float model vs quantized, accumulated up to this layer
    qdq_sqnr_db: float  # this layer's own quantize/dequantize step
    elements: int
    zero_signal: bool = False  # all zeros in the float model (a padding constant): not ranked


class WeightRow(BaseModel):
    name: str
    sqnr_db: float
    elements: int
    per_channel: bool


class QuantizationSection(BaseModel):
    """Figures in dB are ONNX Runtime's qdq_loss_debug SQNR, 20·log10(‖float‖/‖float − quantized‖)."""

    scheme: QuantScheme
    scheme_label: str
    onnxruntime_version: str  # that made the quantized model
    float_model_path: str
    float_model_sha256: str
    calibration_n: int
    calibration_bench: str
    calibration_ids: list[str]
    calibration_ids_sha256: str
    excluded_from_evaluation: int  # calibration items left out of this run's selection
    output_sqnr_db: float  # the runner's logits vs the float model's, over every evaluated item
    output_items: int
    layer_items: int  # items the layer SQNR ran over (spread evenly over the run's items)
    layer_item_ids: list[str] = []
    layers: list[LayerRow]  # worst first, all-zero tensors last
    weights: list[WeightRow]  # worst first
    accuracy: AccuracyCost | None  # None when no item is labelled
    flips: int  # items whose top-1 prediction differs from the float model's
    flip_rate: float
    # a mixed-precision model: the layers (node names) kept at `keep_as`, of `precision_layers` quantized layers
    kept_layers: list[str] = []
    keep_as: str = ""
    precision_layers: int = 0
    validation_n: int = 0  # images its search chose them on (never evaluated)


def float_reference(manifest: QuantManifest, where: Path) -> Path:
    """The float model the manifest names, checked to be the same file it was quantized from."""
    path = Path(manifest.float_model_path)
    if not path.is_file():
        raise MobevalError(f"{where}: its float model {path} is gone (its cache was cleared?); quantize again "
                           "with `mobeval quantize`, which re-exports it")
    if file_sha256(path) != manifest.float_model_sha256:
        raise MobevalError(f"{where}: its float model {path} has changed since quantization (sha256 differs); "
                           "quantize again")
    return path


def spread(n: int, k: int) -> list[int]:
    """k indices of 0..n-1 spread evenly (all of them when k >= n)."""
    return list(range(n)) if k >= n else sorted({round(i * (n - 1) / (k - 1)) for i in range(k)} if k > 1 else {0})


def analyse(manifest: QuantManifest, qdq_path: Path, inputs: Sequence[np.ndarray], quant_logits: np.ndarray,
            labels: list[int | None], *, item_ids: Sequence[str] = (), excluded: int = 0,
            target: float = MLPERF_MOBILE_TARGET, layer_inputs: int = LAYER_SQNR_INPUTS,
            seed: int = 0) -> QuantizationSection:
    """`quant_logits` are the quantized runner's outputs on `inputs` (one row each); `item_ids` name them."""
    if not inputs:
        raise MobevalError("quantization figures need at least one evaluated item")
    float_path = float_reference(manifest, qdq_path)
    float_logits = np.concatenate(run_model(float_path, inputs)).astype(np.float32)
    quant_logits = np.asarray(quant_logits, dtype=np.float32)
    cost = accuracy_cost(float_logits, quant_logits, labels, target, seed)
    fp, qp = float_logits.argmax(axis=1), quant_logits.argmax(axis=1)
    chosen = spread(len(inputs), layer_inputs)
    c = manifest.calibration
    return QuantizationSection(
        scheme=manifest.scheme, scheme_label=manifest.label, onnxruntime_version=manifest.onnxruntime_version,
        float_model_path=manifest.float_model_path, float_model_sha256=manifest.float_model_sha256,
        calibration_n=c.n, calibration_bench=c.bench, calibration_ids=c.ids, calibration_ids_sha256=c.ids_sha256,
        excluded_from_evaluation=excluded,
        output_sqnr_db=sqnr_db(float_logits, quant_logits), output_items=len(inputs), layer_items=len(chosen),
        layer_item_ids=[item_ids[k] for k in chosen] if item_ids else [],
        layers=[LayerRow(tensor=r.tensor, node=r.node, op_type=r.op_type, sqnr_db=r.sqnr_db,
                         qdq_sqnr_db=r.qdq_sqnr_db, elements=r.elements, zero_signal=r.zero_signal)
                for r in layer_sqnr(float_path, qdq_path, [inputs[k] for k in chosen])],
        weights=[WeightRow(name=w.name, sqnr_db=w.sqnr_db, elements=w.elements, per_channel=w.per_channel)
                 for w in weight_sqnr(float_path, qdq_path)],
        accuracy=cost, flips=int(np.sum(fp != qp)), flip_rate=float(np.mean(fp != qp)),
        kept_layers=list(manifest.kept.layers) if manifest.kept else [],
        keep_as=manifest.kept.keep_as if manifest.kept else "", precision_layers=len(manifest.precision),
        validation_n=manifest.validation.n if manifest.validation else 0,
    )
