"""The plots of one run's page (`mobeval report RUN --html`), from its result and samples.

Every kind gets the board's breakdown plots of its one row (per-field bars for multiple choice, curves over
SNR for spectrum segmentation: plots.breakdown_plots) and the distribution of per-item latency; `KIND_PLOTS`
adds, per kind, what its result holds beyond them: the letters a multiple-choice model picks against what a
position-blind model would, top-1/top-5 and per-class top-1 of an image classifier with SQNR per layer of a
quantized one. A kind without an entry gets the common plots only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

from mobeval.board.figures import KIND_FIGURES, proportion
from mobeval.board.plots import MAX_SERIES, Plot, _errors, _layout, breakdown_plots
from mobeval.board.rank import BenchBoard
from mobeval.results.schema import Result
from mobeval.tasks import task_kind


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
    _layout(fig, title, "ms in the runner", f"{noun}s", barmode="overlay")
    return [Plot(f"{slug}-latency", title, fig)]


def _mcq_letters(r: Result, slug: str) -> list[Plot]:
    scores = r.task.get("scores", {})
    share, expected = scores.get("letter_share") or {}, scores.get("letter_expected") or {}
    if not share:
        return []
    letters = list(share)
    fig = go.Figure([go.Bar(x=letters, y=[100 * share[k] for k in letters], name="chosen"),
                     go.Bar(x=letters, y=[100 * expected.get(k, 0) for k in letters], name="position-blind model")])
    bias = scores.get("position_bias")
    title = "letter chosen" + ("" if bias is None else f" (position bias {bias:.2f})")
    _layout(fig, title, "letter (position shown)", "% of valid answers", barmode="group")
    return [Plot(f"{slug}-letters", title, fig)]


def _image_plots(r: Result, slug: str) -> list[Plot]:
    t = r.task
    n = t.get("n_labelled") or 0
    plots = []
    if n:
        ests = [proportion(t.get(k), n, "images") for k in ("top1", "top5")]
        keep = [(k, e) for k, e in zip(("top-1", "top-5"), ests) if e is not None]
        fig = go.Figure(go.Bar(x=[k for k, _ in keep], y=[100 * e.value for _, e in keep],
                               error_y=_errors([e for _, e in keep], True)))
        _layout(fig, f"top-k accuracy ({n} labelled images, 95% Wilson)", "", "accuracy (%)")
        plots.append(Plot(f"{slug}-topk", fig.layout.title.text, fig))
    classes = sorted((t.get("per_class") or {}).items(), key=lambda kv: (kv[1]["top1"], kv[0]))[:40]
    if len(classes) > 1:
        ests = [proportion(c["top1"], c["n"], "images") for _, c in classes]
        fig = go.Figure(go.Bar(x=[f"{k} {c['name']}"[:28] for k, c in classes], y=[100 * e.value for e in ests],
                               error_y=_errors(ests, True), hovertext=[f"n={c['n']}" for _, c in classes]))
        title = f"top-1 per class (lowest {len(classes)})"
        _layout(fig, title, "class", "top-1 (%)", width=1220, xaxis_tickangle=-40)
        plots.append(Plot(f"{slug}-per-class", title, fig))
    layers = ((t.get("quantization") or {}).get("layers")) or []
    layers = [row for row in layers if not row.get("zero_signal")][:MAX_SERIES * 5]
    if layers:
        fig = go.Figure([go.Bar(x=[row["tensor"][-30:] for row in layers], y=[row["sqnr_db"] for row in layers],
                                name="accumulated"),
                         go.Bar(x=[row["tensor"][-30:] for row in layers], y=[row["qdq_sqnr_db"] for row in layers],
                                name="this layer's Q/DQ")])
        title = f"SQNR per layer (worst {len(layers)})"
        _layout(fig, title, "tensor", "SQNR (dB)", width=1220, barmode="group", xaxis_tickangle=-40)
        plots.append(Plot(f"{slug}-sqnr", title, fig))
    return plots


KIND_PLOTS: dict[str, Callable[[Result, str], list[Plot]]] = {
    "mcq": _mcq_letters,
    "image-classification": _image_plots,
}


def run_plots(r: Result, records: list[Any], board: BenchBoard, slug: str) -> list[Plot]:
    """Every plot of one run's page: the kind's own, its breakdown (as on the board), its latencies."""
    own = KIND_PLOTS.get(r.kind)
    breakdown = breakdown_plots(board, slug) if r.kind in KIND_FIGURES else []
    return (own(r, slug) if own else []) + breakdown + latency_plot(r, records, slug)
