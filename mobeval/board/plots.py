"""The board's plots (Plotly figures): per benchmark, the Pareto front of the headline figure against
latency, peak memory, model size and energy, the kind's breakdown (per-field bars for multiple
choice, curves over SNR for spectrum segmentation), and where an item's time goes (vlm: stacked parts)."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from mobeval.board.figures import KIND_FIGURES, Estimate
from mobeval.board.rank import PARETO_AXES, BenchBoard, RankedRow
from mobeval.board.render import estimate_text, status_text

MAX_SERIES = 12  # runs drawn in a breakdown plot (the first ones on the board)


@dataclass
class Plot:
    id: str  # the div id on the page
    title: str
    figure: go.Figure


def _name(r: RankedRow) -> str:
    e = r.entry
    return f"{'#' + str(r.rank) if r.rank else '—'} {e.model} / {e.runner} ({e.run_id})"


def _scale(percent: bool):
    return (lambda x: None if x is None else 100 * x) if percent else (lambda x: x)


def error_bars(ests: list[Estimate | None], percent: bool) -> dict:
    s = _scale(percent)
    plus = [None if e is None or e.ci_high is None else s(e.ci_high) - s(e.value) for e in ests]
    minus = [None if e is None or e.ci_low is None else s(e.value) - s(e.ci_low) for e in ests]
    return dict(type="data", array=plus, arrayminus=minus, visible=True)


def plot_layout(fig: go.Figure, title: str, x: str, y: str, width: int = 600, height: int = 420, **kw) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white", height=height, width=width,
                      margin=dict(l=60, r=20, t=50, b=60), legend=dict(font=dict(size=10)), **kw)
    return fig


def pareto_plots(b: BenchBoard, slug: str) -> list[Plot]:
    spec = KIND_FIGURES.get(b.kind)
    if spec is None:
        return []
    head = spec.figures[0]
    s = _scale(head.percent)
    y_label = head.label + (" (%)" if head.percent else "")
    plots = []
    for axis, x_label, value in PARETO_AXES:
        rows = [r for r in b.rows if r.entry.headline is not None and value(r.entry) is not None]
        # latency and memory always; size and energy where they tell runs apart
        if not rows or (axis not in ("latency", "peak_rss") and len({value(r.entry) for r in rows}) < 2):
            continue
        fig = go.Figure()
        groups = (("Pareto-optimal", [r for r in rows if r.pareto.get(axis)], dict(symbol="star", size=14)),
                  ("ranked", [r for r in rows if r.rank is not None and not r.pareto.get(axis)],
                   dict(symbol="circle", size=9)),
                  ("not ranked", [r for r in rows if r.rank is None], dict(symbol="x-open", size=10, color="grey")))
        for label, group, marker in groups:
            if not group:
                continue
            ests = [r.entry.headline for r in group]
            fig.add_trace(go.Scatter(
                x=[value(r.entry) for r in group], y=[s(e.value) for e in ests], mode="markers", name=label,
                marker=marker, error_y=error_bars(ests, head.percent),
                hovertext=[f"{_name(r)}<br>{head.label} {estimate_text(r.entry.headline, head.percent)}<br>"
                           f"{status_text(r.entry)}" for r in group], hoverinfo="text+x"))
        front = sorted((value(r.entry), s(r.entry.headline.value)) for r in rows if r.pareto.get(axis))
        if len(front) > 1:
            fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines",
                                     line=dict(dash="dot", color="black"), name="front", hoverinfo="skip"))
        plot_layout(fig, f"{head.label} against {x_label}", x_label, y_label,
                xaxis_type="log" if axis == "latency" else "linear")
        plots.append(Plot(f"{slug}-pareto-{axis}", fig.layout.title.text, fig))
    return plots


def _numeric(groups: list[str]) -> bool:
    try:
        [float(g) for g in groups]
    except ValueError:
        return False
    return True


def breakdown_plots(b: BenchBoard, slug: str) -> list[Plot]:
    """One plot per figure of the breakdown: grouped bars over named groups, curves over numeric ones."""
    spec = KIND_FIGURES.get(b.kind)
    rows = [r for r in b.rows if r.entry.breakdown][:MAX_SERIES]
    if spec is None or not rows:
        return []
    metrics = list(dict.fromkeys(m for r in rows for fs in r.entry.breakdown.values() for m in fs))
    groups = list(dict.fromkeys(g for r in rows for g in r.entry.breakdown))
    numeric = _numeric(groups)
    if numeric:
        groups.sort(key=float)
    percents = {f.label: f.percent for f in spec.figures}  # a breakdown's figures are named as the columns
    plots = []
    for m in metrics:
        percent = percents.get(m, True)
        s = _scale(percent)
        fig = go.Figure()
        for r in rows:
            ests = [r.entry.breakdown.get(g, {}).get(m) for g in groups]
            xs = [float(g) for g in groups] if numeric else groups
            ys = [None if e is None else s(e.value) for e in ests]
            hover = [f"{_name(r)}<br>{g}: {estimate_text(e, percent)}" + ("" if e is None else f" (n={e.n} {e.n_unit})")
                     for g, e in zip(groups, ests)]
            common = dict(x=xs, y=ys, name=_name(r), error_y=error_bars(ests, percent), hovertext=hover, hoverinfo="text")
            fig.add_trace(go.Scatter(mode="lines+markers", **common) if numeric else go.Bar(**common))
        title = f"{m} per {spec.breakdown_title}"
        plot_layout(fig, title, spec.breakdown_title, m + (" (%)" if percent else ""),
                **({} if numeric else {"barmode": "group", "xaxis_tickangle": -30, "width": 1220}))
        plots.append(Plot(f"{slug}-by-{'snr' if numeric else 'group'}-{len(plots)}", title, fig))
    return plots


def stage_plots(b: BenchBoard, slug: str) -> list[Plot]:
    """Where an item's time goes: per run, the median of each part (KindFigures.stages) as stacked bars.
    Medians of parts do not add up to the median of the whole; a part the runner does not time is 0."""
    spec = KIND_FIGURES.get(b.kind)
    rows = [r for r in b.rows if any(v is not None for v in r.entry.stages_s.values())][:MAX_SERIES]
    if spec is None or not spec.stages or not rows:
        return []
    fig = go.Figure()
    names = [_name(r) for r in rows]
    for _, label in spec.stages:
        ms = [r.entry.stages_s.get(label) for r in rows]
        fig.add_trace(go.Bar(
            y=names, x=[0 if v is None else 1000 * v for v in ms], name=label, orientation="h",
            hovertext=[f"{n}<br>{label} p50: " + ("not timed by this runner" if v is None else f"{1000 * v:.1f} ms")
                       for n, v in zip(names, ms)], hoverinfo="text"))
    title = "Where a question's time goes (median of each part, stacked)"
    plot_layout(fig, title, "milliseconds", "", width=1220, barmode="stack", height=max(260, 120 + 40 * len(rows)),
            yaxis=dict(autorange="reversed"))
    return [Plot(f"{slug}-stages", title, fig)]


def bench_plots(b: BenchBoard, slug: str) -> list[Plot]:
    return pareto_plots(b, slug) + breakdown_plots(b, slug) + stage_plots(b, slug)
