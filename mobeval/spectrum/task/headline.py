"""What a board shows of a spectrum-segmentation run (mobeval.results.headline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mobeval.results.headline import Estimate, FigureSpec, KindFigures, recorded


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


FIGURES = KindFigures(
    figures=(FigureSpec("mean_iou", "mean IoU", _overall("mean_iou"), percent=False),
             FigureSpec("recall_at_0.5", "recall@0.5", _overall(RECALL_KEY))),
    latency="inference_latency_p50", latency_label="latency p50", speed=("captures_per_s",),
    breakdown=_per_snr, breakdown_title="SNR dB",
    note="mean IoU per signal and recall at IoU 0.5 with the 95% intervals the result records (percentile "
         "bootstrap over captures); latency per capture: the runner's segment call; speed: 1 / mean latency",
)
