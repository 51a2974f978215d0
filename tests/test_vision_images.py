"""Opening images as real loaders do, on real files written here: CMYK, grayscale, palette, 16-bit,
PNG named .JPEG, alpha; and a clear error naming the file for truncated or non-image files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mobeval.core.errors import DataError
from mobeval.vision.task.images import open_rgb


def _close(img: Image.Image, colour: tuple[int, int, int], tol: int) -> bool:
    pixels = np.asarray(img).reshape(-1, 3).astype(int)
    return bool(np.abs(pixels - np.array(colour)).max() <= tol)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.JPEG"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(path, quality=95)  # pure red in CMYK
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
    img = open_rgb(path)
    assert img.mode == "RGB" and img.size == (64, 48)
    assert _close(img, (255, 0, 0), tol=4)


def test_grayscale_jpeg_becomes_three_equal_channels(tmp_path):
    path = tmp_path / "gray.JPEG"
    Image.new("L", (40, 30), 77).save(path, quality=95)
    img = open_rgb(path)
    assert img.mode == "RGB"
    pixels = np.asarray(img)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    assert _close(img, (77, 77, 77), tol=2)


def test_png_named_jpeg_is_read_by_content(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    path = tmp_path / "n01440764_1.JPEG"
    Image.fromarray(pixels).save(path, format="PNG")
    assert path.read_bytes()[:4] == b"\x89PNG"
    np.testing.assert_array_equal(np.asarray(open_rgb(path)), pixels)  # lossless: exact


def test_palette_png_with_transparency_uses_palette_colours(tmp_path):
    img = Image.new("P", (16, 16), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0, 0, 0] * 254)
    path = tmp_path / "palette.png"
    img.save(path, transparency=0)
    rgb = open_rgb(path)
    assert rgb.mode == "RGB" and _close(rgb, (10, 200, 30), tol=0)


def test_rgba_drops_alpha_like_convert_rgb(tmp_path):
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (8, 8), (200, 100, 50, 0)).save(path)
    assert _close(open_rgb(path), (200, 100, 50), tol=0)


def test_sixteen_bit_grayscale_keeps_its_top_eight_bits(tmp_path):
    wide = np.full((10, 12), 40000, dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(wide).save(path)
    assert _close(open_rgb(path), (40000 >> 8,) * 3, tol=0)  # 156, not clipped to 255


def test_truncated_jpeg_is_an_error_naming_the_file(tmp_path):
    rng = np.random.default_rng(1)
    whole = tmp_path / "whole.JPEG"
    Image.fromarray(rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)).save(whole, quality=90)
    cut = tmp_path / "n01530575_cut.JPEG"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="n01530575_cut.JPEG"):
        open_rgb(cut)


def test_not_an_image_and_missing_file(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(DataError, match=r"notes\.jpg: not an image"):
        open_rgb(text)
    with pytest.raises(DataError, match="missing.png: image file not found"):
        open_rgb(tmp_path / "missing.png")


def test_real_grayscale_photograph():
    skimage_data = pytest.importorskip("mobeval.vision.benchmarks.sample_photos").skimage_data_dir()
    img = open_rgb(skimage_data / "camera.png")  # the 512x512 grayscale 'cameraman'
    assert img.mode == "RGB" and img.size == (512, 512)
