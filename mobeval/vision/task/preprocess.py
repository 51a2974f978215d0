"""Preprocessing as data: what is done to an image before a classifier sees it, and its hash.

The steps are those of the torchvision/timm evaluation transform, in this order: convert to RGB,
resize so the short side is `resize_short` (the long side is truncated, as torchvision does),
centre-crop `crop` x `crop` (offsets rounded as torchvision's CenterCrop), multiply by `scale`,
subtract `mean` and divide by `std` per channel, then reorder channels, lay out and cast. Resizing
is Pillow's (antialiased when downscaling), which is what torchvision does on a PIL image.

Small differences here move top-1 by a point or more, so a result records the spec and its sha256.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mobeval.core.errors import DataError, MobevalError

# the most pixels an image may have after its resize (a 256 x 256 crop is 65,536; a 4:1 panorama at 256 is 262,144)
MAX_RESIZED_PIXELS = 50_000_000

Interpolation = Literal["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"]

_PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PreprocessSpec(BaseModel):
    """Everything that turns a decoded image into a model's input tensor (one image, no batch axis)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crop: int = Field(gt=0, description="side of the square centre crop, the model's input size")
    resize_short: int | None = Field(default=None, gt=0, description="short side after resizing")
    crop_fraction: float | None = Field(
        default=None, gt=0, le=1, description="timm's crop_pct: resize_short = floor(crop / crop_fraction)"
    )
    interpolation: Interpolation = "bilinear"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    dtype: Literal["float32", "float16", "uint8"] = "float32"
    # Where the values come from; documentation only, not part of the hash.
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> PreprocessSpec:
        if (self.resize_short is None) == (self.crop_fraction is None):
            raise ValueError("give exactly one of resize_short and crop_fraction")
        if self.resize_size < self.crop:
            raise ValueError(f"resize_short {self.resize_size} is smaller than crop {self.crop}")
        if any(s == 0 for s in self.std):
            raise ValueError("std must not contain 0")
        if self.dtype == "uint8" and (self.scale != 1 or self.mean != (0, 0, 0) or self.std != (1, 1, 1)):
            raise ValueError("uint8 input means raw pixels: scale 1, mean 0, std 1")
        return self

    @property
    def resize_size(self) -> int:
        """The short side after resizing (timm's floor(crop / crop_pct) when given as a fraction)."""
        if self.resize_short is not None:
            return self.resize_short
        return math.floor(self.crop / self.crop_fraction)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c = self.crop
        return (3, c, c) if self.layout == "NCHW" else (c, c, 3)

    def canonical(self) -> dict[str, Any]:
        """The fields that change the output, with the resize resolved: what the hash covers."""
        data = self.model_dump(exclude={"source", "resize_short", "crop_fraction"})
        data["resize_short"] = self.resize_size
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    def sha256(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after the short-side resize; the long side truncated like torchvision."""
        s = self.resize_size
        if width <= height:
            return s, int(s * height / width)
        return int(s * width / height), s

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the centre crop in an image of this size."""
        c = self.crop
        top = round((height - c) / 2.0)
        left = round((width - c) / 2.0)
        return left, top, left + c, top + c

    def apply(self, image: Image.Image) -> np.ndarray:
        """The model input for one decoded image: shape `input_shape`, dtype `dtype`. An image whose resize
        would be enormous (a 1 x 30000 strip made 256 x 7.7M) is a DataError, not gigabytes of memory."""
        size = self.resized_size(*image.size)
        if size[0] * size[1] > MAX_RESIZED_PIXELS:
            raise DataError(f"a {image.size[0]}x{image.size[1]} image would be resized to {size[0]}x{size[1]} "
                            f"(short side {self.resize_size}): an aspect ratio this extreme is not a photograph")
        img = image if image.mode == "RGB" else image.convert("RGB")
        if size != img.size:
            img = img.resize(size, resample=_PIL_FILTERS[self.interpolation])
        img = img.crop(self.crop_box(*img.size))
        pixels = np.asarray(img, dtype=np.uint8)
        if self.dtype == "uint8":
            x = pixels
        else:
            x = pixels.astype(np.float32) * np.float32(self.scale)
            x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.channel_order == "BGR":
            x = x[..., ::-1]
        if self.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x, dtype=np.dtype(self.dtype))


