"""Spectrum segmentation as a task kind: its records, the figures overall and per SNR level (each with
its 95% interval, metrics.group_figures), latency per capture, the report's rows and per-SNR table,
agreement between two runners' masks in `mobeval compare`, and snr_table.csv."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from rich.console import RenderableType

from mobeval.measure.latency import single_stream
from mobeval.measure.throughput import throughput_rows
from mobeval.core.printing import Table, fig, plain
from mobeval.core.figures import Figure
from mobeval.core.task import Row, TaskKind
from mobeval.spectrum.task.metrics import (
    Estimate, MetricSettings, group_figures, iou_key, snr_table, table_csv,
)
from mobeval.spectrum.task.record import SpectrumRecord, group_order


class EstimateModel(BaseModel):
    """A figure with its confidence interval: `n` counts `n_unit` (bins, signals or captures)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_unit: str
    ci_method: str  # "bootstrap" (percentile, over captures) or "wilson"
    unit: str = "fraction"


class GroupFigures(BaseModel):
    n_captures: int
    n_signals: int
    figures: dict[str, EstimateModel]  # bin_accuracy, bin_f1, mean_iou, recall_at_iou_0.5, false_alarm_rate, ...


class SpectrumSection(BaseModel):
    n_captures: int
    n_signals: int
    n_empty: int  # captures of empty spectrum (what false alarms are counted on)
    overall: GroupFigures | None  # None when no capture was scored
    per_snr: dict[str, GroupFigures] = {}  # '-20' ... '10' (dB), 'empty', 'unknown'; SNR ascending
    metric_settings: dict[str, Any]


def _settings(records: list[SpectrumRecord]) -> MetricSettings:
    """The metric settings the records were scored with (one run has one)."""
    used = {(r.threshold, r.widen_bins) for r in records}
    if len(used) > 1:
        raise ValueError(f"records scored with different thresholds/widening: {sorted(used)}")
    if not used:
        return MetricSettings()
    threshold, widen = used.pop()
    return MetricSettings(threshold=threshold, widen_bins=widen)


def _group(records: list[SpectrumRecord], settings: MetricSettings) -> GroupFigures:
    figs = group_figures([r.score() for r in records], settings)
    return GroupFigures(n_captures=len(records), n_signals=sum(r.n_signals for r in records),
                        figures={k: EstimateModel(**asdict(e)) for k, e in figs.items()})


def _groups(records: list[SpectrumRecord]) -> dict[str, list[SpectrumRecord]]:
    out: dict[str, list[SpectrumRecord]] = {}
    for r in records:
        out.setdefault(r.group, []).append(r)
    return {g: out[g] for g in sorted(out, key=group_order)}


def _ci(e: EstimateModel | None, percent: bool = True) -> str:
    """'71.3% [68.0–74.1]' (or '0.713 [0.680–0.741]')."""
    if e is None or e.value is None:
        return "n/a"
    f = (lambda x: f"{100 * x:.1f}") if percent else (lambda x: f"{x:.3f}")
    unit = "%" if percent else ""
    if e.ci_low is None:
        return f"{f(e.value)}{unit}"
    return f"{f(e.value)}{unit} [{f(e.ci_low)}–{f(e.ci_high)}]"


def _cell(e: EstimateModel | None, percent: bool = True) -> str:
    """A table cell, narrower: '71.3 (68–74)' in percent, or '0.71 (0.68–0.74)'."""
    if e is None or e.value is None:
        return "—"
    if percent:
        v, lo, hi = (None if x is None else 100 * x for x in (e.value, e.ci_low, e.ci_high))
        return f"{v:.1f}" + ("" if lo is None else f" ({lo:.0f}–{hi:.0f})")
    return f"{e.value:.2f}" + ("" if e.ci_low is None else f" ({e.ci_low:.2f}–{e.ci_high:.2f})")


