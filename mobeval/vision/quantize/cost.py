"""What quantization costs the task: accuracy of the quantized model against the float model on the
same items (paired bootstrap interval of the difference, exact McNemar test, prediction flip rate),
and an MLPerf-Mobile-style verdict: the quantized model keeps at least `target` of the float accuracy."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from mobeval.measure.paired import compare_paired, prediction_flip_rate

MLPERF_MOBILE_TARGET = 0.98  # MLPerf Mobile's quantized-model rule: at least 98% of FP32 accuracy


class AccuracyCost(BaseModel):
    """Top-1 of the quantized model (b) against the float model (a) over the same labelled items."""

    n: int
    float_top1: float
    quant_top1: float
    difference: float  # quant - float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    only_float: int  # right in the float model only
    only_quant: int
    mcnemar_p: float
    n_predicted: int  # items compared for flips (labelled or not)
    flips: int
    flip_rate: float
    retention: float | None  # quant_top1 / float_top1 (None when the float model gets none right)
    target: float
    verdict: Literal["pass", "fail", "n/a"]


def accuracy_cost(float_logits: np.ndarray, quant_logits: np.ndarray, labels: list[int | None],
                  target: float = MLPERF_MOBILE_TARGET, seed: int = 0) -> AccuracyCost | None:
    """None when no item is labelled (then there is no accuracy to cost, only flips elsewhere)."""
    fp, qp = np.argmax(float_logits, axis=1), np.argmax(quant_logits, axis=1)
    flip_rate = prediction_flip_rate(fp.tolist(), qp.tolist())
    keep = [k for k, y in enumerate(labels) if y is not None]
    if not keep:
        return None
    y = np.array([labels[k] for k in keep])
    a, b = fp[keep] == y, qp[keep] == y
    c = compare_paired(a.tolist(), b.tolist(), seed=seed)
    retention = c.accuracy_b / c.accuracy_a if c.accuracy_a > 0 else None
    verdict = "n/a" if retention is None else ("pass" if retention >= target else "fail")
    return AccuracyCost(
        n=c.n, float_top1=c.accuracy_a, quant_top1=c.accuracy_b, difference=c.difference, ci_low=c.ci_low,
        ci_high=c.ci_high, confidence=c.confidence, resamples=c.resamples, only_float=c.only_a,
        only_quant=c.only_b, mcnemar_p=c.mcnemar_p, n_predicted=len(fp), flips=int(np.sum(fp != qp)),
        flip_rate=flip_rate, retention=retention, target=target, verdict=verdict,
    )
