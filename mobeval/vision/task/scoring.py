"""Scores from logits: top-1, top-5 and per-class accuracy; agreement between two runs of one model.

Ranking is by logit, highest first; ties go to the lower class index (a stable sort), so the top-1
prediction is always `argmax` and top-k never counts more than k classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mobeval.core.errors import MobevalError


@dataclass(frozen=True)
class ClassScore:
    n: int
    top1_correct: int

    @property
    def top1(self) -> float:
        return self.top1_correct / self.n


@dataclass(frozen=True)
class ClassificationScores:
    n: int
    top1_correct: int
    top5_correct: int
    per_class: dict[int, ClassScore]

    @property
    def top1(self) -> float:
        return self.top1_correct / self.n

    @property
    def top5(self) -> float:
        return self.top5_correct / self.n

    @property
    def mean_per_class_top1(self) -> float:
        """Top-1 averaged over classes (balanced accuracy), not over images."""
        return sum(c.top1 for c in self.per_class.values()) / len(self.per_class)


@dataclass(frozen=True)
class Agreement:
    """How far run B's logits are from run A's (the reference) on the same items."""

    n: int
    flips: int
    sqnr_db: float  # +inf when identical

    @property
    def flip_rate(self) -> float:
        return self.flips / self.n


def _as_logits(logits: np.ndarray, what: str = "logits") -> np.ndarray:
    arr = np.asarray(logits)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MobevalError(f"{what}: expected a non-empty (items, classes) array, got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def ranks(logits: np.ndarray, k: int) -> np.ndarray:
    """The k highest-scoring class indices of each row, best first (ties: lower index first)."""
    arr = _as_logits(logits)
    return np.argsort(-arr, axis=1, kind="stable")[:, :k]


def predictions(logits: np.ndarray) -> np.ndarray:
    return np.argmax(_as_logits(logits), axis=1)


def score(logits: np.ndarray, labels: np.ndarray | list[int]) -> ClassificationScores:
    """Top-1, top-5 and per-class top-1 of `logits` (items x classes) against class indices."""
    arr = _as_logits(logits)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (arr.shape[0],):
        raise MobevalError(f"{arr.shape[0]} rows of logits but labels of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= arr.shape[1]:
        raise MobevalError(f"a label is outside 0..{arr.shape[1] - 1} (the model's classes)")
    top = ranks(arr, min(5, arr.shape[1]))
    hit1 = top[:, 0] == labels
    hit5 = (top == labels[:, None]).any(axis=1)
    per_class = {
        int(c): ClassScore(n=int((labels == c).sum()), top1_correct=int(hit1[labels == c].sum()))
        for c in np.unique(labels)
    }
    return ClassificationScores(
        n=len(labels), top1_correct=int(hit1.sum()), top5_correct=int(hit5.sum()), per_class=per_class
    )


def sqnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """20 log10(||x|| / ||x - y||) over all values: the signal-to-quantisation-noise ratio of y."""
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(other, dtype=np.float64)
    if x.shape != y.shape:
        raise MobevalError(f"cannot compare logits of shapes {x.shape} and {y.shape}")
    noise = float(np.linalg.norm(x - y))
    signal = float(np.linalg.norm(x))
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 20.0 * math.log10(signal / noise)


def agreement(reference: np.ndarray, other: np.ndarray) -> Agreement:
    """Prediction flip rate (top-1 differs) and logit SQNR of `other` against `reference`."""
    a, b = _as_logits(reference, "reference logits"), _as_logits(other, "other logits")
    if a.shape != b.shape:
        raise MobevalError(f"cannot compare logits of shapes {a.shape} and {b.shape}")
    flips = int((predictions(a) != predictions(b)).sum())
    return Agreement(n=a.shape[0], flips=flips, sqnr_db=sqnr_db(a, b))
