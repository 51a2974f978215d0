"""One line of an image-classification run's samples.jsonl: an image, its label and the model's logits.

The logits are kept whole (float32, little-endian, base64), so `mobeval compare` can measure the
prediction flip rate and the logit SQNR between two runners of the same weights from the files alone.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ImageRecord:
    image_id: str  # the image's path relative to the benchmark's root
    label: int | None  # class index; None for an unlabelled image
    class_name: str  # the label's name in the benchmark's class list
    top5: tuple[int, ...]  # class indices, best first (ties: lower index first)
    logits_b64: str  # float32 little-endian logits, base64
    n_classes: int
    preprocess_s: float  # decode + preprocessing of this image, outside the runner
    latency_s: float  # the runner's classify call for this image alone (single stream)
    ordering: int = 0  # one record per image
    warmup: bool = False

    @property
    def item_id(self) -> str:
        return self.image_id

    @property
    def prediction(self) -> int:
        return self.top5[0]

    def logits(self) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.logits_b64), dtype="<f4")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> ImageRecord:
        d = dict(d)
        d["top5"] = tuple(d["top5"])
        return cls(**d)


def encode_logits(row: np.ndarray) -> str:
    return base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode("ascii")
