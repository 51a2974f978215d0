"""The bundled offline set: five photographs that ship with scikit-image, labelled by mobeval.

Real photographs (not ImageNet images) with ImageNet-1k labels this project assigned; see
sample_photos.csv for each picture and the classes that would also fit. Five images make a check
that a model and its preprocessing work end to end on any runner offline, not an accuracy figure.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from importlib.resources import files
from pathlib import Path

from mobeval.vision.benchmarks.classes import imagenet_classes, wnid_index
from mobeval.vision.benchmarks.imagefolder import ImageFolderSet
from mobeval.core.errors import DataError
from mobeval.vision.task.items import ImageItem

SOURCE = "scikit-image (skimage/data), labels assigned by mobeval"


def skimage_data_dir() -> Path:
    """skimage/data inside the installed scikit-image, found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the bundled photo set needs scikit-image, which ships the photographs: "
            "pip install 'mobeval[vision]' (or scikit-image==0.26.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_sample_photos() -> ImageFolderSet:
    text = files("mobeval.vision.benchmarks").joinpath("sample_photos.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    root = skimage_data_dir()
    names = {c.index: c.short_name for c in imagenet_classes()}
    items = []
    for row in rows:
        path = root / row["file"]
        if not path.is_file():
            raise DataError(f"{path}: missing from the installed scikit-image (reinstall scikit-image==0.26.0)")
        label = wnid_index()[row["wnid"]]
        items.append(ImageItem(id=row["file"], path=path, label=label, class_name=names[label], source=SOURCE))
    return ImageFolderSet(root=root, layout="labels-file", class_names=names, items=tuple(items))


def load(options) -> ImageFolderSet:
    """The `imagenet-photos` benchmark (takes no options)."""
    return load_sample_photos()
