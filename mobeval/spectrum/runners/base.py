"""The spectrum-segmenter seam: a capture in, one occupancy score per FFT bin out.

A spectrum runner (registered in mobeval.core.runners.REGISTRY with kinds=("spectrum-segmentation",)) is
constructed as `Runner(model: SegmenterModel, **settings)` and has:

- `info: SegmenterInfo`, what the result records about the runtime;
- `training: TrainingRecord | None`, what its model was trained on (None: not trained), so an
  evaluation on those captures is refused (benchmarks.spectrum.generate.refuse_training_overlap);
- `prepare(capture) -> input`: the model's input made from the capture (for a net, the FFT image of
  features.spectrum_image; for the energy detector, the samples it reads). Timed apart from the model;
- `segment(input) -> scores`: a real float array of features.N_BINS occupancy scores, bin k being the
  fftshifted FFT bin k of the capture's first N_BINS samples (features.bin_frequencies). A bin counts as
  occupied where its score is above the declared threshold (metrics.MetricSettings, 0.5 by default).
  This call alone is the latency mobeval reports;
- optionally `samples_read: int`, how many leading samples of a capture `prepare` reads (the nets and the
  energy detector: the first N_BINS), so a capture in files is read only that far (a long recording is
  not loaded whole); without it, captures come whole;
- optionally `segment_batch(inputs) -> scores` of shape (len(inputs), N_BINS): several prepared captures
  in one call, for the throughput pass at `--batch-sizes` (without it, the pass calls `segment` per capture);
- `close()`.

`SegmenterModel` is what `--model` resolves to, before anything loads (`net_model.resolve_model`): a file a
runtime loads, or, for a detector with no model file (RunnerEntry model "none"), its parameters. A
runner of trained nets (RunnerEntry model "spectrum") takes a bundled alias or a NAME.pt file with its
card (runners.spectrum.net_model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mobeval.spectrum.benchmarks.generate import TrainingRecord
from mobeval.core.hashing import file_sha256, text_sha256
from mobeval.spectrum.task.items import Capture


@dataclass(frozen=True)
class SegmenterInfo:
    name: str  # the runner's registry name
    backend_version: str
    model_file: str  # the file the runtime loaded ("" when there is none)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SegmenterModel:
    """A spectrum model, resolved before it loads."""

    alias: str
    name: str
    origin: str  # where it comes from: a file path, or the module of a built-in detector
    format: str  # "no model file" for a detector that is only parameters
    path: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # a built-in detector's parameters
    training: TrainingRecord | None = None

    def sha256(self) -> str:
        """Of the model file; for a detector without one, of its parameters (canonical JSON)."""
        if self.path is not None:
            return file_sha256(self.path)
        return text_sha256(json.dumps(self.parameters, sort_keys=True))

    def info(self) -> dict[str, Any]:
        """What the result records about the model."""
        return {
            "alias": self.alias, "name": self.name, "source": "builtin" if self.path is None else "file",
            "origin": self.origin, "format": self.format, "path": str(self.path) if self.path else None,
            "remote": False, "size_bytes": self.path.stat().st_size if self.path else None,
            "sha256": self.sha256(), "parameters": self.parameters,
            "no_file_reason": "a built-in detector: parameters only, no model file" if self.path is None else None,
            "trained": self.training is not None,
        }


@runtime_checkable
class SpectrumSegmenter(Protocol):
    info: SegmenterInfo
    training: TrainingRecord | None

    def prepare(self, capture: Capture) -> Any:
        """The model's input for this capture (timed apart from `segment`)."""

    def segment(self, prepared: Any) -> np.ndarray:
        """Occupancy score per FFT bin: a real float array of shape (N_BINS,)."""

    def close(self) -> None:
        """Free the runtime."""
