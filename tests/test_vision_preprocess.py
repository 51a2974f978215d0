"""Preprocessing as data: checked pixel for pixel against an independent reference.

The reference below re-implements Pillow's two-pass resampling (triangle / Keys cubic filters,
22-bit fixed-point coefficients, a rounded uint8 between the passes) in NumPy from the algorithm,
not by calling Pillow, so `PreprocessSpec.apply` (which calls Pillow) is checked against a second
code path. They must agree exactly on the resized pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from mobeval.core.errors import MobevalError
from mobeval.vision.task.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PRESETS,
    PreprocessSpec,
    from_timm_config,
    preset,
    stack,
    timm_style,
)

PRECISION_BITS = 32 - 8 - 2


def _triangle(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


def _keys_cubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


FILTERS = {"bilinear": (_triangle, 1.0), "bicubic": (_keys_cubic, 2.0)}


def _weights(in_size: int, out_size: int, interpolation: str) -> np.ndarray:
    """(out_size, in_size) fixed-point weights of one resampling pass."""
    fn, support = FILTERS[interpolation]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support *= filterscale
    w = np.zeros((out_size, in_size), dtype=np.int64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        k = [fn((x - center + 0.5) / filterscale) for x in range(xmin, xmax)]
        total = sum(k)
        for x, v in zip(range(xmin, xmax), k):
            v = v / total if total else 0.0
            w[xx, x] = int(v * (1 << PRECISION_BITS) + (0.5 if v >= 0 else -0.5))
    return w


def _pass(pixels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One pass along axis 0 of an (n, m, 3) uint8 array."""
    # Integer sums below 2**53 are exact in float64, so BLAS does the integer arithmetic.
    n, m, c = pixels.shape
    flat = w.astype(np.float64) @ pixels.reshape(n, m * c).astype(np.float64)
    acc = flat.astype(np.int64).reshape(-1, m, c) + (1 << (PRECISION_BITS - 1))
    return np.clip(acc >> PRECISION_BITS, 0, 255).astype(np.uint8)


def reference_resize(pixels: np.ndarray, width: int, height: int, interpolation: str) -> np.ndarray:
    h, w, _ = pixels.shape
    out = pixels
    if width != w:  # horizontal pass first, as Pillow does
        out = _pass(out.transpose(1, 0, 2), _weights(w, width, interpolation)).transpose(1, 0, 2)
    if height != h:
        out = _pass(out, _weights(h, height, interpolation))
    return out


