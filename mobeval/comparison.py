"""`mobeval compare`: runs side by side. The envelope's rows (runner, model, speed, memory, energy) are
the same for every kind; the task kind adds its own (accuracy, agreement with the first run). Then each run
against the first on the items both scored: is the accuracy difference real (measure/paired.py)?"""

from __future__ import annotations

from rich.console import RenderableType

from mobeval.core.errors import MobevalError
from mobeval.measure.paired import PairedComparison, compare_paired, prediction_flip_rate
from mobeval.core.printing import Table, fig
from mobeval.results.schema import Result
from mobeval.core.kinds import task_kind


def compare_table(names: list[str], results: list[Result], records: list[list]) -> Table:
    kinds = {r.kind for r in results}
    if len(kinds) > 1:
        raise MobevalError(f"cannot compare runs of different task kinds ({', '.join(sorted(kinds))})")
    kind = task_kind(results[0].kind)
    t = Table(title="Runs side by side", header_style="bold")
    t.add_column("figure")
    for name in names:
        t.add_column(name, justify="right", overflow="fold")
    rows = [
        ("runner", [f"{r.runner['name']} ({r.runner['backend_version']})" for r in results]),
        ("model", [r.model["alias"] for r in results]),
        *kind.compare_rows(names, results, records),
        ("model load time", [fig(r.performance.get("model_load_time")) for r in results]),
        ("wall time", [fig(r.performance.get("wall_time"), "{:.1f}") for r in results]),
        ("peak RSS", [fig(r.memory.get("peak_rss")) for r in results]),
        ("energy", [_energy(r) for r in results]),
    ]
    for label, values in rows:
        t.add_row(label, *values)
    return t


def _energy(r: Result) -> str:
    if "energy" in r.energy:
        return "unavailable"
    return ", ".join(f"{f.value:.1f} J ({k.split('.')[0]})" for k, f in r.energy.items() if k.endswith(".energy"))


PAIRED_NOTE = ("paired on the items both runs scored (keyed items): difference = accuracy of the run − accuracy of "
               "#1, with its 95% interval from a paired bootstrap over items (10,000 resamples, seed 0); McNemar's "
               "exact test on the items right in one run only (a/b: right in #1 only / in the run only); significant "
               "when p < 0.05; flips: items whose prediction differs (a change between two wrong answers counts)")


def paired_comparison(kind_name: str, reference: list, other: list) -> tuple[str, PairedComparison, float]:
    """`other`'s records against `reference`'s on the items both scored, on the first accuracy basis both have
    (TaskKind.item_outcomes): (basis, the paired comparison, prediction flip rate). MobevalError saying why
    when they cannot be paired."""
    kind = task_kind(kind_name)
    ref, oth = kind.item_outcomes(reference), kind.item_outcomes(other)
    basis = next((b for b in ref if b in oth), None)
    if basis is None:
        raise MobevalError(f"the {kind.name} kind has no right/wrong per item" if not ref and not oth
                           else "no accuracy basis in common (no answer key in one run?)")
    a, b = ref[basis], oth[basis]
    common = [q for q in a if q in b]
    if not common:
        raise MobevalError("no item scored by both runs")
    c = compare_paired([a[q][0] for q in common], [b[q][0] for q in common])
    return basis, c, prediction_flip_rate([a[q][1] for q in common], [b[q][1] for q in common])


def paired_rows(kind_name: str, names: list[str], records: list[list]) -> list[list[str]]:
    """Each run against the first on the items both scored: basis, n, accuracies, difference [95% CI],
    flip rate, McNemar counts and p, verdict. Through the kind's `item_outcomes`."""
    rows = []
    for name, recs in zip(names[1:], records[1:]):
        try:
            basis, c, flips = paired_comparison(kind_name, records[0], recs)
        except MobevalError as exc:
            rows.append([name, "—", "0", "", "", "", "", "", str(exc)])
            continue
        rows.append([
            name, basis, str(c.n), f"{100 * c.accuracy_a:.1f}% → {100 * c.accuracy_b:.1f}%",
            f"{100 * c.difference:+.1f} pts [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]",
            f"{100 * flips:.1f}%", f"{c.only_a}/{c.only_b}", f"{c.mcnemar_p:.3g}",
            "significant" if c.significant else "not significant"])
    return rows


def paired_table(names: list[str], results: list[Result], records: list[list]) -> Table:
    t = Table(title=f"Paired against {names[0]}", header_style="bold", caption=PAIRED_NOTE, caption_justify="left")
    for col in ("run", "basis", "n", "accuracy #1 → run", "difference [95% CI]", "flips", "a/b", "McNemar p",
                "verdict"):
        t.add_column(col, justify="right" if col in ("n", "flips", "a/b", "McNemar p") else "left",
                     overflow="fold")
    for row in paired_rows(results[0].kind, names, records):
        t.add_row(*row)
    return t


def compare_tables(names: list[str], results: list[Result], records: list[list]) -> list[RenderableType]:
    """Everything `mobeval compare` prints, in order: the runs side by side, the kind's own tables (spectrum:
    per SNR), then each run paired against the first."""
    side_by_side = compare_table(names, results, records)  # first: it refuses runs of different kinds
    return [side_by_side, *task_kind(results[0].kind).compare_tables(names, results),
            paired_table(names, results, records)]
