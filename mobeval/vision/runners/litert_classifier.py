"""LiteRT (ai-edge-litert's TFLite interpreter) with its default XNNPACK delegate, or without it."""

from __future__ import annotations

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.vision.models.registry import VisionModel, tflite_file
from mobeval.vision.runners.base import ClassifierInfo


class LiteRtClassifier:
    """One interpreter; a batch runs image by image unless the model's batch axis is dynamic.
    `xnnpack=False` uses the built-in kernels without the default delegate (for comparison)."""

    def __init__(self, model: VisionModel, threads: int | None = None, xnnpack: bool = True):
        try:
            from ai_edge_litert import interpreter as litert
        except ImportError as exc:
            raise RunnerError("ai-edge-litert is not installed: pip install 'mobeval[vision]'") from exc
        if threads is not None and threads < 1:
            raise RunnerError(f"--threads {threads}: must be at least 1")
        path = tflite_file(model)
        resolver = (
            litert.OpResolverType.AUTO if xnnpack else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        try:
            self._interp = litert.Interpreter(
                model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver
            )
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise RunnerError(f"{path}: LiteRT cannot load it ({exc})") from exc
        (inp,), outs = self._interp.get_input_details(), self._interp.get_output_details()
        self._input, self._output = inp, outs[0]
        self._dynamic_batch = int(inp["shape_signature"][0]) == -1
        self._batch = int(inp["shape"][0])
        self.info = ClassifierInfo(
            name="litert",
            backend_version=_version(),
            model_file=str(path),
            settings={"threads": threads, "xnnpack": xnnpack, "input_shape": list(map(int, inp["shape"]))},
        )

    def classify(self, batch: np.ndarray) -> np.ndarray:
        if batch.dtype != self._input["dtype"]:
            raise RunnerError(
                f"the model's input is {np.dtype(self._input['dtype'])} but the preprocessing gives {batch.dtype}"
            )
        expected = tuple(int(d) for d in self._input["shape"][1:])
        if batch.shape[1:] != expected:
            raise RunnerError(
                f"the model takes images of shape {expected} but got {batch.shape[1:]} (check the layout)"
            )
        n = batch.shape[0]
        if n == self._batch:
            return self._run(batch)
        if self._dynamic_batch:
            self._interp.resize_tensor_input(self._input["index"], [n, *expected])
            self._interp.allocate_tensors()
            self._batch = n
            return self._run(batch)
        if self._batch != 1:
            raise RunnerError(f"the model takes batches of exactly {self._batch}")
        return np.concatenate([self._run(batch[i : i + 1]) for i in range(n)])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._input["index"], np.ascontiguousarray(batch))
        self._interp.invoke()
        return np.array(self._interp.get_tensor(self._output["index"]), dtype=np.float32)

    def close(self) -> None:
        self._interp = None


def _version() -> str:
    from mobeval.vision.models.registry import package_version

    return package_version("ai-edge-litert")
