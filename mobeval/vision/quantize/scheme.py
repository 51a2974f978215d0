"""A quantization scheme as data: bit widths of weights and activations, granularity, symmetry and the
calibration method, mapped onto ONNX Runtime's `quantize_static` arguments (QDQ format)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mobeval.core.errors import MobevalError

SchemeName = Literal["w8a8", "w8a16", "w4a16"]
CalibrationMethodName = Literal["minmax", "entropy", "percentile"]

# scheme -> (weight type, activation type), ONNX Runtime QuantType names. Weights are signed (NPUs and
# ORT's symmetric default want int8/int4 weights), activations unsigned (ReLU/ReLU6 outputs are >= 0).
SCHEME_TYPES: dict[str, tuple[str, str]] = {
    "w8a8": ("QInt8", "QUInt8"),
    "w8a16": ("QInt8", "QUInt16"),
    "w4a16": ("QInt4", "QUInt16"),
}
SCHEMES = tuple(SCHEME_TYPES)
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
_ORT_METHOD = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


class QuantScheme(BaseModel):
    """How a float ONNX model is quantized. `weight_symmetric`/`activation_symmetric` None means ONNX
    Runtime's default (weights symmetric, as they are signed; activations asymmetric)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: SchemeName
    per_channel: bool = True
    weight_symmetric: bool | None = None
    activation_symmetric: bool | None = None
    calibration_method: CalibrationMethodName = "minmax"
    # 7-bit weights: ONNX Runtime's remedy for the saturation of u8s8 integer kernels on x86 CPUs
    # without VNNI (VPMADDUBSW adds two u8·s8 products into an int16, which can overflow)
    reduce_range: bool = False

    @classmethod
    def parse(cls, name: str, **kw: Any) -> QuantScheme:
        """A scheme from user input; an unknown name or method is a MobevalError listing the known ones."""
        if name not in SCHEME_TYPES:
            raise MobevalError(f"--scheme {name}: unknown quantization scheme; known: {', '.join(SCHEMES)}")
        method = kw.get("calibration_method", "minmax")
        if method not in CALIBRATION_METHODS:
            raise MobevalError(f"--calibration-method {method}: one of {', '.join(CALIBRATION_METHODS)}")
        return cls(name=name, **kw)

    @property
    def weight_bits(self) -> int:
        return 4 if SCHEME_TYPES[self.name][0].endswith("4") else 8

    @property
    def activation_bits(self) -> int:
        return 16 if SCHEME_TYPES[self.name][1].endswith("16") else 8

    @property
    def label(self) -> str:
        """One line for reports, e.g. "w8a8 per-channel, weights symmetric, activations asymmetric, minmax"."""
        w = "symmetric" if self.weight_symmetric in (None, True) else "asymmetric"
        a = "symmetric" if self.activation_symmetric else "asymmetric"
        return (f"{self.name} {'per-channel' if self.per_channel else 'per-tensor'}, weights {w}, "
                f"activations {a}, {self.calibration_method}{', reduce-range' if self.reduce_range else ''}")

    def key(self) -> str:
        """Canonical JSON of the scheme: part of the quantized model's cache key."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def ort_arguments(self) -> dict[str, Any]:
        """Keyword arguments of onnxruntime.quantization.quantize_static (besides paths and the reader)."""
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

        wtype, atype = SCHEME_TYPES[self.name]
        extra: dict[str, Any] = {}
        if self.weight_symmetric is not None:
            extra["WeightSymmetric"] = self.weight_symmetric
        if self.activation_symmetric is not None:
            extra["ActivationSymmetric"] = self.activation_symmetric
        return {
            "quant_format": QuantFormat.QDQ,
            "weight_type": getattr(QuantType, wtype),
            "activation_type": getattr(QuantType, atype),
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "calibrate_method": getattr(CalibrationMethod, _ORT_METHOD[self.calibration_method]),
            "extra_options": extra,
        }
