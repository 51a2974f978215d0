"""The bundled `vlm-digits` set: real handwritten digits (scikit-learn's copy of the UCI "Optical
Recognition of Handwritten Digits" test set, 1,797 images of 8x8 pixels, values 0..16) shown to a
vision-language model as PNG images, with the question "Which digit is shown?".

Split, by convention with the training of the `digits-vlm` model: the evaluation pool is the digits
with dataset index i % 5 == 0 (`is_eval_index`), the model's projector trains on the others. The set is
image-disjoint from training, not writer-disjoint (the data does not record writers).

`render_digit` is the one rendering both sides use. scripts/make_vlm_digits.py writes the set (seeded,
deterministic) into mobeval/vlm/benchmarks/digits/: items.jsonl in the local JSONL format, images/, and
card.json (provenance, split, counts, the sha256 of every file). Loading checks the files against the card.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np

from mobeval.vlm.benchmarks.items import VlmSet
from mobeval.core.errors import DataError
from mobeval.core.hashing import stream_sha256

EVAL_MODULUS = 5  # evaluation pool: dataset index % 5 == 0
SCALE = 8  # 8x8 -> 64x64, nearest neighbour: every pixel is the data's, none invented
QUESTION = "Which digit is shown?"
OPEN_QUESTION = "Which digit is shown? Answer with the digit only."
CARD = "card.json"


def is_eval_index(index: int) -> bool:
    """A digits index in the evaluation pool (never trained on)."""
    return index % EVAL_MODULUS == 0


def render_digit(pixels: np.ndarray):
    """An 8x8 digits image (values 0..16, ink high) as a 64x64 grayscale PIL image, dark ink on white."""
    from PIL import Image

    arr = np.asarray(pixels, dtype=np.float64)
    if arr.shape != (8, 8) or arr.min() < 0 or arr.max() > 16:
        raise ValueError(f"expected 8x8 values in 0..16, got shape {arr.shape}")
    grey = (255 - np.rint(arr * 255 / 16)).astype(np.uint8)
    return Image.fromarray(grey, mode="L").resize((8 * SCALE, 8 * SCALE), Image.Resampling.NEAREST)


def folder() -> Path:
    """Where the bundled set lies in the installed package."""
    return Path(str(files("mobeval.vlm.benchmarks").joinpath("digits")))


def load_card(root: Path) -> dict:
    path = root / CARD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the bundled set's card ({exc}); reinstall mobeval or run "
                        "scripts/make_vlm_digits.py") from exc


def check_files(root: Path, card: dict) -> None:
    """Every file the card lists has the sha256 it records (a changed bundled set is not the benchmark)."""
    for rel, digest in card["files_sha256"].items():
        path = root / rel
        if not path.is_file():
            raise DataError(f"{path}: missing from the bundled set (listed in {root / CARD}); reinstall mobeval")
        if stream_sha256(path) != digest:
            raise DataError(f"{path}: differs from the sha256 in {root / CARD}; the bundled set was changed "
                            "(rerun scripts/make_vlm_digits.py, or reinstall mobeval)")


def load_digits_set(root: Path | None = None) -> VlmSet:
    from mobeval.vlm.benchmarks.jsonl import read_items

    root = root or folder()
    card = load_card(root)
    check_files(root, card)
    items = read_items(root / card["items_file"])
    not_eval = [i.id for i in items if not is_eval_index(int(i.id.rsplit("-", 1)[1]))]
    if not_eval:
        raise DataError(f"{root / card['items_file']}: items {', '.join(not_eval[:5])} are not in the evaluation "
                        f"pool (dataset index % {EVAL_MODULUS} == 0)")
    description = {k: card[k] for k in ("name", "license", "split", "rendering", "counts")}
    description["source"] = {k: v for k, v in card["source"].items() if k != "dataset_indices"}  # ids say them
    description["images_sha256"] = card["images_sha256"]
    description["card"] = str(root / CARD)
    return VlmSet(name="vlm-digits", items=tuple(items), sources=[str(root / card["items_file"])],
                  description=description)


def load(options) -> VlmSet:
    """The `vlm-digits` benchmark (takes no options)."""
    return load_digits_set()
