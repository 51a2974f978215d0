"""What an image-classification run's page adds (mobeval report RUN --html): top-k, per-class top-1, and
SQNR per layer of a quantized model."""

from __future__ import annotations

import plotly.graph_objects as go

from mobeval.board.plots import MAX_SERIES, Plot, error_bars, plot_layout
from mobeval.results.headline import proportion
from mobeval.results.schema import Result


def image_plots(r: Result, slug: str) -> list[Plot]:
    t = r.task
    n = t.get("n_labelled") or 0
    plots = []
    if n:
        ests = [proportion(t.get(k), n, "images") for k in ("top1", "top5")]
        keep = [(k, e) for k, e in zip(("top-1", "top-5"), ests) if e is not None]
        fig = go.Figure(go.Bar(x=[k for k, _ in keep], y=[100 * e.value for _, e in keep],
                               error_y=error_bars([e for _, e in keep], True)))
        plot_layout(fig, f"top-k accuracy ({n} labelled images, 95% Wilson)", "", "accuracy (%)")
        plots.append(Plot(f"{slug}-topk", fig.layout.title.text, fig))
    classes = sorted((t.get("per_class") or {}).items(), key=lambda kv: (kv[1]["top1"], kv[0]))[:40]
    if len(classes) > 1:
        ests = [proportion(c["top1"], c["n"], "images") for _, c in classes]
        fig = go.Figure(go.Bar(x=[f"{k} {c['name']}"[:28] for k, c in classes], y=[100 * e.value for e in ests],
                               error_y=error_bars(ests, True), hovertext=[f"n={c['n']}" for _, c in classes]))
        title = f"top-1 per class (lowest {len(classes)})"
        plot_layout(fig, title, "class", "top-1 (%)", width=1220, xaxis_tickangle=-40)
        plots.append(Plot(f"{slug}-per-class", title, fig))
    quant = t.get("quantization") or {}
    layers = [row for row in quant.get("layers") or [] if not row.get("zero_signal")][:MAX_SERIES * 5]
    if layers:
        kept, keep_as = set(quant.get("kept_layers") or []), quant.get("keep_as") or ""
        marked = [row.get("node") in kept for row in layers]
        fig = go.Figure([go.Bar(x=[row["tensor"][-30:] for row in layers], y=[row["sqnr_db"] for row in layers],
                                name="accumulated", marker_color=["#d62728" if m else "#1f77b4" for m in marked],
                                hovertext=[f"kept at {keep_as}" if m else "" for m in marked]),
                         go.Bar(x=[row["tensor"][-30:] for row in layers], y=[row["qdq_sqnr_db"] for row in layers],
                                name="this layer's Q/DQ")])
        title = f"SQNR per layer (worst {len(layers)})"
        if kept:
            title += f"; red: output of a layer kept at {keep_as} ({sum(marked)} shown of {len(kept)} kept)"
        plot_layout(fig, title, "tensor", "SQNR (dB)", width=1220, barmode="group", xaxis_tickangle=-40)
        plots.append(Plot(f"{slug}-sqnr", title, fig))
    return plots
