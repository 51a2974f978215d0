"""The digits-clip training images: scikit-learn's 8x8 digits rendered as the benchmark renders them, and
shifted by a source pixel for augmentation (both training scripts of digits-clip)."""

from __future__ import annotations

import numpy as np

from mobeval.vlm.benchmarks.digits import render_digit
from mobeval.vlm.models import llava as V


def shifted(img8: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img8)
    h, w = img8.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = img8[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def pixels(images8: np.ndarray, cfg: V.DigitsClipConfig) -> np.ndarray:
    return np.stack([V.pixel_values(render_digit(im), cfg) for im in images8])


def shifted_pixels(images8: np.ndarray, cfg: V.DigitsClipConfig) -> np.ndarray:
    """(9, N, 3, H, W) float16: every image under each of the 9 shifts by -1..1 source pixels (index 4: none)."""
    return np.stack([pixels(np.stack([shifted(im, dy, dx) for im in images8]), cfg).astype(np.float16)
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
