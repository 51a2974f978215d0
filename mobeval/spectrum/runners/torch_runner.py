"""`spectrum-torch`: a trained spectrum net in PyTorch eager, the complex net on torch's native complex
tensors (complex64). prepare() makes the model input (features.spectrum_image: FFT, fftshift,
normalised; for the real net I and Q as two channels), timed apart; segment() is the net alone."""

from __future__ import annotations

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.spectrum.runners.base import SegmenterInfo, SegmenterModel
from mobeval.spectrum.task.features import N_BINS, spectrum_image
from mobeval.spectrum.task.items import Capture

NAME = "spectrum-torch"


class TorchSegmenter:
    samples_read = N_BINS  # spectrum_image reads the first N_BINS samples of a capture

    def __init__(self, model: SegmenterModel, threads: int | None = None):
        try:
            import torch
        except ImportError as exc:
            raise RunnerError("--runner spectrum-torch needs torch: pip install torch==2.13.0") from exc
        from mobeval.spectrum.models.store import load_net

        if threads is not None:
            if threads < 1:
                raise RunnerError(f"--threads {threads}: must be at least 1")
            torch.set_num_threads(threads)
        self._torch = torch
        self.net = load_net(model.path)
        self.training = model.training
        kind = "complex (native complex64 tensors)" if self.net.complex_valued else "real (I and Q as channels)"
        self.info = SegmenterInfo(
            name=NAME, backend_version=f"torch {torch.__version__}", model_file=str(model.path),
            settings={"threads": threads if threads is not None else f"torch default ({torch.get_num_threads()})",
                      "net": "complex" if self.net.complex_valued else "real", "widths": list(self.net.widths)},
            notes=[(f"{kind} net in eager mode under inference_mode; score per bin = sigmoid of the "
                    "(real part of the) output; prepare = FFT of the first 16,384 samples, fftshift, / max |.|")],
        )

    def prepare(self, capture: Capture):
        from mobeval.spectrum.models.resnet import real_input

        x = self._torch.from_numpy(spectrum_image(capture.iq))[None]
        return x if self.net.complex_valued else real_input(x)

    def segment(self, prepared) -> np.ndarray:
        from mobeval.spectrum.models.resnet import occupancy

        with self._torch.inference_mode():
            return occupancy(self.net(prepared))[0].numpy().astype(np.float32)

    def segment_batch(self, prepared: list) -> np.ndarray:
        """Scores of several prepared captures in one forward pass: (batch, N_BINS)."""
        from mobeval.spectrum.models.resnet import occupancy

        with self._torch.inference_mode():
            return occupancy(self.net(self._torch.cat(prepared))).numpy().astype(np.float32)

    def close(self) -> None:
        self.net = None
