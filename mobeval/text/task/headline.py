"""What a board shows of a multiple-choice run (mobeval.results.headline)."""

from __future__ import annotations

from typing import Any

from mobeval.results.headline import Estimate, FigureSpec, KindFigures, proportion


def accuracy(block: dict[str, Any]) -> Estimate | None:
    """Debiased accuracy where the run has log-probs under more than one ordering, else the original
    order's: debiasing over a single ordering is the original order's choice."""
    if block.get("accuracy_debiased") is not None and (block.get("orderings_per_question") or 0) > 1:
        return proportion(block["accuracy_debiased"], block.get("n_keyed"), "questions", "debiased")
    return proportion(block.get("accuracy_original"), block.get("n_keyed"), "questions", "original")


def consistency(block: dict[str, Any]) -> Estimate | None:
    return proportion(block.get("consistency"), block.get("n_questions"), "questions")


def per_field(task: dict[str, Any]) -> dict[str, dict[str, Estimate | None]]:
    return {f: {"accuracy": accuracy(b)} for f, b in task.get("per_field", {}).items()}


FIGURES = KindFigures(
    figures=(FigureSpec("accuracy", "accuracy", lambda t: accuracy(t.get("scores", {}))),
             FigureSpec("consistency", "consistency", lambda t: consistency(t.get("scores", {})))),
    latency="question_latency_p50", latency_label="latency p50",
    speed=("prompt_tokens_per_s",),
    breakdown=per_field, breakdown_title="field",
    lm_eval=(FigureSpec("acc", "accuracy, original order", lambda t: proportion(
        t.get("scores", {}).get("accuracy_original"), t.get("scores", {}).get("n_keyed"), "questions",
        "original")),),
    note="accuracy: debiased (each option's log-probability averaged over orderings) where the run has "
         "log-probabilities under 2+ orderings, else under the original order ('orig.'); consistency: same "
         "option under every ordering (n/a with one ordering); 95% Wilson intervals over the questions; latency "
         "per question: all its orderings; speed: prompt tokens / time in the runner",
)
