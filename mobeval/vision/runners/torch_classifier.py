"""PyTorch eager: the model's own module, with a thread count and an optional channels-last layout."""

from __future__ import annotations

import os

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.vision.models.registry import VisionModel, load_torch
from mobeval.vision.runners.base import ClassifierInfo


class TorchClassifier:
    """Eager-mode inference under torch.inference_mode. `threads` sets torch's intra-op pool
    (process-wide: torch has one); `channels_last` stores weights and inputs NHWC in memory.

    Torch's OpenMP threads spin-wait at the barrier after every operator. With as many threads as
    cores on a machine that is busy with anything else, each of EfficientNet-Lite0's ~150 operators
    waits for a descheduled thread, and an image takes many times as long as on an idle machine. Use
    fewer threads than idle cores, or OMP_WAIT_POLICY=PASSIVE (read when torch starts; recorded in
    `info.settings`). No timing is quoted here: the measurement that showed it was a one-off script.
    """

    def __init__(self, model: VisionModel, threads: int | None = None, channels_last: bool = False):
        import torch

        self._torch = torch
        if threads is not None:
            if threads < 1:
                raise RunnerError(f"--threads {threads}: must be at least 1")
            torch.set_num_threads(threads)
        self.channels_last = channels_last
        module = load_torch(model)
        if channels_last:
            module = module.to(memory_format=torch.channels_last)
        self._module = module
        self._nhwc_input = model.preprocess is not None and model.preprocess.layout == "NHWC"
        self.info = ClassifierInfo(
            name="torch",
            backend_version=torch.__version__,
            model_file=model.origin,
            settings={
                "mode": "eager",
                "threads": torch.get_num_threads(),
                "channels_last": channels_last,
                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
            },
        )

    def classify(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(batch))
        if self._nhwc_input:
            x = x.permute(0, 3, 1, 2)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            out = self._module(x)
        return out.float().numpy()

    def close(self) -> None:
        self._module = None
