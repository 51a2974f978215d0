"""The ImageNet-1k class list, shipped with mobeval (see imagenet_classes.csv for its source)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class ImageNetClass:
    index: int
    wnid: str
    name: str  # WordNet synonyms, comma-separated, as ILSVRC2012 spells them

    @property
    def short_name(self) -> str:
        return self.name.split(",")[0]


@cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1,000 classes in index order (index = position of the wnid in sorted order)."""
    text = files("mobeval.vision.benchmarks").joinpath("imagenet_classes.csv").read_text(encoding="utf-8")
    lines = [line for line in io.StringIO(text) if not line.startswith("#")]
    classes = tuple(
        ImageNetClass(index=int(row["index"]), wnid=row["wnid"], name=row["name"])
        for row in csv.DictReader(lines)
    )
    assert [c.index for c in classes] == list(range(1000)), "imagenet_classes.csv is out of order"
    return classes


@cache
def wnid_index() -> dict[str, int]:
    return {c.wnid: c.index for c in imagenet_classes()}
