"""Top-1/top-5/per-class accuracy and run-to-run agreement, on logits worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mobeval.core.errors import MobevalError
from mobeval.vision.task.scoring import agreement, predictions, ranks, score, sqnr_db

LOGITS = np.array([
    [0, 5, 1, 2, 3, 4],  # label 1: ranked 1st            -> top-1 and top-5
    [1, 6, 5, 4, 3, 2],  # label 0: 5 classes above it    -> neither
    [9, 8, 7, 1, 1, 1],  # label 2: ranked 3rd            -> top-5 only
    [2, 9, 0, 0, 0, 0],  # label 1: ranked 1st            -> top-1 and top-5
], dtype=np.float32)
LABELS = [1, 0, 2, 1]


def test_top1_top5_per_class_by_hand():
    s = score(LOGITS, LABELS)
    assert (s.n, s.top1_correct, s.top5_correct) == (4, 2, 3)
    assert s.top1 == 0.5 and s.top5 == 0.75
    assert {c: (v.n, v.top1_correct) for c, v in s.per_class.items()} == {0: (1, 0), 1: (2, 2), 2: (1, 0)}
    assert s.mean_per_class_top1 == pytest.approx((0 + 1 + 0) / 3)


def test_ties_go_to_the_lower_index():
    tied = np.array([[1.0, 1.0, 0.0]])
    assert predictions(tied).tolist() == [0]
    assert ranks(tied, 2).tolist() == [[0, 1]]
    assert score(tied, [0]).top1 == 1.0 and score(tied, [1]).top1 == 0.0


def test_fewer_than_five_classes_top5_is_all():
    assert score(np.array([[0.0, 1.0, 2.0]]), [0]).top5 == 1.0


def test_sqnr_by_hand():
    x = np.array([[3.0, 4.0]])  # ||x|| = 5
    assert sqnr_db(x, np.array([[3.0, 4.5]])) == pytest.approx(20.0)  # 20 log10(5 / 0.5)
    assert sqnr_db(x, np.array([[3.0, 4.05]])) == pytest.approx(40.0, abs=1e-9)
    assert sqnr_db(x, x) == math.inf
    assert sqnr_db(np.zeros((1, 2)), x) == -math.inf


def test_flip_rate_and_agreement():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [5.0, 4.0], [0.0, 0.1]])
    b = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 5.0], [0.0, 0.1]])  # item 2's top-1 flips
    result = agreement(a, b)
    assert (result.n, result.flips, result.flip_rate) == (4, 1, 0.25)
    # ||a|| = sqrt(1 + 4 + 25 + 16 + 0.01), ||a - b|| = sqrt(2)
    assert result.sqnr_db == pytest.approx(20 * math.log10(math.sqrt(46.01) / math.sqrt(2)))


def test_shape_errors():
    with pytest.raises(MobevalError, match="labels of shape"):
        score(LOGITS, [1, 0])
    with pytest.raises(MobevalError, match="outside 0..5"):
        score(LOGITS, [1, 0, 2, 6])
    with pytest.raises(MobevalError, match="non-empty"):
        score(np.zeros((0, 5)), [])
    with pytest.raises(MobevalError, match="shapes"):
        agreement(LOGITS, LOGITS[:2])


def test_the_readme_worked_example():
    """README, "Image classification: the figures, defined": computed by hand there."""
    logits = np.array([[0.1, 0.9, 0.0], [0.5, 0.5, 0.2]])
    s = score(logits, [1, 1])
    assert s.top1 == 0.5 and s.top5 == 1.0  # image 2's tie goes to class 0; with 3 classes top-5 is top-3
    assert ranks(logits, 2).tolist() == [[1, 0], [0, 1]]
    x = np.zeros(100)
    x[0] = 10.0
    e = np.zeros(100)
    e[1] = 0.1
    assert sqnr_db(x, x + e) == pytest.approx(40.0)
