"""The calibration split of an image benchmark: which items calibrate a quantized model, their
preprocessed inputs (the image task's own preprocessing), and the check that they never overlap the
items a run evaluates (by id and by file content)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mobeval.core.errors import MobevalError
from mobeval.core.hashing import stream_sha256
from mobeval.vision.quantize.manifest import CalibrationInfo
from mobeval.vision.task.images import preprocessed
from mobeval.vision.task.items import ImageItem
from mobeval.vision.task.preprocess import PreprocessSpec


def select_calibration(items: Sequence[ImageItem], n: int | None, ids: Sequence[str] | None, seed: int,
                       where: str) -> list[ImageItem]:
    """`ids` named (in that order), or a sample of `n` stratified over classes (seed `seed`)."""
    from mobeval.core.sampling import stratified_sample

    if (n is None) == (not ids):
        raise MobevalError("give the calibration set as a count (--calibration N) or as item ids "
                           "(--calibration-items), not both and not neither")
    if ids:
        by_id = {i.id: i for i in items}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise MobevalError(f"--calibration-items: {', '.join(missing[:5])} not in {where} "
                               f"(ids are paths relative to the benchmark's root, e.g. {items[0].id})")
        if len(set(ids)) != len(ids):
            raise MobevalError("--calibration-items: an id is listed twice")
        return [by_id[i] for i in ids]
    if not 1 <= n <= len(items):
        raise MobevalError(f"--calibration {n}: {where} has {len(items)} items; give 1..{len(items)}")
    return stratified_sample(list(items), n, seed, key=lambda i: str(i.label))


def image_inputs(items: Sequence[ImageItem], spec: PreprocessSpec) -> list[np.ndarray]:
    """Each item decoded and preprocessed exactly as the image task does, with a batch axis."""
    return [preprocessed(spec, i.path)[None] for i in items]


def calibration_info(items: Sequence[ImageItem], spec: PreprocessSpec, bench: str, data: Path | None,
                     seed: int | None) -> dict:
    """CalibrationInfo fields the caller knows (quantize_onnx adds n and the inputs' hash)."""
    return {"ids": [i.id for i in items], "item_sha256": [stream_sha256(i.path) for i in items], "bench": bench,
            "data": str(Path(data).expanduser().resolve()) if data else "", "seed": seed,
            "preprocess_sha256": spec.sha256()}


def overlap(sets: CalibrationInfo | Sequence[CalibrationInfo], items: Sequence[ImageItem]) -> list[str]:
    """Evaluation item ids that calibrated the model (or chose its precision per layer: every set in
    `sets`): the same id in the same benchmark and data, or the same file content anywhere."""
    sets = [sets] if isinstance(sets, CalibrationInfo) else list(sets)
    content = {h for s in sets for h in s.item_sha256}
    same_ids = {i for s in sets for i in s.ids}
    return [i.id for i in items if i.id in same_ids or stream_sha256(i.path) in content]


def overlap_error(model: str, calibration: CalibrationInfo, found: list[str], total: int,
                  validation: CalibrationInfo | None = None) -> MobevalError:
    searched = (f" and {validation.n} validation images of its mixed-precision search" if validation else "")
    return MobevalError(
        f"--model {model}: {len(found)} of the {total} images this run evaluates {'made' if validation else 'calibrated'}"
        f" it ({', '.join(found[:5])}{', ...' if len(found) > 5 else ''}; calibration: {calibration.n} items of "
        f"{calibration.bench or 'unnamed inputs'}{searched}); a model is never evaluated on the images it was made "
        "with: add --exclude-calibration to leave them out, or evaluate on other images")
