"""What a board shows of a vlm run (mobeval.results.headline): its multiple-choice figures as the text kind's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mobeval.results.headline import Estimate, FigureSpec, KindFigures, proportion
from mobeval.text.task.headline import accuracy, consistency


def _vlm_choice(figure: Callable[[dict[str, Any]], Estimate | None]) -> Callable[[dict[str, Any]], Estimate | None]:
    """A multiple-choice figure of a vlm run (the text track's definitions, on its multiple-choice items)."""
    return lambda task: figure(task.get("multiple_choice") or {})


def _vlm_open_match(task: dict[str, Any]) -> Estimate | None:
    o = task.get("open") or {}
    return proportion(o.get("normalised_match"), o.get("n_keyed"), "questions", "normalised match")


def _vlm_per_category(task: dict[str, Any]) -> dict[str, dict[str, Estimate | None]]:
    return {c: {"accuracy": accuracy(b)} for c, b in (task.get("per_category") or {}).items()}


FIGURES = KindFigures(
    figures=(FigureSpec("accuracy", "accuracy", _vlm_choice(accuracy)),
             FigureSpec("consistency", "consistency", _vlm_choice(consistency)),
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
)
