"""What the board shows of each task kind, read from result.json alone.

`KIND_FIGURES` is the one place that says, per kind, which accuracy figures a board shows (the first is
the headline a benchmark is ranked on), which per-item latency and which speed. Every accuracy figure
carries a 95% interval: the interval the result records where it has one (the spectrum kind's
bootstrap over captures), else Wilson's score interval over the items the proportion counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

Z95 = 1.959963984540054  # NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Estimate:
    """A fraction with its 95% interval; `n` counts `n_unit`; `basis` names which figure it is when a
    kind falls back from one to another (mcq: "debiased" or "original")."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    n_unit: str
    ci_method: str  # "wilson", "bootstrap" (recorded by the kind) or "" (none)
    basis: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Estimate | None:
        return None if d is None else cls(**d)


def wilson(p: float, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval for a proportion p over n trials (exactly 0 / 1 at the ends)."""
    if n <= 0:
        raise ValueError("no trials")
    z2 = Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / denom
    return (0.0 if p <= 0 else max(0.0, centre - half)), (1.0 if p >= 1 else min(1.0, centre + half))


def proportion(p: float | None, n: int | None, unit: str, basis: str = "") -> Estimate | None:
    """A proportion over n items with its Wilson interval (none when n is unknown)."""
    if p is None:
        return None
    if not n:
        return Estimate(p, None, None, 0, unit, "", basis)
    lo, hi = wilson(p, n)
    return Estimate(p, lo, hi, n, unit, "wilson", basis)


def recorded(e: dict[str, Any] | None) -> Estimate | None:
    """A figure the result records with its own interval (the spectrum kind's EstimateModel)."""
    if not e or e.get("value") is None:
        return None
    return Estimate(e["value"], e.get("ci_low"), e.get("ci_high"), e.get("n") or 0, e.get("n_unit", ""),
                    e.get("ci_method") or "")


# --- multiple choice --------------------------------------------------------------------------------

def _mcq_accuracy(block: dict[str, Any]) -> Estimate | None:
    """Debiased accuracy where the run has log-probs under more than one ordering, else the original
    order's: debiasing over a single ordering is the original order's choice."""
    if block.get("accuracy_debiased") is not None and (block.get("orderings_per_question") or 0) > 1:
        return proportion(block["accuracy_debiased"], block.get("n_keyed"), "questions", "debiased")
    return proportion(block.get("accuracy_original"), block.get("n_keyed"), "questions", "original")


def _mcq_consistency(block: dict[str, Any]) -> Estimate | None:
    return proportion(block.get("consistency"), block.get("n_questions"), "questions")


def _mcq_per_field(task: dict[str, Any]) -> dict[str, dict[str, Estimate | None]]:
    return {f: {"accuracy": _mcq_accuracy(b)} for f, b in task.get("per_field", {}).items()}


# --- image classification ---------------------------------------------------------------------------

def _top(k: str) -> Callable[[dict[str, Any]], Estimate | None]:
    return lambda task: proportion(task.get(k), task.get("n_labelled"), "images")


# --- spectrum segmentation --------------------------------------------------------------------------

RECALL_KEY = "recall_at_iou_0.5"


def _overall(key: str) -> Callable[[dict[str, Any]], Estimate | None]:
    return lambda task: recorded(((task.get("overall") or {}).get("figures") or {}).get(key))


def _per_snr(task: dict[str, Any]) -> dict[str, dict[str, Estimate | None]]:
    """SNR levels in dB only ('empty' and 'unknown' groups have no signal to find)."""
    out = {}
    for g, gf in (task.get("per_snr") or {}).items():
        try:
            float(g)
        except ValueError:
            continue
        figs = gf.get("figures", {})
        out[g] = {"mean IoU": recorded(figs.get("mean_iou")), "recall@0.5": recorded(figs.get(RECALL_KEY))}
    return out


# --- image questions (vlm) --------------------------------------------------------------------------

def _vlm_choice(figure: Callable[[dict[str, Any]], Estimate | None]) -> Callable[[dict[str, Any]], Estimate | None]:
    """A multiple-choice figure of a vlm run (the text track's definitions, on its multiple-choice items)."""
    return lambda task: figure(task.get("multiple_choice") or {})


def _vlm_open_match(task: dict[str, Any]) -> Estimate | None:
    o = task.get("open") or {}
    return proportion(o.get("normalised_match"), o.get("n_keyed"), "questions", "normalised match")


def _vlm_per_category(task: dict[str, Any]) -> dict[str, dict[str, Estimate | None]]:
    return {c: {"accuracy": _mcq_accuracy(b)} for c, b in (task.get("per_category") or {}).items()}


@dataclass(frozen=True)
class FigureSpec:
    key: str  # name in the JSON and CSV output
    label: str  # column header
    extract: Callable[[dict[str, Any]], Estimate | None]  # from the result's task section
    percent: bool = True  # shown as a percentage (else as a 0-1 number)


@dataclass(frozen=True)
class KindFigures:
    """What a board shows of one task kind."""

    figures: tuple[FigureSpec, ...]  # the first is the headline: what a benchmark is ranked on
    latency: str  # performance key of the per-item latency p50
    latency_label: str  # its column header
    speed: tuple[str, ...]  # performance keys of the speed shown; the first present is used
    breakdown: Callable[[dict[str, Any]], dict[str, dict[str, Estimate | None]]] | None = None
    breakdown_title: str = ""  # what the breakdown's groups are ("field", "SNR dB")
    note: str = ""  # a footnote on how the figures are obtained
    stages: tuple[tuple[str, str], ...] = ()  # (performance prefix, label): parts of an item's time, in order


KIND_FIGURES: dict[str, KindFigures] = {
    "mcq": KindFigures(
        figures=(FigureSpec("accuracy", "accuracy", lambda t: _mcq_accuracy(t.get("scores", {}))),
                 FigureSpec("consistency", "consistency", lambda t: _mcq_consistency(t.get("scores", {})))),
        latency="question_latency_p50", latency_label="latency p50",
        speed=("prompt_tokens_per_s",),
        breakdown=_mcq_per_field, breakdown_title="field",
        note="accuracy: debiased (each option's log-probability averaged over orderings) where the run has "
             "log-probabilities under 2+ orderings, else under the original order ('orig.'); consistency: same "
             "option under every ordering (n/a with one ordering); 95% Wilson intervals over the questions; latency "
             "per question: all its orderings; speed: prompt tokens / time in the runner",
    ),
    "image-classification": KindFigures(
        figures=(FigureSpec("top1", "top-1", _top("top1")), FigureSpec("top5", "top-5", _top("top5"))),
        latency="inference_latency_p50", latency_label="latency p50", speed=("images_per_s",),
        note="top-1 / top-5 over the labelled images, 95% Wilson intervals; latency per image: the runtime's call, "
             "batch 1, preprocessing excluded; speed: 1 / mean latency",
    ),
    "vlm": KindFigures(
        figures=(FigureSpec("accuracy", "accuracy", _vlm_choice(_mcq_accuracy)),
                 FigureSpec("consistency", "consistency", _vlm_choice(_mcq_consistency)),
                 FigureSpec("open_match", "open match", _vlm_open_match)),
        latency="question_latency_p50", latency_label="latency p50",
        speed=("decode_tokens_per_s", "prefill_tokens_per_s"),
        breakdown=_vlm_per_category, breakdown_title="category",
        note="accuracy and consistency: the multiple-choice questions, as for mcq (debiased where the run has "
             "log-probabilities under 2+ orderings, else the original order); open match: normalised match of the "
             "open questions; 95% Wilson intervals over the questions; latency per question: all its orderings; "
             "speed: decode tokens/s (tokens after the first / time after the first)",
        stages=(("image_preprocess", "image preprocessing"), ("encode", "vision encode"), ("prefill", "prefill"),
                ("decode", "decode")),
    ),
    "spectrum-segmentation": KindFigures(
        figures=(FigureSpec("mean_iou", "mean IoU", _overall("mean_iou"), percent=False),
                 FigureSpec("recall_at_0.5", "recall@0.5", _overall(RECALL_KEY))),
        latency="inference_latency_p50", latency_label="latency p50", speed=("captures_per_s",),
        breakdown=_per_snr, breakdown_title="SNR dB",
        note="mean IoU per signal and recall at IoU 0.5 with the 95% intervals the result records (percentile "
             "bootstrap over captures); latency per capture: the runner's segment call; speed: 1 / mean latency",
    ),
}
