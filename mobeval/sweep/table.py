"""The sweep's figures per level, read from each level's run folder: quality, cost, and the paired
comparison against the reference (highest-precision) level; and the Pareto fronts.

Pairing: each question's sample under the original ordering (ordering 0) in both runs. The prediction flip
rate counts every paired question whose chosen option differs; the accuracy difference (level minus
reference), its 95% percentile-bootstrap interval and McNemar's exact p are over the paired questions with an
answer key (mobeval.measure.paired).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mobeval.board.figures import KIND_FIGURES, Estimate
from mobeval.board.rank import pareto_front
from mobeval.core.errors import MobevalError
from mobeval.measure.paired import (
    PairedComparison,
    compare_paired,
    prediction_flip_rate,
)
from mobeval.results.integrity import check_run


@dataclass(frozen=True)
class VsReference:
    n_paired: int  # questions under the original ordering in both runs
    flip_rate: float
    paired: PairedComparison | None  # None when no paired question has a key


@dataclass
class SweepRow:
    level: str
    folder: Path
    complete: bool
    size_bytes: int | None
    bits_per_weight: float | None
    accuracy: Estimate | None  # the board's headline: debiased over 2+ orderings, else original order
    accuracy_original: float | None
    consistency: float | None
    position_bias: float | None
    tokens_per_s: float | None  # evaluated (prefill) tokens / time in the runner
    peak_rss_bytes: float | None
    energy_j: float | None
    energy_note: str  # why there is no energy figure, or its source
    vs_reference: VsReference | None = None  # None for the reference itself
    pareto: dict[str, str] = field(default_factory=dict)  # axis -> "front" or "dominated by X, Y"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["folder"] = str(self.folder)
        d["accuracy"] = self.accuracy.to_json() if self.accuracy else None
        return d


def _value(block: dict, key: str) -> float | None:
    fig = block.get(key)
    return None if fig is None else fig.value


def row_of(level: str, folder: Path, bits_per_weight: float | None) -> tuple[SweepRow, list]:
    """A level's row from its run folder (checked: a damaged folder is an error naming it), and the
    folder's samples."""
    c = check_run(folder)
    if c.problems:
        raise MobevalError(f"sweep level {level}: run folder {folder} is damaged: {'; '.join(c.problems)}")
    r = c.result
    scores = r.task.get("scores", {})
    headline = KIND_FIGURES["mcq"].figures[0].extract(r.task)
    energy = r.energy.get("energy")
    row = SweepRow(
        level=level, folder=folder, complete=c.complete,
        size_bytes=r.model.get("size_bytes"), bits_per_weight=bits_per_weight,
        accuracy=headline, accuracy_original=scores.get("accuracy_original"),
        consistency=scores.get("consistency"), position_bias=scores.get("position_bias"),
        tokens_per_s=_value(r.performance, "evaluated_tokens_per_s"),
        peak_rss_bytes=_value(r.memory, "peak_rss"),
        energy_j=None if energy is None else energy.value,
        energy_note="" if energy is None else (energy.note or energy.source),
    )
    return row, c.result_samples


def _original_order(samples: list) -> dict[str, Any]:
    return {s.question_id: s for s in samples if s.ordering == 0}


def vs_reference(ref_samples: list, samples: list, seed: int = 0) -> VsReference | None:
    ref, mine = _original_order(ref_samples), _original_order(samples)
    common = [q for q in ref if q in mine]
    if not common:
        return None
    flips = prediction_flip_rate([ref[q].chosen_option for q in common], [mine[q].chosen_option for q in common])
    keyed = [q for q in common if ref[q].answer is not None]
    paired = (compare_paired([ref[q].correct for q in keyed], [mine[q].correct for q in keyed], seed=seed)
              if keyed else None)
    return VsReference(len(common), flips, paired)


# Pareto axes: (key, label, cost of a row; lower is better)
AXES = (
    ("size", "acc vs file size", lambda r: r.size_bytes),
    ("speed", "acc vs tokens/s", lambda r: None if r.tokens_per_s is None else -r.tokens_per_s),
)


def mark_pareto(rows: list[SweepRow]) -> None:
    """Each row's place on each front: 'front', or 'dominated by' the levels that are no costlier and no
    less accurate, and better in one."""
    for axis, _, cost in AXES:
        pts = [(r, cost(r), r.accuracy.value) for r in rows if r.accuracy is not None and cost(r) is not None]
        flags = pareto_front([(c, a) for _, c, a in pts])
        for (r, c, a), on in zip(pts, flags):
            if on:
                r.pareto[axis] = "front"
            else:
                by = [o.level for o, c2, a2 in pts if c2 <= c and a2 >= a and (c2 < c or a2 > a)]
                r.pareto[axis] = "dominated by " + ", ".join(by)


def sweep_rows(levels: list[tuple[str, Path, float | None]], reference: str, seed: int = 0) -> list[SweepRow]:
    """Rows for (level, run folder, bits per weight), in the given order; each compared with `reference`."""
    read = {lv: row_of(lv, folder, bpw) for lv, folder, bpw in levels}
    if reference not in read:
        raise MobevalError(f"--reference {reference}: not one of the sweep's levels ({', '.join(read)})")
    ref_samples = read[reference][1]
    rows = []
    for lv, _, _ in levels:
        row, samples = read[lv]
        if lv != reference:
            row.vs_reference = vs_reference(ref_samples, samples, seed)
        rows.append(row)
    mark_pareto(rows)
    return rows
