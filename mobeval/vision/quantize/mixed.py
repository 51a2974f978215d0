"""Mixed precision: which layers of a quantized model stay at a higher precision, as data, and how that
maps onto ONNX Runtime's quantizer (`TensorQuantOverrides` for a weight's bit width, `nodes_to_exclude`
to keep a node in float).

A *layer* is a node whose weight (an initializer at input 1 of Conv, ConvTranspose, Gemm or MatMul) the
quantizer quantized; it is named by its node name in the float model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from mobeval.core.errors import MobevalError
from mobeval.vision.quantize.scheme import QuantScheme

KeepAs = Literal["w8", "float"]
KEEP_AS = ("w8", "float")
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


class KeptLayers(BaseModel):
    """Layers kept at `keep_as` (w8: 8-bit weights in a 4-bit scheme; float: not quantized at all)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keep_as: KeepAs
    layers: tuple[str, ...]  # node names, sorted

    @field_validator("layers")
    @classmethod
    def _sorted(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(v)))

    def key(self) -> str:
        return f"{self.keep_as}:" + ",".join(self.layers)


def default_keep_as(scheme: QuantScheme) -> KeepAs:
    """A 4-bit weight scheme keeps layers at 8-bit weights; any other keeps them in float."""
    return "w8" if scheme.weight_bits == 4 else "float"


def check_keep_as(scheme: QuantScheme, keep_as: str) -> KeepAs:
    if keep_as not in KEEP_AS:
        raise MobevalError(f"--keep-as {keep_as}: one of {', '.join(KEEP_AS)}")
    if keep_as == "w8" and scheme.weight_bits != 4:
        raise MobevalError(f"--keep-as w8: scheme {scheme.name} already has 8-bit weights; keep layers as float")
    return keep_as  # type: ignore[return-value]


@dataclass(frozen=True)
class Layer:
    node: str  # node name in the float model
    op_type: str
    weight: str  # its weight initializer
    elements: int  # weight elements
    axis: int | None  # the weight's per-channel axis in the quantized model (None: one scale per tensor)


def weighted_layers(float_path: Path, qdq_path: Path) -> list[Layer]:
    """Every layer of the float model whose weight the quantized model quantized, in graph order."""
    import onnx
    from onnxruntime.quantization.quant_utils import TENSOR_NAME_QUANT_SUFFIX

    fgraph = onnx.load(str(float_path), load_external_data=False).graph
    qgraph = onnx.load(str(qdq_path), load_external_data=False).graph
    sizes = {i.name: _elements(i.dims) for i in fgraph.initializer}
    axes: dict[str, int | None] = {}
    for n in qgraph.node:
        if n.op_type == "DequantizeLinear" and n.input[0].endswith(TENSOR_NAME_QUANT_SUFFIX):
            axis = [a.i for a in n.attribute if a.name == "axis"]
            scale_dims = next((i.dims for i in qgraph.initializer if i.name == n.input[1]), [])
            axes[n.input[0][: -len(TENSOR_NAME_QUANT_SUFFIX)]] = (
                (axis[0] if axis else 1) if _elements(scale_dims) > 1 else None)
    layers, seen = [], set()
    for n in fgraph.node:
        if n.op_type in WEIGHTED_OPS and len(n.input) > 1 and n.input[1] in sizes and n.input[1] in axes:
            if not n.name:
                raise MobevalError(f"{float_path.name}: a {n.op_type} node has no name; mixed precision names "
                                   "layers by node name")
            if n.input[1] in seen:  # a weight shared by two nodes: one precision for both, named by the first
                continue
            seen.add(n.input[1])
            layers.append(Layer(n.name, n.op_type, n.input[1], sizes[n.input[1]], axes[n.input[1]]))
    if not layers:
        raise MobevalError(f"{qdq_path.name}: no quantized weight of a {'/'.join(WEIGHTED_OPS)} node; nothing to "
                           "keep at a higher precision")
    return layers


def _elements(dims: Iterable[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def quantizer_arguments(kept: KeptLayers, layers: list[Layer]) -> dict[str, Any]:
    """`quantize_static` keyword arguments that keep `kept`: `nodes_to_exclude` (float) or the weights'
    `TensorQuantOverrides` at QInt8 (w8), to merge into the scheme's own."""
    from onnxruntime.quantization import QuantType

    by_node = {layer.node: layer for layer in layers}
    unknown = [n for n in kept.layers if n not in by_node]
    if unknown:
        raise MobevalError(f"layers to keep not among the model's quantized layers: {', '.join(unknown[:5])}")
    if kept.keep_as == "float":
        return {"nodes_to_exclude": list(kept.layers)}
    overrides = {}
    for name in kept.layers:
        layer = by_node[name]
        entry: dict[str, Any] = {"quant_type": QuantType.QInt8}
        if layer.axis is not None:
            entry["axis"] = layer.axis
        overrides[layer.weight] = [entry]
    return {"tensor_quant_overrides": overrides}


def precision_map(scheme: QuantScheme, kept: KeptLayers | None, layers: list[Layer]) -> dict[str, str]:
    """Every quantized layer's precision: the scheme's (e.g. "w4a16") or the kept one ("w8a16", "float")."""
    low = scheme.name
    high = "float" if kept is None or kept.keep_as == "float" else f"w8a{scheme.activation_bits}"
    chosen = set(kept.layers) if kept else set()
    return {layer.node: high if layer.node in chosen else low for layer in layers}
