"""Opening an image file the way the common evaluation loaders (torchvision's pil_loader, timm) do.

The format is read from the file's content, not its name (a PNG named .JPEG opens as a PNG);
CMYK, grayscale, palette and alpha images are converted to RGB with Pillow's `convert("RGB")`, as
those loaders do (alpha is dropped, not composited); EXIF orientation is not applied (ImageNet
evaluation does not). A truncated or undecodable file is a DataError naming it, never a silently
grey-padded image.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mobeval.core.errors import DataError

# 16-bit grayscale (a 16-bit PNG opens as one of these): convert("RGB") clips values above 255
# instead of scaling, so the top 8 bits are kept first.
_WIDE_GRAY = ("I;16", "I;16B", "I;16L", "I")


def open_rgb(path: str | Path) -> Image.Image:
    """The fully decoded RGB image in `path`; DataError naming the file if it cannot be decoded."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns on palette images with transparency; the conversion below is the answer.
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as img:
                img.load()  # decode now: a truncated file fails here, not later in a resize
                return _to_rgb(img)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: image file not found") from exc
    except UnidentifiedImageError as exc:
        raise DataError(f"{path}: not an image Pillow can read (unknown or corrupt format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot decode image ({exc})") from exc


def preprocessed(spec, path: str | Path) -> np.ndarray:
    """The model input of the image in `path` under a PreprocessSpec; every DataError names the file."""
    img = open_rgb(path)
    try:
        return spec.apply(img)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img.copy()
    if img.mode in _WIDE_GRAY:
        wide = np.asarray(img).astype(np.int64)
        img = Image.fromarray((np.clip(wide, 0, 65535) >> 8).astype(np.uint8), mode="L")
    return img.convert("RGB")
