"""`spectrum-onnxruntime`: a trained spectrum net exported to ONNX in real arithmetic
(models.spectrum.export; the complex layers as real operations on real and imaginary parts), run by
ONNX Runtime on the CPU. prepare() is the FFT image (features.spectrum_image) as two float32 channels,
timed apart; segment() is the session's run alone."""

from __future__ import annotations

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.spectrum.runners.base import SegmenterInfo, SegmenterModel
from mobeval.spectrum.task.features import N_BINS, spectrum_image
from mobeval.spectrum.task.items import Capture

NAME = "spectrum-onnxruntime"


class OnnxRuntimeSegmenter:
    samples_read = N_BINS  # spectrum_image reads the first N_BINS samples of a capture

    def __init__(self, model: SegmenterModel, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise RunnerError("--runner spectrum-onnxruntime needs onnxruntime: pip install 'mobeval[vision]'") from exc
        from mobeval.spectrum.models.export import INPUT, onnx_file

        if threads is not None and threads < 1:
            raise RunnerError(f"--threads {threads}: must be at least 1")
        path = onnx_file(model.path)
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise RunnerError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
        self._input = INPUT
        self.training = model.training
        self.info = SegmenterInfo(
            name=NAME, backend_version=f"onnxruntime {ort.__version__}", model_file=str(path),
            settings={"threads": threads if threads is not None else "default (physical cores)",
                      "provider": "CPUExecutionProvider", "exported_from": str(model.path)},
            notes=[("the net exported to ONNX in real arithmetic (complex layers as real convolutions on the real "
                    "and imaginary halves); score per bin = sigmoid of the (real part of the) output; prepare = FFT "
                    "of the first 16,384 samples, fftshift, / max |.|, as two float32 channels")],
        )

    def prepare(self, capture: Capture) -> np.ndarray:
        img = spectrum_image(capture.iq)
        return np.concatenate([img.real, img.imag])[None].astype(np.float32)

    def segment(self, prepared: np.ndarray) -> np.ndarray:
        (scores,) = self._session.run(None, {self._input: prepared})
        return np.asarray(scores[0], dtype=np.float32)

    def segment_batch(self, prepared: list[np.ndarray]) -> np.ndarray:
        """Scores of several prepared captures in one session run (the export's batch axis is dynamic)."""
        (scores,) = self._session.run(None, {self._input: np.concatenate(prepared)})
        return np.asarray(scores, dtype=np.float32)

    def close(self) -> None:
        self._session = None
