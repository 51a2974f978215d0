"""ONNX Runtime: an execution provider by name, a graph optimisation level and a thread count."""

from __future__ import annotations

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.vision.models.registry import VisionModel, onnx_file
from mobeval.vision.runners.base import ClassifierInfo

# Short names users type -> ONNX Runtime's provider names, and the package that brings each.
PROVIDERS = {
    "cpu": ("CPUExecutionProvider", "onnxruntime"),
    "xnnpack": ("XnnpackExecutionProvider", "an onnxruntime build with XNNPACK (e.g. onnxruntime-android)"),
    "openvino": ("OpenVINOExecutionProvider", "onnxruntime-openvino"),
    "coreml": ("CoreMLExecutionProvider", "onnxruntime on macOS"),
    "qnn": ("QNNExecutionProvider", "onnxruntime-qnn"),
    "cuda": ("CUDAExecutionProvider", "onnxruntime-gpu"),
    "dml": ("DmlExecutionProvider", "onnxruntime-directml"),
}

OPT_LEVELS = ("disable", "basic", "extended", "all")


def provider_name(name: str) -> str:
    """ONNX Runtime's name for a provider given as a short name (cpu, xnnpack, ...) or in full."""
    key = name.lower().removesuffix("executionprovider")
    if key in PROVIDERS:
        return PROVIDERS[key][0]
    raise RunnerError(f"--provider {name}: unknown execution provider; known: {', '.join(PROVIDERS)}")


class OnnxRuntimeClassifier:
    def __init__(
        self,
        model: VisionModel,
        provider: str = "cpu",
        threads: int | None = None,
        graph_optimization: str = "all",
    ):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise RunnerError("onnxruntime is not installed: pip install 'mobeval[vision]'") from exc
        full = provider_name(provider)
        available = ort.get_available_providers()
        if full not in available:
            brings = next(pkg for p, pkg in PROVIDERS.values() if p == full)
            raise RunnerError(
                f"--provider {provider}: {full} is not in this onnxruntime build "
                f"(available: {', '.join(available)}); it comes with {brings}"
            )
        if graph_optimization not in OPT_LEVELS:
            raise RunnerError(f"--graph-optimization {graph_optimization}: one of {', '.join(OPT_LEVELS)}")
        if threads is not None and threads < 1:
            raise RunnerError(f"--threads {threads}: must be at least 1")
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[graph_optimization]
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: a QDQ model's fusions warn of every constant they leave unused
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        path = onnx_file(model)
        providers = [full] if full == "CPUExecutionProvider" else [full, "CPUExecutionProvider"]
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise RunnerError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise RunnerError(f"{path}: an image classifier takes one input (the image batch); this model takes "
                              f"{len(inputs)} ({', '.join(i.name for i in inputs)})")
        inp = inputs[0]
        self._input = inp.name
        self._input_shape = list(inp.shape)
        self._input_type = inp.type  # e.g. tensor(float)
        self._fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        unmanifested = _quantized_without_manifest(path)
        self.info = ClassifierInfo(
            name="onnxruntime",
            backend_version=ort.__version__,
            model_file=str(path),
            settings={
                "provider": full,
                "providers_used": self._session.get_providers(),
                "threads": threads if threads is not None else "default (physical cores)",
                "graph_optimization": graph_optimization,
            },
            notes=[unmanifested] if unmanifested else [],
        )

    def classify(self, batch: np.ndarray) -> np.ndarray:
        expected = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}
        want = expected.get(self._input_type)
        if want is not None and batch.dtype != want:
            raise RunnerError(
                f"the model's input is {self._input_type} but the preprocessing gives {batch.dtype}"
            )
        if self._fixed_batch is not None and self._fixed_batch != batch.shape[0]:
            if self._fixed_batch != 1:
                raise RunnerError(f"the model takes batches of exactly {self._fixed_batch}")
            return np.concatenate([self._run(batch[i : i + 1]) for i in range(batch.shape[0])])
        return self._run(batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        fixed = self._input_shape[1:]
        if len(fixed) != batch.ndim - 1 or any(isinstance(d, int) and d != b for d, b in zip(fixed, batch.shape[1:])):
            raise RunnerError(f"the model's input {self._input} has shape {self._input_shape}, the preprocessing "
                              f"gives {list(batch.shape)}: give the model's own preprocessing (--preprocess)")
        (logits,) = self._session.run(None, {self._input: batch})[:1]
        return np.asarray(logits, dtype=np.float32)

    def close(self) -> None:
        self._session = None


QDQ_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "DynamicQuantizeLinear"}


def _quantized_without_manifest(path) -> str:
    """A note when the file holds quantization nodes but no `mobeval quantize` manifest is beside it: nothing
    says which images calibrated it, so nothing checks that this run does not evaluate on them."""
    from pathlib import Path

    from mobeval.vision.quantize.manifest import manifest_path

    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # onnx missing or a file only ONNX Runtime reads: no note rather than a wrong one
        return ""
    count = sum(n.op_type in QDQ_OPS for n in graph.node)
    if not count or manifest_path(Path(path)).is_file():
        return ""
    return (f"{Path(path).name} is a quantized model ({count} quantization nodes) without the manifest `mobeval "
            f"quantize` writes beside it ({manifest_path(Path(path)).name}): its calibration images are unknown, so "
            "this run cannot check that it does not evaluate on them, and no figures against its float model "
            "are computed")
