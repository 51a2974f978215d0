"""A run of a quantized model (a .onnx file with mobeval's quantization manifest beside it): its
preprocessing and float reference come from the manifest, its calibration images are never
evaluated, and after the items the float model is run on the same images for the quantization
figures (mobeval.vision.quantize.analysis), which the task section stores."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError
from mobeval.vision.models.registry import VisionModel
from mobeval.vision.quantize.manifest import QuantManifest, read_manifest
from mobeval.vision.task.items import ImageItem
from mobeval.vision.task.preprocess import PreprocessSpec

QUANT_ONLY = ("exclude_calibration", "accuracy_target")  # settings that mean something for a quantized model only


@dataclass(frozen=True)
class QuantizedRun:
    path: Path  # the quantized model
    manifest: QuantManifest
    excluded: int  # calibration items dropped from the benchmark's items (--exclude-calibration)

    def model_info(self) -> dict[str, Any]:
        m = self.manifest
        return {"scheme": m.scheme.model_dump(mode="json"), "scheme_label": m.label,
                **({"kept": m.kept.model_dump(mode="json"), "precision": m.precision} if m.kept else {}),
                "float_model_path": m.float_model_path, "float_model_sha256": m.float_model_sha256,
                "float_model_size_bytes": m.float_model_size_bytes, "onnxruntime_version": m.onnxruntime_version,
                "source_model": {k: v for k, v in m.source_model.items() if k != "preprocess"}}

    def data_info(self) -> dict[str, Any]:
        c = self.manifest.calibration
        v = self.manifest.validation
        return {"n": c.n, "bench": c.bench, "ids": c.ids, "ids_sha256": c.ids_sha256,
                "inputs_sha256": c.inputs_sha256, "excluded_from_selection": self.excluded,
                **({"validation_ids": v.ids, "validation_ids_sha256": v.ids_sha256} if v else {})}


def lookup(model_name: str) -> tuple[Path, QuantManifest] | None:
    """The model file and its manifest when --model is a quantized .onnx mobeval made; None otherwise."""
    path = Path(model_name).expanduser()
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return None
    manifest = read_manifest(path)
    return None if manifest is None else (path.resolve(), manifest)


def check_settings(cfg: RunConfig, found: tuple[Path, QuantManifest] | None) -> None:
    if found is not None and cfg.shard is not None:
        # each shard would compare only its own images, and a merge keeps one shard's comparison
        raise MobevalError(f"--shard {cfg.shard}: a quantized model's figures against its float model cover the "
                           "whole selection; run it unsharded (use --limit for a smaller run)")
    if found is None:
        given = [k for k in QUANT_ONLY if k in cfg.model_fields_set and getattr(cfg, k) is not None]
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise MobevalError(f"{flags}: for a quantized model only (a .onnx made by `mobeval quantize`); "
                               f"--model {cfg.model_name} is not one")


def evaluation_items(cfg: RunConfig, items: list[ImageItem], path: Path,
                     manifest: QuantManifest) -> tuple[list[ImageItem], QuantizedRun]:
    """The benchmark's items less the calibration images when --exclude-calibration is given; any
    calibration image left among them is a MobevalError (checked on the items the run evaluates)."""
    from mobeval.vision.quantize.calibration import overlap

    excluded = 0
    if cfg.exclude_calibration:
        found = set(overlap(manifest.held_out(), items))
        excluded = len(found)
        items = [i for i in items if i.id not in found]
        if not items:
            raise MobevalError(f"--bench {cfg.bench}: every image calibrated --model {cfg.model_name}; none is "
                               "left to evaluate")
    return items, QuantizedRun(path, manifest, excluded)


def check_overlap(cfg: RunConfig, run: QuantizedRun, items: list[ImageItem]) -> None:
    from mobeval.vision.quantize.calibration import overlap, overlap_error

    found = overlap(run.manifest.held_out(), items)
    if found:
        raise overlap_error(cfg.model_name, run.manifest.calibration, found, len(items), run.manifest.validation)


def preprocess_of(manifest: QuantManifest) -> PreprocessSpec | None:
    spec = manifest.source_model.get("preprocess")
    return PreprocessSpec.model_validate(spec) if spec else None


def as_quantized(model: VisionModel, run: QuantizedRun) -> VisionModel:
    """The resolved .onnx file named as its float model plus the scheme, with its number of classes."""
    src = run.manifest.source_model
    alias = f"{src.get('alias') or Path(run.manifest.float_model_path).stem}-{run.manifest.scheme.name}"
    if run.manifest.kept:
        alias += f"-{run.manifest.kept.keep_as}x{len(run.manifest.kept.layers)}"
    return replace(model, alias=alias, name=f"{src.get('name') or alias}, {run.manifest.label}",
                   num_classes=int(src.get("num_classes") or model.num_classes))
