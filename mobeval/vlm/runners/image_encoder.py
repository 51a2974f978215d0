"""The image encoder part of the hybrid runner: an ONNX file on an ONNX Runtime execution provider.

The file takes an image batch (N, 3, H, W) float32 and returns image-token features (N, tokens, features):
mobeval.vlm.models.encoder's float export, or an integer-quantized (QDQ) copy of it, which takes and gives
the same float tensors. With a projector (`head`), the session runs the file with the projector appended as
ONNX nodes (projector.appended_to), and `encode` gives the language model's input embeddings.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mobeval.core.errors import DataError, RunnerError
from mobeval.vision.task.preprocess import PreprocessSpec
from mobeval.vlm.runners.projector import Projector, appended_to


class OrtEncoder:
    def __init__(self, path: Path, preprocess: PreprocessSpec, provider: str = "cpu", threads: int | None = None,
                 head: Projector | None = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise RunnerError("the hybrid runner's encoder needs onnxruntime: pip install 'mobeval[vision]'") from exc
        from mobeval.vision.runners.onnxruntime_classifier import (
            PROVIDERS,
            provider_name,
        )

        full = provider_name(provider)
        if full not in ort.get_available_providers():
            brings = next(pkg for p, pkg in PROVIDERS.values() if p == full)
            raise RunnerError(f"--provider {provider}: {full} is not in this onnxruntime build (available: "
                              f"{', '.join(ort.get_available_providers())}); it comes with {brings}")
        if threads is not None and threads < 1:
            raise RunnerError(f"--threads {threads}: must be at least 1")
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: graph clean-up warnings are not the user's business
        if threads is not None:
            options.intra_op_num_threads = threads
        providers = [full] if full == "CPUExecutionProvider" else [full, "CPUExecutionProvider"]
        source: str | bytes = str(path)
        if head is not None:
            source = with_head(path, head)
        try:
            self.session = ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise RunnerError(f"{path}: ONNX Runtime cannot load it as an encoder ({exc})") from exc
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1 + (head is not None) or len(outputs[0].shape) != 3:
            raise RunnerError(f"{path}: an encoder takes one image batch and gives one (batch, tokens, features) "
                              f"output; this has inputs {[i.shape for i in inputs]}, outputs {[o.shape for o in outputs]}")
        self.input_name, self.features_name = inputs[0].name, outputs[0].name
        self.outputs = [outputs[-1].name]  # the embeddings with a head, else the features
        self.preprocess = preprocess
        # the output's sizes from one run on a blank image (an export may leave them symbolic); it warms up too
        blank = np.zeros((1, *preprocess.input_shape), np.float32)
        try:
            # one run gives the features and (with a head) the embeddings, warming both up
            probe = self.session.run(list(dict.fromkeys([self.features_name, *self.outputs])),
                                     {self.input_name: blank})[0]
        except Exception as exc:  # a projector for other features fails here, in ORT's MatMul
            raise RunnerError(f"{path}: its image features do not fit the projector, which takes "
                              f"{head.in_features if head is not None else '?'} per image token: parts of different "
                              f"models ({str(exc).splitlines()[0][:200]})") from exc
        self.tokens, self.features = int(probe.shape[1]), int(probe.shape[2])
        self.provider = full
        self.providers_used = self.session.get_providers()
        self.version = ort.__version__
        self.last_run_ms = 0.0  # the bare session.run of the last encode, for the overhead check

    def pixels(self, paths: tuple[Path, ...]) -> np.ndarray:
        """Decode, resize and normalise: (N, 3, H, W) float32."""
        from PIL import Image

        batch = []
        for path in paths:
            try:
                with Image.open(path) as img:
                    batch.append(self.preprocess.apply(img))
            except DataError as exc:  # an image the preprocessing refuses (an extreme aspect ratio)
                raise DataError(f"{path}: {exc}") from exc
            except (OSError, ValueError) as exc:
                raise RunnerError(f"{path}: cannot read the image ({exc})") from exc
        return np.ascontiguousarray(np.stack(batch))

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) -> (N, tokens, n_embd) float32 with a head, else (N, tokens, features)."""
        t0 = time.perf_counter()
        out = self.session.run(self.outputs, {self.input_name: pixels})[0]
        self.last_run_ms = (time.perf_counter() - t0) * 1000
        return np.asarray(out, np.float32)

    def image_features(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) -> (N, tokens, features) float32: the encoder's own output, before any head."""
        return np.asarray(self.session.run([self.features_name], {self.input_name: pixels})[0], np.float32)


def with_head(path: Path, head: Projector) -> bytes:
    """The encoder file with the projector appended, serialised for ONNX Runtime (nothing written to disk)."""
    try:
        import onnx
    except ImportError as exc:
        raise RunnerError("the hybrid runner's encoder needs onnx: pip install 'mobeval[vision]'") from exc
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others for a file that is not a model
        raise RunnerError(f"{path}: not an ONNX model ({str(exc).splitlines()[0][:200]})") from exc
    if len(model.graph.output) != 1:
        raise RunnerError(f"{path}: an encoder gives one (batch, tokens, features) output; this has "
                          f"{len(model.graph.output)}")
    return appended_to(model, head).SerializeToString()
