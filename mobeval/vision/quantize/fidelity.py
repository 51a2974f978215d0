"""Quantization error as ONNX Runtime's qdq_loss_debug defines it, measured without holding every
activation of every input in memory.

SQNR (dB) of a reference x against y is 20·log10(‖x‖ / ‖x − y‖) over all elements of all inputs
concatenated, each norm floored at float64's machine epsilon (`compute_signal_to_quantization_noice_ratio`).
Here the squared norms are summed per input in float64, so the figure is the same without concatenating.

- layer SQNR, per quantized activation (`create_activation_matching`): the float model's tensor against
  the QDQ model's dequantized one (`sqnr_db`, ORT's "xmodel_err": error accumulated up to that layer),
  and the QDQ model's tensor before against after its own QuantizeLinear/DequantizeLinear pair
  (`qdq_sqnr_db`, "qdq_err": the error that layer's quantization adds). Both models run with graph
  optimisation off, as `collect_activations` runs them, so the QDQ arithmetic is simulated in float.
- weight SQNR, per quantized initializer (`create_weight_matching`): float weights against dequantized.
- output SQNR: a model output of the float model against the same output of the quantized model, both
  run as a user runs them (graph optimisation on: on the CPU EP the QDQ pairs become integer kernels).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mobeval.core.errors import MobevalError
from mobeval.vision.quantize.qdq import batched, input_name, quiet_ort

EPS = float(np.finfo("float").eps)  # qdq_loss_debug's floor on both norms
_SAVED = "_ReshapedSavedOutput"  # qdq_loss_debug's suffix on the outputs it adds


def sqnr_from_sums(signal_sq: float, noise_sq: float) -> float:
    """20·log10(max(‖x‖, eps) / max(‖x − y‖, eps)) from the two squared norms."""
    return 20 * math.log10(max(math.sqrt(signal_sq), EPS) / max(math.sqrt(noise_sq), EPS))


def sqnr_db(x: np.ndarray | Sequence[np.ndarray], y: np.ndarray | Sequence[np.ndarray]) -> float:
    """SQNR of reference `x` against `y` (arrays, or equal-length lists of arrays concatenated)."""
    acc = SqnrSum()
    xs, ys = ([x], [y]) if isinstance(x, np.ndarray) else (list(x), list(y))
    if len(xs) != len(ys):
        raise MobevalError(f"SQNR needs as many tensors on each side: {len(xs)} vs {len(ys)}")
    for a, b in zip(xs, ys):
        acc.add(a, b)
    return acc.db


@dataclass
class SqnrSum:
    """Running ‖x‖² and ‖x − y‖² in float64."""

    signal_sq: float = 0.0
    noise_sq: float = 0.0
    count: int = 0  # inputs added

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        a = np.asarray(x, dtype=np.float64).ravel()
        b = np.asarray(y, dtype=np.float64).ravel()
        if a.shape != b.shape:
            raise MobevalError(f"SQNR of tensors of different sizes: {a.size} vs {b.size} elements")
        d = a - b
        # einsum, not a BLAS dot: OpenBLAS's threads fight ONNX Runtime's for the cores (5-10x slower here)
        self.signal_sq += float(np.einsum("i,i->", a, a))
        self.noise_sq += float(np.einsum("i,i->", d, d))
        self.count += 1

    @property
    def db(self) -> float:
        return sqnr_from_sums(self.signal_sq, self.noise_sq)


@dataclass(frozen=True)
class LayerSqnr:
    tensor: str  # the activation's name in the float model
    node: str  # the float model's node that produces it ('' for a graph input)
    op_type: str  # its operator ('input' for a graph input)
    sqnr_db: float  # float model vs QDQ model, dequantized (accumulated error)
    qdq_sqnr_db: float  # QDQ model before vs after this tensor's Q/DQ pair (this layer's own error)
    n_inputs: int
    elements: int  # elements per input
    zero_signal: bool = False  # the float tensor is all zeros (a padding constant): its SQNR says nothing


@dataclass(frozen=True)
class WeightSqnr:
    name: str
    sqnr_db: float
    elements: int
    per_channel: bool  # one scale per output channel (else one per tensor)


@dataclass
class _Pair:
    pre: str
    post: str
    xmodel: SqnrSum = field(default_factory=SqnrSum)
    local: SqnrSum = field(default_factory=SqnrSum)
    elements: int = 0


def _augment(path: Path, dest: Path) -> list[str]:
    """qdq_loss_debug's augmented copy of a model (every float tensor a model output); the saved tensor
    names, in the order the augmented model outputs them."""
    from onnxruntime.quantization.qdq_loss_debug import (
        modify_model_output_intermediate_tensors,
    )

    with quiet_ort():
        modify_model_output_intermediate_tensors(str(path), str(dest))
    import onnx

    outs = onnx.load(str(dest), load_external_data=False).graph.output
    return [o.name[: -len(_SAVED)] for o in outs if o.name.endswith(_SAVED)]


def _activation_pairs(saved: list[str]) -> dict[str, tuple[str, str]]:
    """activation -> (pre-QDQ tensor, post-QDQ tensor) by create_activation_matching's naming rules,
    applied in the same order (a later match replaces an earlier one, as there)."""
    from onnxruntime.quantization.quant_utils import (
        DEQUANT_OUTPUT_SUFFIX,
        QUANT_INPUT_SUFFIX,
    )

    present, pairs = set(saved), {}
    post1 = DEQUANT_OUTPUT_SUFFIX + "_1"
    for name in saved:
        if name.endswith(QUANT_INPUT_SUFFIX):
            act = name[: -len(QUANT_INPUT_SUFFIX)]
            if act in present:
                pairs[act] = (name, act)
        elif name.endswith((DEQUANT_OUTPUT_SUFFIX, post1)):
            act = name[: -len(DEQUANT_OUTPUT_SUFFIX if name.endswith(DEQUANT_OUTPUT_SUFFIX) else post1)]
            if act in present:
                pairs[act] = (act, name)
    return pairs


def _debug_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # as collect_activations
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # the sums run between calls
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _producers(path: Path) -> dict[str, tuple[str, str]]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    found = {i.name: ("", "input") for i in graph.input}
    for node in graph.node:
        for out in node.output:
            found[out] = (node.name, node.op_type)
    return found


def layer_sqnr(float_path: str | Path, qdq_path: str | Path, inputs: Iterable[np.ndarray]) -> list[LayerSqnr]:
    """SQNR of every quantized activation over `inputs` (preprocessed, batch axis optional), ranked
    worst (lowest accumulated SQNR) first, all-zero tensors (0 dB by the epsilon floors) last. Inputs
    are run one at a time; nothing is kept but sums."""
    float_path, qdq_path = Path(float_path), Path(qdq_path)
    name = input_name(float_path)
    with tempfile.TemporaryDirectory(prefix="mobeval-sqnr-") as tmp:
        float_saved = set(_augment(float_path, Path(tmp) / "float.onnx"))
        pairs = {act: _Pair(*p) for act, p in _activation_pairs(_augment(qdq_path, Path(tmp) / "qdq.onnx")).items()
                 if act in float_saved}
        if not pairs:
            raise MobevalError(f"{qdq_path.name}: no quantized activation matches a tensor of {float_path.name} "
                               "(is it a QDQ model quantized from it?)")
        fsess, qsess = _debug_session(Path(tmp) / "float.onnx"), _debug_session(Path(tmp) / "qdq.onnx")
        acts = list(pairs)
        f_names = [a + _SAVED for a in acts]
        q_names = sorted({n + _SAVED for p in pairs.values() for n in (p.pre, p.post)})
        n = 0
        for x in batched(inputs):
            f = dict(zip(acts, fsess.run(f_names, {name: x})))
            q = dict(zip((s[: -len(_SAVED)] for s in q_names), qsess.run(q_names, {name: x})))
            for act, p in pairs.items():
                p.xmodel.add(f[act], q[p.post])
                p.local.add(q[p.pre], q[p.post])
                p.elements = int(f[act].size)
            n += 1
    if n == 0:
        raise MobevalError("layer SQNR needs at least one input")
    producers = _producers(float_path)
    rows = [LayerSqnr(tensor=act, node=producers.get(act, ("", "?"))[0], op_type=producers.get(act, ("", "?"))[1],
                      sqnr_db=p.xmodel.db, qdq_sqnr_db=p.local.db, n_inputs=n, elements=p.elements,
                      zero_signal=p.xmodel.signal_sq == 0)
            for act, p in pairs.items()]
    return sorted(rows, key=lambda r: (r.zero_signal, r.sqnr_db, r.tensor))


def weight_sqnr(float_path: str | Path, qdq_path: str | Path) -> list[WeightSqnr]:
    """SQNR of every quantized weight (float vs dequantized, by ORT's create_weight_matching), worst first."""
    from onnxruntime.quantization.qdq_loss_debug import create_weight_matching

    with quiet_ort():
        matched = create_weight_matching(str(float_path), str(qdq_path))
    scales = _weight_scales(Path(qdq_path))
    rows = []
    for name, m in matched.items():
        acc = SqnrSum()
        acc.add(m["float"], m["dequantized"])
        rows.append(WeightSqnr(name=name, sqnr_db=acc.db, elements=int(np.asarray(m["float"]).size),
                               per_channel=scales.get(name, 1) > 1))
    return sorted(rows, key=lambda r: (r.sqnr_db, r.name))


def _weight_scales(path: Path) -> dict[str, int]:
    """weight name -> number of scales of its DequantizeLinear (1: per tensor)."""
    import onnx
    from onnxruntime.quantization.quant_utils import TENSOR_NAME_QUANT_SUFFIX

    graph = onnx.load(str(path), load_external_data=False).graph
    sizes = {i.name: int(np.prod(i.dims)) if i.dims else 1 for i in graph.initializer}
    return {n.input[0][: -len(TENSOR_NAME_QUANT_SUFFIX)]: sizes.get(n.input[1], 1)
            for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0].endswith(TENSOR_NAME_QUANT_SUFFIX)}


def run_model(path: str | Path, inputs: Iterable[np.ndarray], output: str | None = None,
              provider: str = "CPUExecutionProvider") -> list[np.ndarray]:
    """One output of a model (the first, or `output`) for each input, graph optimisation on (as users run it)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=options, providers=[provider])
    name = sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]
    if output is not None and output not in outputs:
        raise MobevalError(f"{Path(path).name}: no output named {output!r}; outputs: {', '.join(outputs)}")
    want = output or outputs[0]
    return [sess.run([want], {name: x})[0] for x in batched(inputs)]


def output_sqnr(float_path: str | Path, qdq_path: str | Path, inputs: Iterable[np.ndarray],
                output: str | None = None, provider: str = "CPUExecutionProvider") -> float:
    """SQNR of a model output (the first, or `output`) of the quantized model against the float model's."""
    xs = list(batched(inputs))
    return sqnr_db(run_model(float_path, xs, output), run_model(qdq_path, xs, output, provider))
