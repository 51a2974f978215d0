"""The image-classifier seam: a batch of preprocessed images in, logits out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ClassifierInfo:
    name: str  # the runner: torch, onnxruntime, litert
    backend_version: str
    model_file: str  # the file the runtime loaded
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the report says beside the runner ("runner note")


@runtime_checkable
class ImageClassifier(Protocol):
    info: ClassifierInfo

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """Logits (batch, classes) as float32 for a batch laid out as the model's preprocessing says."""

    def close(self) -> None:
        """Free the runtime."""
