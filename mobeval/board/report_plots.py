"""The plots of one run's page (`mobeval report RUN --html`), from its result and samples.

Every kind gets the board's breakdown plots of its one row (per-field bars for multiple choice, curves over
SNR for spectrum segmentation: plots.breakdown_plots) and the distribution of per-item latency; a kind adds
what its result holds beyond them through its catalog entry's `page_plots` (multiple choice: the letters
picked; images: top-k, per-class top-1, SQNR per layer). A kind without one gets the common plots only.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mobeval.board.figures import KIND_FIGURES
from mobeval.board.plots import Plot, breakdown_plots, plot_layout
from mobeval.board.rank import BenchBoard
from mobeval.results.schema import Result
from mobeval.core.catalog import catalog, load_target
from mobeval.core.kinds import task_kind


def latency_plot(r: Result, records: list, slug: str) -> list[Plot]:
    """Time in the runner per item (warm-up items apart), summed over an item's records."""
    noun = task_kind(r.kind).item_noun
    per_item: dict[str, float] = {}
    warm: set[str] = set()
    for rec in records:
        per_item[rec.item_id] = per_item.get(rec.item_id, 0.0) + rec.latency_s
        if rec.warmup:
            warm.add(rec.item_id)
    if not per_item:
        return []
    fig = go.Figure()
    for label, ids in (("measured", [i for i in per_item if i not in warm]), ("warm-up", sorted(warm))):
        if ids:
            fig.add_trace(go.Histogram(x=[per_item[i] * 1000 for i in ids], name=label, nbinsx=30, opacity=0.8))
    title = f"latency per {noun} ({len(per_item)} {noun}s)"
    plot_layout(fig, title, "ms in the runner", f"{noun}s", barmode="overlay")
    return [Plot(f"{slug}-latency", title, fig)]


def run_plots(r: Result, records: list[Any], board: BenchBoard, slug: str) -> list[Plot]:
    """Every plot of one run's page: the kind's own, its breakdown (as on the board), its latencies."""
    entry = catalog().kinds.get(r.kind)
    own = load_target(entry.page_plots)(r, slug) if entry is not None and entry.page_plots else []
    breakdown = breakdown_plots(board, slug) if r.kind in KIND_FIGURES else []
    return own + breakdown + latency_plot(r, records, slug)
