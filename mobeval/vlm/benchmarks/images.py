"""Image files of image-question benchmarks: checked at load time, so a bad image is an error naming the
file and row before any model loads, not a runner failure halfway through a run."""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from mobeval.text.benchmarks.validate import row_error


def check_image(path: Path, file: str, n: int) -> None:
    """`path` exists and Pillow can decode it; else a DataError naming `file`, row `n` and the image."""
    if not path.is_file():
        raise row_error(file, n, f"image file {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as img:
                img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise row_error(file, n, f"image {path} cannot be decoded ({exc})") from exc


def decode_base64_image(text: str, file: str, n: int) -> tuple[bytes, str]:
    """An image cell of base64 text as (bytes, file extension from its content); DataError naming the
    row when it is not base64 or not an image Pillow can decode."""
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise row_error(file, n, f"image column is not valid base64 ({exc})") from exc
    if not data:
        raise row_error(file, n, "image column is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                fmt = (img.format or "png").lower()
    except UnidentifiedImageError as exc:  # its message names the in-memory buffer ("<_io.BytesIO object at 0x..>")
        raise row_error(file, n, "image column decodes from base64 but is not an image Pillow can read (unknown "
                                 "or corrupt format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise row_error(file, n, f"image column decodes from base64 but is not an image Pillow can read ({exc})") \
            from exc
    return data, {"jpeg": "jpg"}.get(fmt, fmt)


def write_once(folder: Path, name: str, data: bytes) -> Path:
    """`data` at folder/name, written only when absent or different (a cache shared by runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.is_file() or path.read_bytes() != data:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path

