"""Stop a run when its answer is known: `--until ci=H` (the 95% confidence sequence of the kind's per-item
figure is at most ±H wide) and `--budget` (evaluation time, items, energy), whichever comes first.

With either, the selected items run in a seeded uniformly random order (ascending sha256 of "{seed}:{item id}"),
so the items run so far are, at any moment, a uniform sample without replacement of the selection, and the
estimate targets the whole selection. After each item the engine hands its records to a `Tracker`, which asks
the task kind for the item's value in [0, 1] (TaskKind.item_values) and its group (item_groups), updates a
RunningSequence (mobeval.measure.sequential: anytime-valid, so stopping on it keeps its coverage) overall and per
group, and says whether to stop. `--resume` replays the records already in samples.jsonl, in their file order,
and goes on in the same order.

Nothing here knows a task kind: values and groups come from the kind, populations from the plan.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from mobeval.measure.sequential import METHOD, RunningSequence
from mobeval.results.schema import SequentialGroup, SequentialSection

ALPHA = 0.05  # 95% confidence sequences
ORDER = "ascending sha256 of '{seed}:{item id}' (UTF-8): a uniformly random order fixed by the seed"
ITEM_ORDER = "seeded-random"  # run.json's item_order of a run under --until/--budget (results/resume.py)
TOLERANCE = 1e-9  # the half-width is a difference of grid points: compared with this slack

_TIME = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_TIME_SHOWN = {"s": "s", "sec": "s", "m": "min", "min": "min", "h": "h"}
_ENERGY = {"wh": ("Wh", 3600.0), "mwh": ("mWh", 3.6), "kwh": ("kWh", 3.6e6), "j": ("J", 1.0), "kj": ("kJ", 1000.0)}
_PART = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([a-zA-Z]*)$")


@dataclass(frozen=True)
class Until:
    half_width: float  # stop once the interval is at most ± this (a fraction)
    text: str  # as written back to the config: "ci=0.02"

    @property
    def reason(self) -> str:
        return f"interval reached ±{self.half_width:g}"


@dataclass(frozen=True)
class Budget:
    seconds: float | None = None  # of evaluation (model load excluded), summed over resumed segments
    items: int | None = None  # items run (with or without a value)
    joules: float | None = None  # from the run's energy meter, summed over resumed segments
    shown: dict[str, str] = field(default_factory=dict)  # "seconds" -> "20 min", "items" -> "500 items", ...
    text: str = ""

    def reason(self, what: str) -> str:
        return f"budget: {self.shown[what]}"


def parse_until(text: str) -> Until:
    """`ci=0.02` or `ci=2%`: the half-width of the 95% interval to stop at. ValueError saying what is wrong."""
    s = str(text).strip().replace(" ", "")
    key, sep, value = s.partition("=")
    if key.lower() != "ci" or not sep or not value:
        raise ValueError("expected ci=HALF_WIDTH, e.g. ci=0.02 (stop once the 95% interval is within ±0.02, "
                         "2 points of a fraction) or ci=2%")
    percent = value.endswith("%")
    try:
        h = float(value.removesuffix("%")) / (100 if percent else 1)
    except ValueError:
        raise ValueError(f"{value!r} is not a number; expected e.g. ci=0.02 or ci=2%") from None
    if not (0 < h < 0.5) or math.isnan(h):
        raise ValueError("the half-width must be more than 0 and less than 0.5 (a fraction of 1: 2 points is "
                         "0.02 or 2%)")
    return Until(h, f"ci={h:g}")


def parse_budget(text: str | int) -> Budget:
    """`20m`, `500`, `5Wh`, or parts joined by commas (`20m,500`): evaluation time (s, m or min, h), items (a
    whole number), energy (Wh, mWh, kWh, J, kJ). ValueError saying what is wrong."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise ValueError("expected a time (90s, 20m, 1.5h), a number of items (500), an energy (5Wh, 800J) "
                         "or several joined by commas (20m,500)")
    values: dict[str, float] = {}
    shown: dict[str, str] = {}
    for part in parts:
        m = _PART.match(part.replace(" ", ""))
        if not m:
            raise ValueError(f"{part!r}: expected a number and a unit: a time (90s, 20m, 1.5h), a number of "
                             "items (500) or an energy (5Wh, 800J)")
        number, unit = float(m.group(1)), m.group(2)
        if unit == "":
            what = "items"
            if number != int(number) or number < 1:
                raise ValueError(f"{part!r}: a number of items is a whole number of at least 1")
            value, label = int(number), f"{int(number)} item{'s' if number != 1 else ''}"
        elif unit in _TIME:
            what, value, label = "seconds", number * _TIME[unit], f"{number:g} {_TIME_SHOWN[unit]}"
        elif unit.lower() in _ENERGY:
            name, scale = _ENERGY[unit.lower()]
            what, value, label = "joules", number * scale, f"{number:g} {name}"
        else:
            raise ValueError(f"{part!r}: unknown unit {unit!r}; a time is s, m (or min), h; an energy Wh, mWh, "
                             "kWh, J or kJ; a number of items has none")
        if value <= 0:
            raise ValueError(f"{part!r}: must be more than 0")
        if what in values:
            raise ValueError(f"{shown[what]!r} and {label!r}: two {what.replace('seconds', 'time')} budgets; "
                             "give one of each kind at most")
        values[what], shown[what] = value, label
    text_out = ",".join(p.replace(" ", "") for p in parts)
    return Budget(seconds=values.get("seconds"), items=int(values["items"]) if "items" in values else None,
                  joules=values.get("joules"), shown=shown, text=text_out)


