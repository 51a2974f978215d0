"""Which runs a board shows, how they are grouped (by benchmark) and ranked, and the Pareto front.

Within a benchmark, runs are ordered by tier, then by the kind's headline figure (higher first), then
by latency (lower first). Tier 0 is a whole run (complete, undamaged, latency valid); tier 1 is complete
and undamaged but with a caveat (latency figures invalid, a killed segment, no samples hash): ranked,
below every whole run. Incomplete (tier 2) and damaged (tier 3) runs are listed, marked, and not ranked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mobeval.board.entry import BoardEntry


@dataclass(frozen=True)
class Filters:
    bench: str | None = None  # exact benchmark name
    model: str | None = None  # substrings, case-insensitive
    runner: str | None = None
    device: str | None = None

    def keep(self, e: BoardEntry) -> bool:
        def has(value: str, wanted: str | None) -> bool:
            return wanted is None or wanted.lower() in value.lower()

        return ((self.bench is None or e.bench == self.bench) and has(e.model, self.model)
                and has(e.runner, self.runner) and has(e.device, self.device))


@dataclass
class RankedRow:
    entry: BoardEntry
    rank: int | None  # None: not ranked (incomplete or damaged)
    pareto: dict[str, bool] = field(default_factory=dict)  # axis -> on the front (ranked runs only)


@dataclass
class BenchBoard:
    bench: str
    kind: str
    rows: list[RankedRow]


def _sort_key(e: BoardEntry) -> tuple:
    head = e.headline
    return (e.tier, -(head.value if head is not None else float("-inf")),
            e.latency_s if e.latency_s is not None else float("inf"), e.folder)


# x axes of the Pareto fronts: (key, label, value of a row; lower is better)
PARETO_AXES = (
    ("latency", "latency p50 (s)", lambda e: e.latency_s),
    ("peak_rss", "peak RSS (MiB)", lambda e: None if e.peak_rss_bytes is None else e.peak_rss_bytes / 2**20),
    ("model_size", "model size (MiB)", lambda e: None if e.model_size_bytes is None else e.model_size_bytes / 2**20),
    ("energy", "energy per item (J)", lambda e: None if e.energy is None or e.energy.per == "run" else e.energy.value),
)


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (cost, accuracy) points: True where no other point is at most as costly and at least as
    accurate, and better in one of the two."""
    return [not any(c2 <= c and a2 >= a and (c2 < c or a2 > a) for c2, a2 in points) for c, a in points]


def _mark_pareto(rows: list[RankedRow]) -> None:
    for axis, _, value in PARETO_AXES:
        eligible = [r for r in rows if r.rank is not None and r.entry.headline is not None
                    and value(r.entry) is not None]
        flags = pareto_front([(value(r.entry), r.entry.headline.value) for r in eligible])
        for r, on in zip(eligible, flags):
            r.pareto[axis] = on


def rank(entries: list[BoardEntry], filters: Filters = Filters()) -> list[BenchBoard]:
    """The boards, one per benchmark (by name), each ranked."""
    by_bench: dict[str, list[BoardEntry]] = {}
    for e in entries:
        if filters.keep(e):
            by_bench.setdefault(e.bench, []).append(e)
    boards = []
    for bench in sorted(by_bench):
        runs = sorted(by_bench[bench], key=_sort_key)
        rows, n = [], 0
        for e in runs:
            if e.rankable:
                n += 1
            rows.append(RankedRow(e, n if e.rankable else None))
        _mark_pareto(rows)
        kinds = sorted({e.kind for e in runs})
        boards.append(BenchBoard(bench, "/".join(kinds), rows))
    return boards
