"""Static QDQ quantization of ONNX models with ONNX Runtime, and what it costs: SQNR per layer, per
weight and of the output (ONNX Runtime's qdq_loss_debug definitions), and task accuracy against the
float model. The names exported here are the stable API (bench scripts import them)."""

from mobeval.vision.quantize.fidelity import (
    LayerSqnr,
    SqnrSum,
    WeightSqnr,
    layer_sqnr,
    output_sqnr,
    run_model,
    sqnr_db,
    weight_sqnr,
)
from mobeval.vision.quantize.manifest import (
    CalibrationInfo,
    QuantManifest,
    manifest_path,
    read_manifest,
)
from mobeval.vision.quantize.qdq import QuantizedModel, quantize_onnx
from mobeval.vision.quantize.scheme import CALIBRATION_METHODS, SCHEMES, QuantScheme

__all__ = [
    "CALIBRATION_METHODS", "SCHEMES", "CalibrationInfo", "LayerSqnr", "QuantManifest", "QuantScheme",
    "QuantizedModel", "SqnrSum", "WeightSqnr", "layer_sqnr", "manifest_path", "output_sqnr", "quantize_onnx",
    "read_manifest", "run_model", "sqnr_db", "weight_sqnr",
]