def stack(inputs: Sequence[np.ndarray]) -> np.ndarray:
    """A batch (leading axis) from per-image inputs of one spec."""
    return np.ascontiguousarray(np.stack(inputs))


def efficientnet_lite(size: int) -> PreprocessSpec:
    """EfficientNet-Lite as trained (TF reference): RGB in [-1, 1], short side size + 32 (bilinear),
    centre crop `size`. ImageNet mean/std is wrong for these weights."""
    return PreprocessSpec(
        crop=size,
        resize_short=size + 32,
        interpolation="bilinear",
        scale=1 / 255,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        source=(
            "EfficientNet-Lite (tensorflow/tpu efficientnet/lite): mean 127/std 128 on 0-255 "
            f"pixels, taken as (x/255-0.5)/0.5; crop {size} from short side {size + 32}"
        ),
    )


def timm_style(
    size: int = 224,
    crop_pct: float = 0.875,
    interpolation: Interpolation = "bicubic",
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    source: str = "timm default",
) -> PreprocessSpec:
    """timm's eval transform: short side floor(size / crop_pct), centre crop, mean/std."""
    return PreprocessSpec(
        crop=size, crop_fraction=crop_pct, interpolation=interpolation, mean=mean, std=std, source=source
    )


def from_timm_config(cfg: dict[str, Any], source: str = "timm pretrained_cfg") -> PreprocessSpec:
    """The spec a timm model's pretrained config (input_size, interpolation, mean, std, crop_pct) says."""
    try:
        channels, height, width = cfg["input_size"]
        if channels != 3 or height != width:
            raise MobevalError(f"{source}: input_size {cfg['input_size']} is not a square RGB input")
        if cfg.get("crop_mode", "center") != "center":
            raise MobevalError(f"{source}: crop_mode {cfg['crop_mode']!r} is not supported (only 'center')")
        return timm_style(
            size=int(height),
            crop_pct=float(cfg.get("crop_pct", 0.875)),
            interpolation=cfg.get("interpolation", "bilinear"),
            mean=tuple(cfg.get("mean", IMAGENET_MEAN)),
            std=tuple(cfg.get("std", IMAGENET_STD)),
            source=source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MobevalError(f"{source}: cannot read preprocessing from it ({exc})") from exc


# timm's pretrained configs for the mobile classifiers of the vision track (timm 1.0 default tags).
PRESETS: dict[str, PreprocessSpec] = {
    "efficientnet-lite0": efficientnet_lite(224),
    "efficientnet-lite1": efficientnet_lite(240),
    "efficientnet-lite2": efficientnet_lite(260),
    "mobilenetv2_100": timm_style(source="timm mobilenetv2_100.ra_in1k"),
    "mobilenetv3_large_100": timm_style(source="timm mobilenetv3_large_100.ra_in1k"),
    "mobilenetv3_small_100": timm_style(source="timm mobilenetv3_small_100.lamb_in1k"),
    "efficientformer_l1": timm_style(crop_pct=0.95, source="timm efficientformer_l1.snap_dist_in1k"),
}


def preset(name: str) -> PreprocessSpec:
    if name not in PRESETS:
        raise MobevalError(f"no preprocessing preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def load_spec(value: str) -> PreprocessSpec:
    """`--preprocess`: a preset name, or a JSON file of PreprocessSpec fields."""
    if value in PRESETS:
        return PRESETS[value]
    path = Path(value).expanduser()
    if not path.is_file():
        raise MobevalError(f"--preprocess {value}: neither a preset ({', '.join(sorted(PRESETS))}) nor a JSON file")
    try:
        return PreprocessSpec.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MobevalError(f"--preprocess {path}: not a preprocessing spec ({exc})") from exc
