"""What a multiple-choice run's page adds (mobeval report RUN --html): the letters chosen."""

from __future__ import annotations

import plotly.graph_objects as go

from mobeval.board.plots import Plot, plot_layout
from mobeval.results.schema import Result


def letters(r: Result, slug: str) -> list[Plot]:
    scores = r.task.get("scores", {})
    share, expected = scores.get("letter_share") or {}, scores.get("letter_expected") or {}
    if not share:
        return []
    letters = list(share)
    fig = go.Figure([go.Bar(x=letters, y=[100 * share[k] for k in letters], name="chosen"),
                     go.Bar(x=letters, y=[100 * expected.get(k, 0) for k in letters], name="position-blind model")])
    bias = scores.get("position_bias")
    title = "letter chosen" + ("" if bias is None else f" (position bias {bias:.2f})")
    plot_layout(fig, title, "letter (position shown)", "% of valid answers", barmode="group")
    return [Plot(f"{slug}-letters", title, fig)]
