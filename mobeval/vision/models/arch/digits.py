"""scikit-learn's digits (1,797 8x8 grayscale images, shipped in the sklearn wheel): the fixed split and the
preprocessing the shipped MobileViG digits model was trained and is scored with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mobeval.core.errors import DataError, ModelNotAvailable
from mobeval.vision.models.arch.mobilevig import MobileViG, mobilevig_digits

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS = WEIGHTS_DIR / "mobilevig_digits.pt"
SIDECAR = WEIGHTS_DIR / "mobilevig_digits.json"

TEST_SIZE = 500
SPLIT_SEED = 0
INPUT_SIZE = 32
SPLIT_RULE = (f"sklearn.model_selection.train_test_split(indices of load_digits(), test_size={TEST_SIZE}, "
              f"stratify=target, random_state={SPLIT_SEED}, shuffle=True): 1297 train / 500 test")
PREPROCESSING = (f"pixels / 16 (0..1), then (x - 0.5) / 0.5; 8x8 upsampled to {INPUT_SIZE}x{INPUT_SIZE} with "
                 "torch.nn.functional.interpolate(mode='bilinear', align_corners=False)")


MAX_SHIFT = 1  # training augmentation: random translation of the 8x8 digit by up to this many pixels


def random_shift(images: torch.Tensor, gen: torch.Generator, max_shift: int = MAX_SHIFT) -> torch.Tensor:
    """Translate each (C, 8, 8) image by an integer offset in [-max_shift, max_shift]^2 (zero fill)."""
    n, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=gen)
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


@dataclass(frozen=True)
class DigitsSplit:
    """Images (N, 1, 8, 8) float32 in 0..16, labels (N,) int64, and the dataset indices of each half."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    train_idx: np.ndarray
    test_idx: np.ndarray

    def test_indices_sha256(self) -> str:
        """Fingerprint of the held-out indices, to detect a split that changed (e.g. another sklearn)."""
        return hashlib.sha256(np.asarray(self.test_idx, dtype="<i8").tobytes()).hexdigest()


def load_split() -> DigitsSplit:
    """The fixed stratified 1,297 / 500 split of sklearn's digits."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise DataError("the digits data needs scikit-learn: pip install scikit-learn==1.9.1") from e
    data = load_digits()
    images = np.asarray(data.images, dtype=np.float32)
    target = np.asarray(data.target, dtype=np.int64)
    train_idx, test_idx = train_test_split(np.arange(len(target)), test_size=TEST_SIZE, stratify=target,
                                           random_state=SPLIT_SEED, shuffle=True)

    def pick(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(images[idx]).unsqueeze(1), torch.from_numpy(target[idx])

    (tr_x, tr_y), (te_x, te_y) = pick(train_idx), pick(test_idx)
    return DigitsSplit(tr_x, tr_y, te_x, te_y, train_idx, test_idx)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, 8, 8) raw digits (0..16) -> (N, 1, 32, 32) normalised model input."""
    x = (images / 16.0 - 0.5) / 0.5
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


@torch.no_grad()
def top1(model: MobileViG, images: torch.Tensor, labels: torch.Tensor, batch: int = 250) -> float:
    """Top-1 accuracy (0..1) of `model` in eval mode on raw digits."""
    model.eval()
    correct = 0
    for i in range(0, len(labels), batch):
        logits = model(preprocess(images[i:i + batch]))
        correct += int((logits.argmax(dim=1) == labels[i:i + batch]).sum())
    return correct / len(labels)


def load_trained(weights: Path = WEIGHTS) -> MobileViG:
    """The shipped digits model, trained by scripts/train_mobilevig_digits.py, in eval mode."""
    if not weights.is_file():
        raise ModelNotAvailable(f"{weights} is missing: run python scripts/train_mobilevig_digits.py to train it")
    model = mobilevig_digits()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def read_sidecar(path: Path = SIDECAR) -> dict:
    """The training record written beside the weights."""
    if not path.is_file():
        raise ModelNotAvailable(f"{path} is missing: run python scripts/train_mobilevig_digits.py")
    return json.loads(path.read_text())
