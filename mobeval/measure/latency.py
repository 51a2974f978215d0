"""Latency figures from records, and the rule that says when they mean something.

Shared by every task kind: an item's latency is the time its records spent in the runner (all
orderings of a question; one image's inference); the first item of each run segment is warm-up
(cold caches, first-touch page faults) and is kept out of the statistics.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

from mobeval.measure.stats import summarize
from mobeval.core.figures import Figure

MIN_LATENCY_ITEMS = 50
MIN_LATENCY_SECONDS = 10.0


def latency_figures(prefix: str, values: list[float], note: str = "") -> dict[str, Figure]:
    """`<prefix>_mean/p50/p90/p99` in seconds, each with the count it rests on."""
    summary = summarize(values)
    if summary is None:
        return {}
    return {f"{prefix}_{stat}": Figure(value=getattr(summary, stat), unit="s", count=summary.count, note=note)
            for stat in ("mean", "p50", "p90", "p99")}


def per_item(records: Iterable, seconds: Callable = lambda r: r.latency_s) -> list[float]:
    """Seconds per measured item (warm-up excluded), summed over the item's records, in first-seen order."""
    totals: dict[str, float] = defaultdict(float)
    for r in records:
        if not r.warmup:
            totals[r.item_id] += seconds(r)
    return list(totals.values())


def validity(per_item_s: list[float], noun: str, warmup: int) -> Figure:
    """MLPerf's rule, scaled to a laptop: enough items over long enough, warm-up excluded."""
    problems = []
    if len(per_item_s) < MIN_LATENCY_ITEMS:
        problems.append(f"{len(per_item_s)} measured {noun}s < {MIN_LATENCY_ITEMS}")
    if sum(per_item_s) < MIN_LATENCY_SECONDS:
        problems.append(f"{sum(per_item_s):.1f} s measured < {MIN_LATENCY_SECONDS} s")
    return Figure(value=float(not problems), unit="bool", source="validity rule",
                  note="; ".join(problems) or f">= {MIN_LATENCY_ITEMS} {noun}s over >= {MIN_LATENCY_SECONDS} s, "
                                              f"{warmup} warm-up request(s) excluded")


def single_stream(records: list, noun: str, call: str, apart: dict[str, tuple[str, str]]) -> dict[str, Figure]:
    """The figures of a kind whose items go to the runner one at a time: validity, inference latency
    (`call` says what was timed), each of `apart` (figure prefix -> (record attribute, note)) timed
    outside the runner, and items per second (1 / mean inference latency)."""
    measured = [r for r in records if not r.warmup]
    inference = per_item(measured)
    figs = {
        "latency_valid": validity(inference, noun, len(records) - len(measured)),
        **latency_figures("inference_latency", inference, note=call),
    }
    for prefix, (attr, note) in apart.items():
        figs.update(latency_figures(prefix, [getattr(r, attr) for r in measured], note=note))
    busy = sum(inference)
    if busy > 0:
        figs[f"{noun}s_per_s"] = Figure(value=len(inference) / busy, unit=f"{noun}s/s", count=len(inference),
                                        note="single stream: 1 / mean inference latency (time outside the runner "
                                             "excluded)")
    return figs
