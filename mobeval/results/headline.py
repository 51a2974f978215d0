"""What a board, a page and the Python API show of a run: a kind's headline figures, each a proportion with its
95% interval, read from result.json's task section alone. Each kind says which (its KindEntry.headline, a
KindFigures); the interval is the one the result records where it has one, else Wilson's over the items the
proportion counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mobeval.measure.stats import wilson


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
    # figures under lm-evaluation-harness's names ("acc": the original option order's accuracy), for
    # `mobeval export --to lm-eval`; the `figures` are exported under their own keys beside them
    lm_eval: tuple[FigureSpec, ...] = ()


def headline_metrics(kind: str, task: dict[str, Any]) -> list[dict[str, Any]]:
    """The kind's headline figures read from a task section, as result.json's `metrics` list holds them
    (results.schema.Metric's fields); [] for a kind that declares none."""
    from mobeval.core.catalog import catalog, load_target

    entry = catalog().kinds.get(kind)
    if entry is None or not entry.headline:
        return []
    spec: KindFigures = load_target(entry.headline)
    out = []
    for f in spec.figures:
        e = f.extract(task)
        if e is not None:
            out.append({"name": f.key, "label": f.label, "value": e.value, "unit": "fraction", "low": e.ci_low,
                        "high": e.ci_high, "method": e.ci_method, "n": e.n, "n_unit": e.n_unit, "basis": e.basis,
                        "higher_is_better": True})
    return out
