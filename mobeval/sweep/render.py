"""The sweep table (quality and cost per level, each fitting an 80-column terminal) and the Pareto view."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from mobeval.core.printing import Table
from mobeval.sweep.sweep import SweepOutcome
from mobeval.sweep.table import AXES, SweepRow


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"


def _mib(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 2**20:.1f}"


def _acc(r: SweepRow) -> str:
    a = r.accuracy
    if a is None:
        return "n/a"
    ci = f"\n[{100 * a.ci_low:.1f}, {100 * a.ci_high:.1f}]" if a.ci_low is not None else ""
    return f"{_pct(a.value)}{ci}"


def _vs(r: SweepRow, reference: str) -> tuple[str, str, str]:
    """flips, Δacc with its interval, McNemar p."""
    if r.level == reference:
        return "ref.", "ref.", ""
    v = r.vs_reference
    if v is None:
        return "n/a", "n/a", "n/a"  # no question in common with the reference
    p = v.paired
    if p is None:
        return _pct(v.flip_rate), "n/a", "n/a"
    return (_pct(v.flip_rate), f"{_pct(p.difference, True)}\n[{100 * p.ci_low:+.1f}, {100 * p.ci_high:+.1f}]",
            f"{p.mcnemar_p:.3g}")


def _types(types: dict[str, int], top: int = 3) -> str:
    shown = [f"{k.lower()} {v}" for k, v in list(types.items())[:top]]
    rest = sum(list(types.values())[top:])
    return ", ".join(shown) + (f", +{rest}" if rest else "")


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    t = Table(title=title, title_justify="left")
    for name, justify in columns:
        t.add_column(name, justify=justify)
    return t


def sweep_table(out: SweepOutcome) -> Group:
    """Two tables, one row per level, most precise first: what each level scores, and what it costs."""
    basis = next((r.accuracy.basis for r in out.rows if r.accuracy), "")
    name = f"{out.model['alias']} ({out.model['quant']}) on {out.bench}"
    quality = _table(f"Sweep: {name}: quality", [
        ("level", "left"), (f"acc ({basis})", "right"), ("consist.", "right"), ("pos. bias", "right"),
        ("flips", "right"), (f"Δacc vs {out.reference}", "right"), ("McNemar p", "right")])
    facts = {lf.level: lf.facts for lf in out.files}
    cost = _table(f"Sweep: {name}: cost", [
        ("level", "left"), ("file MiB", "right"), ("bits/w", "right"), ("tok/s", "right"),
        ("peak RSS MiB", "right"), ("energy J", "right"), ("tensor types", "left")])
    for r in out.rows:
        level = r.level + ("" if r.complete else " (partial)")
        quality.add_row(level, _acc(r), _pct(r.consistency),
                        "n/a" if r.position_bias is None else f"{r.position_bias:.3f}", *_vs(r, out.reference))
        f = facts.get(r.level)
        cost.add_row(level, _mib(r.size_bytes), "n/a" if r.bits_per_weight is None else f"{r.bits_per_weight:.2f}",
                     "n/a" if r.tokens_per_s is None else f"{r.tokens_per_s:.0f}", _mib(r.peak_rss_bytes),
                     "unavailable" if r.energy_j is None else f"{r.energy_j:.1f}",
                     _types(f.tensor_types) if f else "n/a")
    return Group(quality, cost, Text(_caption(out, basis), style="dim"))


def _caption(out: SweepOutcome, basis: str) -> str:
    n = next((r.vs_reference.n_paired for r in out.rows if r.vs_reference), None)
    lines = [
        f"acc: {basis} accuracy, 95% Wilson interval (as `mobeval board`); consist.: same option under every "
        "ordering; pos. bias: total variation distance of the chosen letters' shares from a position-blind "
        "model's (0: none).",
        f"flips: share of questions whose answer under the original order differs from {out.reference}'s; "
        f"Δacc: original-order accuracy minus {out.reference}'s on the same questions"
        + (f" ({n})" if n else "") + ", 95% paired bootstrap interval; McNemar p: exact test of that difference.",
        "tok/s: evaluated (prefill) tokens per second in the runner; bits/w: the file's bits per weight over all "
        "tensors; tensor types: how many tensors of each ggml type the file holds (llama.cpp falls back to "
        "another type for a tensor whose rows do not fit the level's block size).",
    ]
    notes = {r.energy_note for r in out.rows if r.energy_j is None and r.energy_note}
    if notes:
        lines.append("energy: " + "; ".join(sorted(notes)))
    if out.note:
        lines.append(f"NOTE: {out.note}.")
    return "\n".join(lines)


def pareto_view(out: SweepOutcome) -> Group:
    """Which levels are on each front and which are dominated, by what; plus a reading line per axis."""
    t = _table("Pareto view (acc as in the quality table)",
               [("level", "left"), ("acc", "right"), ("MiB", "right"), ("tok/s", "right")]
               + [(label, "left") for _, label, _ in AXES])
    for r in out.rows:
        marks = []
        for axis, _, _ in AXES:
            m = r.pareto.get(axis, "n/a")
            marks.append(Text("● front", style="bold green") if m == "front" else Text(m, style="dim"))
        t.add_row(r.level, _pct(r.accuracy.value if r.accuracy else None), _mib(r.size_bytes),
                  "n/a" if r.tokens_per_s is None else f"{r.tokens_per_s:.0f}", *marks)
    return Group(t, *(_strip(out.rows, axis, label) for axis, label, _ in AXES))


def _strip(rows: list[SweepRow], axis: str, label: str) -> Text:
    """Levels from least to most costly on the axis; front levels in bold, the others marked dominated."""
    key = {"size": lambda r: r.size_bytes, "speed": lambda r: -(r.tokens_per_s or 0.0)}[axis]
    ranked = sorted((r for r in rows if r.accuracy is not None and key(r) is not None), key=key)
    text = Text(f"{label}, cheapest first: ")
    for i, r in enumerate(ranked):
        if i:
            text.append(" → ")
        on = r.pareto.get(axis) == "front"
        text.append(f"{r.level} {_pct(r.accuracy.value)}" + ("" if on else " (dominated)"),
                    style="bold green" if on else "dim")
    return text
