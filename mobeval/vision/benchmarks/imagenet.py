"""The ILSVRC2012 validation set: a local copy in the ImageFolder layout, or the hub's imagenet-1k.

Locally (`--data DIR`), DIR holds `<wnid>/<file>.JPEG`; the class index of a wnid is its position
among the 1,000 sorted wnids. From the hub, the gated dataset `ILSVRC/imagenet-1k` (validation split,
50,000 images) needs a network and a Hugging Face token that accepted its terms; it is written once
into mobeval's cache in the same layout, so later runs read files like a local copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from mobeval.vision.benchmarks.classes import imagenet_classes
from mobeval.vision.benchmarks.imagefolder import ImageFolderSet, load_imagefolder
from mobeval.core.errors import DataError
from mobeval.core.paths import cache_dir

HUB_ID = "ILSVRC/imagenet-1k"
WAY_OUT = ("give a local copy: --data DIR with the validation images in <wnid>/<file>.JPEG folders "
           "(or --bench imagefolder --data DIR for any labelled tree)")


def load(options) -> ImageFolderSet:
    if options.data is not None:
        found = load_imagefolder(options.data)
        if found.layout != "imagenet":
            raise DataError(f"{options.data}: not the ImageNet layout (every class folder a wnid such as "
                            "n01440764); for another tree use --bench imagefolder")
        return found
    return load_imagefolder(_hub_copy())


def _hub_copy() -> Path:
    """The validation split written under the cache as <wnid>/<index>.JPEG, once."""
    root = cache_dir() / "imagenet-1k-validation"
    done = root / ".complete"
    if done.exists():
        return root
    from mobeval.core.hub import load_hub_dataset

    split = load_hub_dataset(HUB_ID, None, "validation", "it needs a network and HF_TOKEN with the dataset's terms "
                             f"accepted; {WAY_OUT}", token=os.environ.get("HF_TOKEN") or None)
    import datasets  # loaded above

    split = split.cast_column("image", datasets.Image(decode=False))  # the files' own bytes, not re-encoded
    wnids = [c.wnid for c in imagenet_classes()]
    for i, row in enumerate(split):
        folder = root / wnids[int(row["label"])]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (Path(row["image"].get("path") or "").name or f"ILSVRC2012_val_{i + 1:08d}.JPEG")
        if not path.exists():
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(row["image"]["bytes"])
            tmp.replace(path)
    done.write_text(f"{len(split)}\n")
    return root