def run_order(item_ids: Sequence[str], seed: int) -> list[str]:
    """The selected items in the seeded random order a run under --until/--budget takes them in: any prefix is
    a uniform sample without replacement of the selection, and the order depends on nothing but the seed and
    the ids (not on the selection's order or size)."""
    return sorted(item_ids, key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode("utf-8")).hexdigest(), i))


def group_key(group: str) -> tuple[int, float, str]:
    """Groups in order: numbers ascending (SNR levels), then names."""
    try:
        return 0, float(group), ""
    except ValueError:
        return 1, 0.0, group


def items_in_file_order(records: Iterable[Any]) -> list[tuple[str, list[Any]]]:
    """Records grouped by item, items in the order their first record appears (how a run wrote them)."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        groups[r.item_id].append(r)
    return list(groups.items())


class Tracker:
    """The confidence sequences of a run under --until/--budget, updated item by item, and the stop rule."""

    def __init__(self, kind: Any, item_ids: Sequence[str], seed: int, until: Until | None, budget: Budget | None,
                 population: dict[str, int] | None):
        self.kind, self.until, self.budget = kind, until, budget
        self.order = run_order(item_ids, seed)
        self.total = len(self.order)
        self.population_by_group = population
        n = None if population is None else sum(population.values())
        self.overall = RunningSequence(ALPHA, n or None)
        self.population = n
        self.groups: dict[str, RunningSequence] = {}
        self.values: list[float] = []  # in the order they entered the sequence
        self.items_used = 0
        self.reason: str | None = None  # why it stopped (None: it has not)
        self.seconds = 0.0
        self.joules: float | None = None
        self.energy_source = ""

    @classmethod
    def of_section(cls, kind: Any, section: SequentialSection) -> "Tracker":
        """A tracker with the populations a result's section records, to replay its samples (submit --check)."""
        t = cls(kind, [], 0, None, None, None)
        t.overall = RunningSequence(section.alpha, section.population)
        t.population = section.population
        t.population_by_group = {g: e.population for g, e in section.groups.items() if e.population is not None}
        return t

    def add(self, records: list[Any]) -> None:
        """One item's records (all its replicas), as the run appended them."""
        if not records:
            return
        self.items_used += len({r.item_id for r in records})
        values = self.kind.item_values(records)
        groups = self.kind.item_groups(records) if values else {}
        for item_id in dict.fromkeys(r.item_id for r in records):
            if item_id not in values:
                continue
            v = min(1.0, max(0.0, float(values[item_id])))
            self.overall.update(v)
            self.values.append(v)
            g = groups.get(item_id)
            if g is not None:
                if g not in self.groups:
                    pop = None if self.population_by_group is None else self.population_by_group.get(g)
                    self.groups[g] = RunningSequence(ALPHA, pop)
                self.groups[g].update(v)

    def replay(self, records: Iterable[Any]) -> None:
        """The records a resumed run finds in samples.jsonl, item by item in their file order."""
        for _, recs in items_in_file_order(records):
            self.add(recs)

    def check(self, seconds: float = 0.0, joules: float | None = None) -> str | None:
        """After an item: why the run stops now (also kept in `reason`), or None to go on. `seconds` and `joules`
        are what the run has spent on its items so far (all segments)."""
        self.seconds, self.joules = seconds, joules
        b = self.budget
        if self.items_used >= self.total:
            self.reason = "every item"
        elif self.until and self.overall.n and self.overall.half_width <= self.until.half_width + TOLERANCE:
            self.reason = self.until.reason
        elif b and b.items is not None and self.items_used >= b.items:
            self.reason = b.reason("items")
        elif b and b.seconds is not None and seconds >= b.seconds:
            self.reason = b.reason("seconds")
        elif b and b.joules is not None and joules is not None and joules >= b.joules:
            self.reason = b.reason("joules")
        else:
            self.reason = None
        return self.reason

    def section(self) -> SequentialSection:
        o = self.overall
        sampling = ("without replacement from the selection's items with a value" if self.population else
                    "the number of items with a value was not known before the run: values taken as independent "
                    "draws")
        return SequentialSection(
            method=METHOD, alpha=ALPHA,
            rule={"until": self.until.text if self.until else None, "budget": self.budget.text if self.budget else None},
            order=ORDER, figure=self.kind.value_label, stop_reason=self.reason or "interrupted",
            stopped_early=self.reason is not None and self.items_used < self.total,
            items_used=self.items_used, items_left=self.total - self.items_used, items_with_value=o.n,
            estimate=o.mean if o.n else None, low=o.low if o.n else None, high=o.high if o.n else None,
            half_width=o.half_width if o.n else None, population=self.population or None, sampling=sampling,
            group_label=self.kind.group_label,
            groups={g: SequentialGroup(n=s.n, estimate=s.mean, low=s.low, high=s.high, population=s.population)
                    for g, s in sorted(self.groups.items(), key=lambda kv: group_key(kv[0]))},
            spent={"eval_seconds": round(self.seconds, 6),
                   **({"joules": round(self.joules, 6), "energy_source": self.energy_source}
                      if self.joules is not None else {})},
        )