# (key, label, as percent, how)
SUMMARY = (
    ("mean_iou", "mean IoU per signal", False, "Hungarian-matched; unmatched signals count 0"),
    (iou_key(0.5), "recall at IoU 0.5", True, "share of true signals"),
    ("bin_f1", "bin F1", True, "pooled over bins"),
    ("bin_accuracy", "bin accuracy", True, "pooled over bins"),
    ("false_alarm_rate", "false-alarm rate", True, "empty-spectrum captures with any predicted bin"),
)


class SpectrumSegmentationKind(TaskKind):
    name = "spectrum-segmentation"
    item_noun = "capture"
    outputs = ("snr_table.csv",)
    section_model = SpectrumSection
    record_type = SpectrumRecord
    value_label = "bin accuracy, mean over captures"
    group_label = "SNR dB"

    def item_values(self, records: list[SpectrumRecord]) -> dict[str, float]:
        """Per capture, the share of its bins classified right ((TP+TN)/bins); over captures of equal size their
        mean is the pooled bin accuracy."""
        return {r.capture_id: (r.tp + r.tn) / r.n_bins for r in records if r.n_bins > 0}

    def item_groups(self, records: list[SpectrumRecord]) -> dict[str, str]:
        """A capture's SNR group: its level in dB, 'empty' or 'unknown' (as per_snr names them)."""
        return {r.capture_id: r.group for r in records}

    def record_problem(self, r: SpectrumRecord, replicas: int | None) -> str:
        if not isinstance(r.capture_id, str) or not r.capture_id:
            return "capture_id is not a string"
        if r.ordering != 0:
            return f"ordering {r.ordering!r}: a capture has one record"
        counts = (r.tp, r.fp, r.tn, r.fn)
        if not all(isinstance(c, int) and c >= 0 for c in (*counts, r.n_bins, r.n_signals)):
            return "bin counts and n_signals must be whole numbers >= 0"
        if sum(counts) != r.n_bins:
            return f"tp+fp+tn+fn = {sum(counts)}, not the {r.n_bins} bins"
        if len(r.signal_ious) > r.n_signals or any(not 0 <= x <= 1 for x in r.signal_ious):
            return f"{len(r.signal_ious)} IoUs in [0, 1] expected at most for {r.n_signals} signals"
        last = 0
        for a, b in r.predicted_runs:
            if not last <= a < b <= r.n_bins:
                return f"predicted run [{a}, {b}) is not sorted, disjoint and inside the {r.n_bins} bins"
            last = b
        for name in ("load_s", "prepare_s", "latency_s"):
            v = getattr(r, name)
            if not isinstance(v, (int, float)) or v < 0 or math.isnan(v):
                return f"{name} {v!r} is not a duration"
        return ""

    def section(self, records: list[SpectrumRecord]) -> SpectrumSection:
        settings = _settings(records)
        base = {"n_captures": len(records), "n_signals": sum(r.n_signals for r in records),
                "n_empty": sum(r.group == "empty" for r in records), "metric_settings": settings.record()}
        if not records:
            return SpectrumSection(**base, overall=None)
        return SpectrumSection(**base, overall=_group(records, settings),
                               per_snr={g: _group(rs, settings) for g, rs in _groups(records).items()})

    def performance(self, records: list[SpectrumRecord]) -> dict[str, Figure]:
        return single_stream(records, "capture", "the runner's segment call, one capture, single stream", {
            "prepare_latency": ("prepare_s", "the runner's prepare(capture): its input, outside the timed call"),
            "capture_load_latency": ("load_s", "generating the capture or reading its files, outside the runner"),
        })

    def header_lines(self, r: Any) -> list[str]:
        d = r.data
        lines = [(f"bench [bold]{plain(d['bench'])}[/]: {d.get('n_items_selected')} of {d.get('n_items_total')} "
                  f"captures, SNR groups {plain(', '.join(d.get('snr_groups_selected', [])))}")]
        g = d.get("generator")
        if g:
            lines.append(plain(f"generator v{g['version']}, seed {g['seed']}, split {g['split']}, recipe sha256 "
                               f"{str(g.get('recipe_sha256'))[:12]}…"))
        m = d.get("metric_settings", {})
        lines.append(plain(f"bins predicted where {m.get('predicted_if')}, widened by {m.get('widen_bins')} bin(s) "
                           f"for the bin figures; {100 * m.get('confidence', 0):.0f}% intervals"))
        return lines

    def summary_rows(self, r: Any) -> list[Row]:
        s = SpectrumSection.model_validate(r.task)
        figs = s.overall.figures if s.overall else {}
        rows = []
        for key, label, percent, how in SUMMARY:
            e = figs.get(key)
            n = f"{e.n:,} {e.n_unit}, {e.ci_method}" if e else "no such captures"
            rows.append((label, _ci(e, percent), f"{how}; {n}"))
        return rows

    def performance_rows(self, r: Any) -> list[Row]:
        perf = r.performance
        n = perf["inference_latency_p50"].count if "inference_latency_p50" in perf else 0
        return [
            ("latency per capture p50 / p90 / p99",
             " / ".join(fig(perf.get(f"inference_latency_{q}")) for q in ("p50", "p90", "p99")),
             f"the runner's segment call, single stream, n={n}"),
            ("latency figures valid", "yes" if perf.get("latency_valid") and perf["latency_valid"].value else "no",
             perf["latency_valid"].note if "latency_valid" in perf else ""),
            ("prepare p50", fig(perf.get("prepare_latency_p50")), "the runner's input from the capture"),
            ("capture generation / read p50", fig(perf.get("capture_load_latency_p50")), "outside the runner"),
            ("captures/s, single stream", fig(perf.get("captures_per_s"), "{:.1f}"), "1 / mean segment latency"),
        ] + throughput_rows(perf)

    def tables(self, r: Any) -> list[RenderableType]:
        s = SpectrumSection.model_validate(r.task)
        if not s.per_snr:
            return []
        t = Table(title="Per SNR level of the weakest signal (95% intervals; all figures in snr_table.csv)",
                  header_style="bold")
        cols = ("SNR dB", "captures/signals", "bin acc. %", "bin F1 %", "mean IoU", "IoU ≥ 0.5 %", "false alarm %")
        for c in cols:
            t.add_column(c, justify="left" if c == "SNR dB" else "right")
        for g, gf in s.per_snr.items():
            f = gf.figures
            t.add_row(g, f"{gf.n_captures} / {gf.n_signals}", _cell(f.get("bin_accuracy")), _cell(f.get("bin_f1")),
                      _cell(f.get("mean_iou"), percent=False), _cell(f.get(iou_key(0.5))),
                      _cell(f.get("false_alarm_rate")))
        return [t]

    def compare_rows(self, names: list[str], results: list[Any],
                     records: list[list[SpectrumRecord]]) -> list[tuple[str, list[str]]]:
        sections = [SpectrumSection.model_validate(r.task) for r in results]

        def overall(key: str, percent: bool = True) -> list[str]:
            return [_ci(s.overall.figures.get(key) if s.overall else None, percent) for s in sections]

        rows = [
            ("bench / captures", [f"{r.data['bench']} / {s.n_captures}" for r, s in zip(results, sections)]),
            ("data sha256", [str(r.data.get("data_sha256"))[:12] for r in results]),
            ("mean IoU per signal", overall("mean_iou", percent=False)),
            ("bin accuracy", overall("bin_accuracy")),
            ("recall at IoU 0.5", overall(iou_key(0.5))),
            ("bin F1", overall("bin_f1")),
            ("false-alarm rate", overall("false_alarm_rate")),
        ]
        differ, mask_iou = ["—"], ["—"]
        for other in records[1:]:
            a = mask_agreement(records[0], other)
            if a is None:
                differ.append("no shared captures")
                mask_iou.append("n/a")
            else:
                differ.append(f"{100 * a.bins_differ:.2f}% of {a.n_bins:,} bins ({a.n} captures)")
                mask_iou.append(f"{a.mean_mask_iou:.3f}")
        rows += [
            ("bins predicted differently vs #1", differ),
            ("predicted-mask IoU vs #1 (mean)", mask_iou),
            ("latency per capture p50", [fig(r.performance.get("inference_latency_p50")) for r in results]),
            ("captures/s, single stream", [fig(r.performance.get("captures_per_s"), "{:.1f}") for r in results]),
        ]
        return rows

    def compare_tables(self, names: list[str], results: list[Any]) -> list[RenderableType]:
        """Per SNR group, each run's per-bin accuracy (95% interval) and mean IoU, and each run's per-bin
        accuracy minus the first run's, in points."""
        sections = [SpectrumSection.model_validate(r.task) for r in results]
        groups = list(dict.fromkeys(g for s in sections for g in s.per_snr))
        t = Table(title="Per SNR level of the weakest signal: per-bin accuracy % (95% interval) | mean IoU",
                  header_style="bold")
        t.add_column("SNR dB")
        for name in names:
            t.add_column(name, justify="right", overflow="fold")
        for name in names[1:]:
            t.add_column(f"{name.split(' ')[0]} − #1 (points)", justify="right")

        def figure(s: SpectrumSection, g: str, key: str) -> EstimateModel | None:
            e = s.per_snr[g].figures.get(key) if g in s.per_snr else None
            return e if e is not None and e.value is not None else None

        for g in groups:
            accs = [figure(s, g, "bin_accuracy") for s in sections]
            ious = [figure(s, g, "mean_iou") for s in sections]
            cells = ["—" if g not in s.per_snr else f"{_cell(a)} | " + ("—" if i is None else f"{i.value:.2f}")
                     for s, a, i in zip(sections, accs, ious)]
            diffs = ["—" if accs[0] is None or a is None else f"{100 * (a.value - accs[0].value):+.1f}"
                     for a in accs[1:]]
            t.add_row(g, *cells, *diffs)
        return [t]

    def write_outputs(self, folder: Path, records: list[SpectrumRecord], item_ids: list[str]) -> list[Path]:
        """snr_table.csv: one row per figure and SNR group (metrics.snr_table), the overall figures last
        under snr_db 'all'."""
        path = folder / self.outputs[0]
        if not records:
            path.write_text(table_csv([]), encoding="utf-8")
            return [path]
        settings = _settings(records)
        per_group: dict[Any, dict[str, Estimate]] = {
            g: group_figures([r.score() for r in rs], settings) for g, rs in _groups(records).items()}
        per_group["all"] = group_figures([r.score() for r in records], settings)
        path.write_text(table_csv(snr_table(per_group)), encoding="utf-8")
        return [path]


class MaskAgreement(BaseModel):
    n: int  # captures both runs scored
    n_bins: int  # bins over those captures
    bins_differ: float  # share of bins predicted occupied by one run and not the other
    mean_mask_iou: float  # mean over captures of |A ∩ B| / |A ∪ B| (1 when neither predicts a bin)


def mask_agreement(reference: list[SpectrumRecord], other: list[SpectrumRecord]) -> MaskAgreement | None:
    """How far `other`'s predicted masks agree with `reference`'s over the captures both scored."""
    a, b = {r.capture_id: r for r in reference}, {r.capture_id: r for r in other}
    shared = [i for i in a if i in b and a[i].n_bins == b[i].n_bins]
    if not shared:
        return None
    differ = total = 0
    ious = []
    for i in shared:
        ma, mb = a[i].mask(), b[i].mask()
        differ += int(np.sum(ma != mb))
        total += ma.size
        union = int(np.sum(ma | mb))
        ious.append(1.0 if union == 0 else int(np.sum(ma & mb)) / union)
    return MaskAgreement(n=len(shared), n_bins=total, bins_differ=differ / total, mean_mask_iou=float(np.mean(ious)))
