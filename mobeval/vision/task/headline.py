"""What a board shows of an image-classification run (mobeval.results.headline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mobeval.results.headline import Estimate, FigureSpec, KindFigures, proportion


def _top(k: str) -> Callable[[dict[str, Any]], Estimate | None]:
    return lambda task: proportion(task.get(k), task.get("n_labelled"), "images")


FIGURES = KindFigures(
    figures=(FigureSpec("top1", "top-1", _top("top1")), FigureSpec("top5", "top-5", _top("top5"))),
    latency="inference_latency_p50", latency_label="latency p50", speed=("images_per_s",),
    note="top-1 / top-5 over the labelled images, 95% Wilson intervals; latency per image: the runtime's call, "
         "batch 1, preprocessing excluded; speed: 1 / mean latency",
)
