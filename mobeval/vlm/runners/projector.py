"""The projector: image-token features -> language-model input embeddings, a two-layer MLP: in numpy, and as
ONNX nodes appended to the encoder's graph (`appended_to`, what the hybrid runner runs).

LLaVA-1.5's projector shape: standardise the encoder's features (mean/std of the training images),
Linear -> GELU (tanh form) -> Linear. The .npz holds the weights and a JSON `meta` string: what it was
trained against (encoder, preprocessing, the LM's hash and embedding width, the chat wrapping of the
prompt) so a runner can refuse parts that do not belong together.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import RunnerError

ARRAYS = ("mean", "std", "w1", "b1", "w2", "b2")
_controller = None


def _one_blas_thread():
    """A context limiting BLAS to one thread (threadpoolctl, a scikit-learn dependency); none where it is missing."""
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class Projector:
    mean: np.ndarray  # (features,)
    std: np.ndarray  # (features,)
    w1: np.ndarray  # (features, hidden)
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden, n_embd)
    b2: np.ndarray  # (n_embd,)
    meta: dict[str, Any]

    @property
    def in_features(self) -> int:
        return int(self.w1.shape[0])

    @property
    def n_embd(self) -> int:
        return int(self.w2.shape[1])

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(..., features) -> (..., n_embd), float32. The matrix products run on one BLAS thread: a few
        image tokens are too small to split, and OpenBLAS's threads on a busy CPU made them 40x slower
        (35 ms instead of 0.9 ms for 4 tokens, measured on the 2-core AMD EPYC)."""
        x = (np.asarray(features, np.float32) - self.mean) / self.std
        with _one_blas_thread():
            h = x @ self.w1 + self.b1
            h = 0.5 * h * (1.0 + np.tanh(np.float32(0.7978845608028654) * (h + np.float32(0.044715) * h**3)))
            return np.ascontiguousarray(h @ self.w2 + self.b2, dtype=np.float32)


def appended_to(encoder: Any, proj: Projector) -> Any:
    """The encoder's ONNX model with the projector appended: its output (batch, tokens, features) goes on through
    the projector's standardise -> Linear -> GELU (tanh) -> Linear as ONNX nodes, to a second output
    `embeddings` (batch, tokens, n_embd); the features stay the first output. One session then runs both, as an
    NPU-bound deployment compiles them; numpy's projector ran beside ONNX Runtime's session and cost about 1 ms
    per image more than ORT's own loop (bench/README.md, vlm_hybrid_overhead.py)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(encoder)
    graph = model.graph
    features = graph.output[0].name
    names = {k: f"mobeval_projector_{k}" for k in (*ARRAYS, "c05", "c1", "c_sqrt", "c_cube")}
    consts = {"c05": 0.5, "c1": 1.0, "c_sqrt": 0.7978845608028654, "c_cube": 0.044715}
    graph.initializer.extend(numpy_helper.from_array(np.asarray(getattr(proj, k), np.float32), names[k]) for k in ARRAYS)
    graph.initializer.extend(numpy_helper.from_array(np.asarray(v, np.float32), names[k]) for k, v in consts.items())
    t = lambda k: f"mobeval_projector_t_{k}"  # noqa: E731
    n = names
    graph.node.extend([
        helper.make_node("Sub", [features, n["mean"]], [t("centred")]),
        helper.make_node("Div", [t("centred"), n["std"]], [t("x")]),
        helper.make_node("MatMul", [t("x"), n["w1"]], [t("xw1")]),
        helper.make_node("Add", [t("xw1"), n["b1"]], [t("h")]),
        helper.make_node("Mul", [t("h"), t("h")], [t("h2")]),
        helper.make_node("Mul", [t("h2"), t("h")], [t("h3")]),
        helper.make_node("Mul", [t("h3"), n["c_cube"]], [t("ch3")]),
        helper.make_node("Add", [t("h"), t("ch3")], [t("inner")]),
        helper.make_node("Mul", [t("inner"), n["c_sqrt"]], [t("scaled")]),
        helper.make_node("Tanh", [t("scaled")], [t("tanh")]),
        helper.make_node("Add", [t("tanh"), n["c1"]], [t("onep")]),
        helper.make_node("Mul", [t("h"), t("onep")], [t("hp")]),
        helper.make_node("Mul", [t("hp"), n["c05"]], [t("gelu")]),
        helper.make_node("MatMul", [t("gelu"), n["w2"]], [t("gw2")]),
        helper.make_node("Add", [t("gw2"), n["b2"]], [EMBEDDINGS]),
    ])
    graph.output.append(helper.make_tensor_value_info(EMBEDDINGS, TensorProto.FLOAT, None))
    return model


EMBEDDINGS = "mobeval_projector_embeddings"


def save(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Weights stored as float16 (half the file; the runner computes in float32)."""
    data = {k: np.asarray(arrays[k], np.float16) for k in ARRAYS}
    np.savez_compressed(path, meta=np.array(json.dumps(meta, sort_keys=True)), **data)


def load(path: Path) -> Projector:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.ascontiguousarray(z[k], dtype=np.float32) for k in ARRAYS}
            meta = json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise RunnerError(f"{path}: not a projector file (an .npz with {', '.join(ARRAYS)} and meta): {exc}") from exc
    proj = Projector(meta=meta, **arrays)
    f, h, e = proj.in_features, proj.w1.shape[1], proj.n_embd
    shapes = {"mean": (f,), "std": (f,), "b1": (h,), "w2": (h, e), "b2": (e,)}
    bad = [k for k, s in shapes.items() if arrays[k].shape != s]
    if bad:
        raise RunnerError(f"{path}: projector arrays of inconsistent shapes: {', '.join(bad)}")
    return proj
