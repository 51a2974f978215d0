"""The board as text: rich tables in the terminal, Markdown, CSV and JSON, with the footnotes that say
how each figure is obtained and why a run is marked."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from mobeval.board.entry import BoardEntry
from mobeval.board.figures import KIND_FIGURES, Estimate, FigureSpec
from mobeval.board.rank import PARETO_AXES, BenchBoard, RankedRow
from mobeval.core.printing import Table, human_bytes

FORMAT = "mobeval.board/1"
RANK_NOTE = ("rank: by the headline figure (first accuracy column), then latency; whole runs (complete, undamaged, "
             "latency valid) first, then complete runs marked 'latency invalid', 'killed segment', 'unverified' or "
             "'estimate'; "
             "runs marked 'partial', 'shard', 'no result', 'samples after result' or 'damaged' are listed, not ranked (—)")
LATENCY_NOTE = ("† latency figures invalid under the shared rule (>= 50 items over >= 10 s measured): shown, not to "
                "be relied on")
CI_NOTE = ("[a–b]: 95% interval; Wilson score interval over the items a proportion counts, or the interval the "
           "result records (spectrum: percentile bootstrap over captures)")


def estimate_text(e: Estimate | None, percent: bool = True) -> str:
    """'26.7% [20.8–33.5]', '0.767 [0.740–0.792]', 'n/a'."""
    if e is None:
        return "n/a"
    f = (lambda x: f"{100 * x:.1f}") if percent else (lambda x: f"{x:.3f}")
    text = f(e.value) + ("%" if percent else "")
    if e.ci_low is not None and e.ci_high is not None:
        text += f" [{f(e.ci_low)}–{f(e.ci_high)}]"
    return text + (" orig." if e.basis == "original" else "")


ESTIMATE_NOTE = ("estimate: a run stopped early by --until/--budget on a uniform random sample of its selection; "
                 "its figures are of the items run, and 'estimate x% [a–b]' is its anytime-valid 95% interval "
                 "(confidence sequence) for the whole selection, of the figure named (docs/sequential.md)")


def sequential_text(e: BoardEntry) -> str:
    """'estimate 43.1% [38.0–48.3], 120/180 (interval reached ±0.05)' for a run under --until/--budget."""
    s = e.sequential
    if not s or s.get("estimate") is None:
        return ""
    used, left = s.get("items_used") or 0, s.get("items_left") or 0
    return (f"estimate {100 * s['estimate']:.1f}% [{100 * s['low']:.1f}–{100 * s['high']:.1f}] of "
            f"{s.get('figure')}, {used}/{used + left} ({s.get('stop_reason')})")


def seconds_text(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.3f} s"


def speed_text(e: BoardEntry) -> str:
    return "n/a" if e.speed is None else f"{e.speed:.1f} {e.speed_unit}"


def energy_text(e: BoardEntry) -> str:
    if e.energy is None:
        return "unavailable"
    per = "" if e.energy.per == "run" else f"/{e.energy.per}"
    return f"{e.energy.value:.3g} {e.energy.unit}{per} ({e.energy.source})"


def size_text(e: BoardEntry) -> str:
    return "no file" if e.model_size_bytes is None else human_bytes(e.model_size_bytes)


def status_text(e: BoardEntry) -> str:
    marks = list(e.marks)
    if "partial" in marks and e.n_selected:
        marks[marks.index("partial")] = f"partial {e.n_items}/{e.n_selected}"
    if "shard" in marks and e.shard:
        marks[marks.index("shard")] = f"shard {e.shard}"
    if "estimate" in marks and sequential_text(e):
        marks[marks.index("estimate")] = sequential_text(e)
    return ", ".join(marks) or "ok"


def _specs(kind: str) -> tuple[FigureSpec, ...]:
    spec = KIND_FIGURES.get(kind)
    return spec.figures if spec else ()


def columns(board: BenchBoard) -> list[str]:
    spec = KIND_FIGURES.get(board.kind)
    return ["#", "model", "runner", "device", *(f.label for f in _specs(board.kind)),
            spec.latency_label if spec else "latency p50", "speed", "peak RSS", "energy", "model size", "run", "status"]


def cells(board: BenchBoard, row: RankedRow) -> list[str]:
    e = row.entry
    pareto = "*" if row.pareto.get("latency") else ""
    latency = seconds_text(e.latency_s) + (" †" if e.latency_valid is False and e.latency_s is not None else "")
    return [("—" if row.rank is None else str(row.rank)) + pareto, e.model, e.runner, e.device,
            *(estimate_text(e.figures.get(f.key), f.percent) for f in _specs(board.kind)),
            latency, speed_text(e), "n/a" if e.peak_rss_bytes is None else human_bytes(e.peak_rss_bytes),
            energy_text(e), size_text(e), e.run_id, status_text(e)]


def footnotes(boards: list[BenchBoard]) -> list[str]:
    rows = [r.entry for b in boards for r in b.rows]
    notes = [RANK_NOTE, "* on the Pareto front of the headline figure against latency p50 (ranked runs)", CI_NOTE]
    kinds = sorted({b.kind for b in boards})
    notes += [f"{k}: {KIND_FIGURES[k].note}" for k in kinds if k in KIND_FIGURES]
    if any(e.latency_valid is False for e in rows):
        notes.append(LATENCY_NOTE)
    if any("estimate" in e.marks for e in rows):
        notes.append(ESTIMATE_NOTE)
    unavailable: dict[str, int] = {}
    for e in rows:
        if e.energy is None and e.energy_note:
            unavailable[e.energy_note] = unavailable.get(e.energy_note, 0) + 1
    notes += [f"energy unavailable ({n} run(s)): {why}" for why, n in unavailable.items()]
    for e in rows:
        if e.problems:
            more = f" (and {len(e.problems) - 1} more)" if len(e.problems) > 1 else ""
            notes.append(f"damaged: {e.path}: {e.problems[0]}{more}")
    return notes


def _stacked(cell: str) -> str:
    """A figure cell on two lines: the value, then its interval (narrow terminal columns)."""
    return cell.replace(" [", "\n[", 1)


def terminal(boards: list[BenchBoard]) -> RenderableType:
    """Rich tables, narrower than the Markdown one: model, runner and run id share a cell, intervals go
    under their figures, and a device or energy column that is the same for every run goes to the title."""
    if not boards:
        return Text("no run folders found (a run folder holds run.json)")
    parts: list[RenderableType] = []
    for b in boards:
        ranked = sum(r.rank is not None for r in b.rows)
        cols, rows = columns(b), [cells(b, r) for r in b.rows]
        title = f"{b.bench} ({b.kind}): {len(b.rows)} run(s), {ranked} ranked"
        keep = [c for c in cols if c not in ("model", "runner", "run")]
        for col in ("device", "energy"):
            values = {row[cols.index(col)] for row in rows}
            if len(values) == 1:
                title += f"; {col}: {values.pop()}"
                keep.remove(col)
        t = Table(title=title, header_style="bold")
        for c in keep:  # figures stay whole (speed and status may wrap)
            wraps = c in ("speed", "status")
            t.add_column(c, justify="right" if c == "#" else "left", no_wrap=not wraps,
                         overflow="fold" if wraps else "ellipsis")
            if c == "#":
                t.add_column("model / runner / run", no_wrap=True)
        specs = {f.label for f in _specs(b.kind)}
        for r, row in zip(b.rows, rows):
            at = dict(zip(cols, row))
            who = Text.assemble(f"{at['model']}\n{at['runner']}\n", (at["run"], "dim"))  # names: text, not markup
            values = [_stacked(at[c]) if c in specs else at[c] for c in keep]
            t.add_row(values[0], who, *values[1:], style=None if r.rank is not None else "dim")
        parts.append(t)
    parts.append(Text("\n".join(f"- {n}" for n in footnotes(boards)), style="dim"))
    return Group(*parts)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(boards: list[BenchBoard]) -> str:
    lines = []
    for b in boards:
        cols = columns(b)
        lines += [f"### {b.bench} ({b.kind})", "", "| " + " | ".join(cols) + " |",
                  "|" + "|".join("---:" if c == "#" else "---" for c in cols) + "|"]
        lines += ["| " + " | ".join(_md_cell(c) for c in cells(b, r)) + " |" for r in b.rows]
        lines.append("")
    lines += [f"- {_md_cell(n)}" for n in footnotes(boards)]
    return "\n".join(lines) + "\n"


def _figure_keys(boards: list[BenchBoard]) -> list[str]:
    keys: list[str] = []
    for b in boards:
        for f in _specs(b.kind):
            if f.key not in keys:
                keys.append(f.key)
    return keys


def records(boards: list[BenchBoard]) -> list[dict[str, Any]]:
    """One flat record per run (what CSV and JSON share)."""
    keys = _figure_keys(boards)
    out = []
    for b in boards:
        head = _specs(b.kind)[0].key if _specs(b.kind) else ""
        for r in b.rows:
            e = r.entry
            rec: dict[str, Any] = {
                "bench": e.bench, "kind": e.kind, "rank": r.rank, "status": status_text(e), "tier": e.tier,
                "model": e.model, "model_format": e.model_format, "model_size_bytes": e.model_size_bytes,
                "runner": e.runner, "runner_version": e.runner_version, "device": e.device, "cores": e.cores,
                "headline": head}
            for k in keys:
                est = e.figures.get(k)
                for field in ("value", "ci_low", "ci_high", "n", "ci_method", "basis"):
                    rec[f"{k}_{field}" if field != "value" else k] = None if est is None else getattr(est, field)
            rec.update({
                "latency_p50_s": e.latency_s, "latency_valid": e.latency_valid, "speed": e.speed,
                "speed_unit": e.speed_unit, "peak_rss_bytes": e.peak_rss_bytes,
                "energy": None if e.energy is None else e.energy.value,
                "energy_unit": None if e.energy is None else e.energy.unit,
                "energy_per": None if e.energy is None else e.energy.per,
                "energy_source": None if e.energy is None else e.energy.source,
                **{f"pareto_{axis}": r.pareto.get(axis) for axis, _, _ in PARETO_AXES},
                "items": e.n_items, "items_selected": e.n_selected, "started_at": e.started_at,
                **{f"sequential_{k}": (e.sequential or {}).get(k)
                   for k in ("figure", "estimate", "low", "high", "stop_reason", "items_left")},
                "marks": "; ".join(e.marks), "problems": " | ".join(e.problems), "path": e.path})
            out.append(rec)
    return out


def to_csv(boards: list[BenchBoard]) -> str:
    recs = records(boards)
    buf = io.StringIO()
    if recs:
        w = csv.DictWriter(buf, fieldnames=list(recs[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(recs)
    return buf.getvalue()


def to_json(boards: list[BenchBoard]) -> str:
    return json.dumps({"format": FORMAT, "runs": records(boards), "footnotes": footnotes(boards)}, indent=1) + "\n"
