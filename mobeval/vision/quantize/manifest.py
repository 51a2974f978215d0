"""The JSON manifest written beside a quantized model: what it was made from (float model, scheme,
calibration items) and with which ONNX Runtime, so a run of the quantized file knows its float
reference, its preprocessing and which items it must not be evaluated on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mobeval.core.errors import MobevalError
from mobeval.vision.quantize.mixed import KeptLayers
from mobeval.vision.quantize.scheme import QuantScheme

MANIFEST_FORMAT = "mobeval.quantized/1"
MANIFEST_SUFFIX = ".quant.json"


class CalibrationInfo(BaseModel):
    """The calibration set: its item ids (when it came from a benchmark), the sha256 of the ids list,
    of each item's file, and of the preprocessed input tensors (what the cache key uses)."""

    model_config = ConfigDict(extra="forbid")

    n: int
    inputs_sha256: str
    ids: list[str] = []
    ids_sha256: str = ""
    item_sha256: list[str] = []  # sha256 of each item's file, in `ids` order (overlap is checked on content)
    bench: str = ""
    data: str = ""  # the benchmark's --data, if any
    seed: int | None = None  # the sample's seed when the items were drawn, not named
    preprocess_sha256: str = ""


class QuantManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = MANIFEST_FORMAT
    file: str  # the quantized model's file name (beside this manifest)
    sha256: str  # of the quantized model file
    size_bytes: int
    float_model_path: str
    float_model_sha256: str
    float_model_size_bytes: int
    scheme: QuantScheme
    calibration: CalibrationInfo
    onnxruntime_version: str
    providers_checked: list[str]  # execution providers the model was run on after quantization
    created_at: str
    source_model: dict[str, Any] = {}  # what the caller knows of the float model (alias, preprocessing, classes)
    # every quantized layer (node name) -> its precision ("w4a16", "w8a16", "float"); mixed.precision_map
    precision: dict[str, str] = {}
    kept: KeptLayers | None = None  # layers kept at a higher precision than the scheme's (a mixed-precision model)
    # the images a mixed-precision search chose the kept layers on: like calibration images, never evaluated
    validation: CalibrationInfo | None = None
    search: dict[str, Any] = {}  # what the search was asked and found (target, order, validation figures)

    @property
    def label(self) -> str:
        """The scheme's label, plus the layers kept at a higher precision when there are any."""
        if not self.kept or not self.kept.layers:
            return self.scheme.label
        total = len(self.precision) or "?"
        return f"{self.scheme.label}; {len(self.kept.layers)} of {total} layers kept at {self.kept.keep_as}"

    def held_out(self) -> list[CalibrationInfo]:
        """The image sets the model was made with (calibration, and the search's validation images)."""
        return [self.calibration, *([self.validation] if self.validation else [])]


def manifest_path(model_path: Path) -> Path:
    return Path(model_path).with_name(Path(model_path).stem + MANIFEST_SUFFIX)


def write_manifest(model_path: Path, manifest: QuantManifest) -> Path:
    path = manifest_path(model_path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(manifest.model_dump_json(indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(model_path: Path) -> QuantManifest | None:
    """The manifest beside a model file, None when there is none; a damaged one is a MobevalError."""
    path = manifest_path(model_path)
    if not path.is_file():
        return None
    try:
        return QuantManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError, OSError) as exc:
        raise MobevalError(f"{path}: not a quantization manifest mobeval wrote ({exc}); delete it and the "
                           f"model beside it and quantize again") from exc