def reference_input(pixels: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """The spec's steps written out by hand: short-side resize, centre crop, normalise, NCHW."""
    h, w, _ = pixels.shape
    short = spec.resize_size
    new_w, new_h = (short, math.floor(short * h / w)) if w <= h else (math.floor(short * w / h), short)
    resized = reference_resize(pixels, new_w, new_h, spec.interpolation)
    c = spec.crop
    top, left = round((new_h - c) / 2), round((new_w - c) / 2)
    crop = resized[top : top + c, left : left + c].astype(np.float64)
    x = (crop * spec.scale - np.array(spec.mean)) / np.array(spec.std)
    return x.transpose(2, 0, 1)


def _noise(width: int, height: int, seed: int) -> np.ndarray:
    """A photo's worst case for resampling: independent pixels (plus a gradient so it is not flat)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 200, width)[None, :, None] + np.linspace(0, 55, height)[:, None, None]
    noise = rng.integers(-40, 40, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "size, spec",
    [
        ((400, 300), PRESETS["efficientnet-lite0"]),  # landscape, downscale
        ((181, 263), PRESETS["efficientnet-lite0"]),  # portrait, odd sizes, upscale of the short side
        ((301, 257), PRESETS["efficientnet-lite1"]),
        ((333, 500), PRESETS["mobilenetv2_100"]),  # bicubic, ImageNet mean/std, crop_pct 0.875
        ((500, 375), PRESETS["efficientformer_l1"]),  # bicubic, crop_pct 0.95
    ],
)
def test_apply_matches_independent_reference_pixel_for_pixel(tmp_path, size, spec):
    pixels = _noise(*size, seed=size[0])
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)  # a real file, decoded as any image would be
    with Image.open(path) as img:
        got = spec.apply(img)
    want = reference_input(pixels, spec)
    assert got.shape == (3, spec.crop, spec.crop) and got.dtype == np.float32
    # Exact uint8 pixels: one level apart would be 1/255/std >= 0.0078 after normalisation.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_real_photograph_matches_reference():
    skimage_data = pytest.importorskip("mobeval.vision.benchmarks.sample_photos").skimage_data_dir()
    with Image.open(skimage_data / "coffee.png") as img:  # 600x400 RGB photograph
        pixels = np.asarray(img.convert("RGB"))
        got = PRESETS["efficientnet-lite0"].apply(img)
    np.testing.assert_allclose(got, reference_input(pixels, PRESETS["efficientnet-lite0"]), rtol=0, atol=1e-5)


def test_uniform_colour_hand_computed():
    # (x/255 - 0.5)/0.5 of R=255, G=0, B=51 is 1, -1, -0.6 everywhere, whatever the resize does.
    img = Image.new("RGB", (320, 240), (255, 0, 51))
    x = PRESETS["efficientnet-lite0"].apply(img)
    assert x.shape == (3, 224, 224)
    np.testing.assert_allclose(x[:, 0, 0], [1.0, -1.0, -0.6], atol=1e-6)
    assert np.ptp(x.reshape(3, -1), axis=1).max() == 0


def test_sizes_and_crop_offsets_follow_torchvision():
    spec = PRESETS["efficientnet-lite0"]
    assert spec.resize_size == 256
    assert spec.resized_size(500, 375) == (341, 256)  # 256 * 500 / 375 = 341.33, truncated
    assert spec.resized_size(375, 500) == (256, 341)
    # (341 - 224) / 2 = 58.5 rounds half to even: 58, as torchvision's CenterCrop does
    assert spec.crop_box(341, 256) == (58, 16, 282, 240)
    assert timm_style(224, 0.875).resize_size == 256
    assert timm_style(224, 0.95).resize_size == 235  # floor(235.79)


def test_layout_channel_order_and_dtype():
    img = Image.fromarray(_noise(300, 280, seed=1))
    base = PRESETS["efficientnet-lite0"]
    nchw = base.apply(img)
    nhwc_bgr16 = base.model_copy(update={"layout": "NHWC", "channel_order": "BGR", "dtype": "float16"}).apply(img)
    assert nhwc_bgr16.shape == (224, 224, 3) and nhwc_bgr16.dtype == np.float16
    np.testing.assert_allclose(nhwc_bgr16.astype(np.float32), nchw[::-1].transpose(1, 2, 0), atol=1e-3)
    raw = PreprocessSpec(crop=224, resize_short=256, scale=1, dtype="uint8").apply(img)
    assert raw.dtype == np.uint8
    np.testing.assert_allclose((raw.astype(np.float32) / 255 - 0.5) / 0.5, nchw, atol=1e-6)
    batch = stack([nchw, nchw])
    assert batch.shape == (2, 3, 224, 224) and batch.flags["C_CONTIGUOUS"]


def test_hash_is_stable_and_covers_what_changes_the_output():
    lite0 = PRESETS["efficientnet-lite0"]
    assert lite0.sha256() == PreprocessSpec(
        crop=224, resize_short=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    ).sha256()
    # Pinned: a change here means recorded results no longer name the preprocessing they used.
    assert lite0.sha256() == "b0ac180d649c754ea97111c831ba55113a4a40ddc5f89c222314ffe5d09afae5"
    assert lite0.model_copy(update={"source": "elsewhere"}).sha256() == lite0.sha256()
    # The same resize said two ways is the same preprocessing.
    assert timm_style(224, 0.875).sha256() == PreprocessSpec(
        crop=224, resize_short=256, interpolation="bicubic", mean=IMAGENET_MEAN, std=IMAGENET_STD
    ).sha256()
    for change in ({"interpolation": "bicubic"}, {"mean": (0.485, 0.456, 0.406)}, {"layout": "NHWC"},
                   {"resize_short": 257}, {"channel_order": "BGR"}, {"dtype": "float16"}):
        assert lite0.model_copy(update=change).sha256() != lite0.sha256(), change


def test_invalid_specs_are_refused():
    with pytest.raises(ValueError, match="exactly one"):
        PreprocessSpec(crop=224, resize_short=256, crop_fraction=0.875)
    with pytest.raises(ValueError, match="exactly one"):
        PreprocessSpec(crop=224)
    with pytest.raises(ValueError, match="smaller than crop"):
        PreprocessSpec(crop=224, resize_short=200)
    with pytest.raises(ValueError, match="uint8"):
        PreprocessSpec(crop=224, resize_short=256, dtype="uint8")
    with pytest.raises(ValueError):
        PreprocessSpec(crop=224, resize_short=256, layout="CHW")
    with pytest.raises(MobevalError, match="no preprocessing preset"):
        preset("resnet9000")


def test_from_timm_config():
    cfg = {"input_size": (3, 224, 224), "interpolation": "bicubic", "crop_pct": 0.95,
           "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "crop_mode": "center"}
    spec = from_timm_config(cfg)
    assert spec.sha256() == PRESETS["efficientformer_l1"].sha256()
    assert spec.resize_size == 235
    with pytest.raises(MobevalError, match="crop_mode"):
        from_timm_config({**cfg, "crop_mode": "squash"})
    with pytest.raises(MobevalError, match="cannot read"):
        from_timm_config({"interpolation": "bicubic"})
