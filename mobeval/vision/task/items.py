"""One labelled image of an image-classification benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageItem:
    """An image file and its class.

    `id` is stable across machines (a path relative to the benchmark's root); `label` is the class
    index the model's logits are scored against, or None for an unlabelled image; `source` names
    where the image comes from (a folder, a package).
    """

    id: str
    path: Path
    label: int | None
    class_name: str
    source: str
