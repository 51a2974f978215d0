"""Image classification as a task kind: its records, top-1/top-5/per-class scores, latency split into
preprocessing and inference, the report's rows, agreement between runners (flip rate, logit SQNR)
and predictions.csv."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Hashable

import numpy as np
from pydantic import BaseModel
from rich.console import RenderableType

from mobeval.measure.latency import single_stream
from mobeval.measure.throughput import throughput_rows
from mobeval.core.printing import Table, fig, pct, plain
from mobeval.vision.quantize.analysis import QuantizationSection
from mobeval.core.figures import Figure
from mobeval.core.task import Row, TaskKind
from mobeval.vision.task.record import ImageRecord
from mobeval.vision.task.scoring import agreement, score


class ClassAccuracy(BaseModel):
    name: str
    n: int
    top1: float


class ImageClassificationSection(BaseModel):
    """Rates are fractions in [0, 1], over the labelled images."""

    n_images: int
    n_labelled: int
    top1: float | None
    top5: float | None
    mean_per_class_top1: float | None  # top-1 averaged over classes (balanced accuracy)
    n_classes: int  # classes among the labelled images
    per_class: dict[str, ClassAccuracy] = {}  # class index -> its accuracy
    unit: str = "fraction"
    # a quantized model's figures against its float model (the run's offline phase; tasks.base.OFFLINE_SECTION)
    quantization: QuantizationSection | None = None


class ImageClassificationKind(TaskKind):
    name = "image-classification"
    item_noun = "image"
    outputs = ("predictions.csv",)
    section_model = ImageClassificationSection
    record_type = ImageRecord
    value_label = "top-1 accuracy"

    def record_problem(self, r: ImageRecord, replicas: int | None) -> str:
        if not isinstance(r.image_id, str) or not r.image_id:
            return "image_id is not a string"
        if r.ordering != 0:
            return f"ordering {r.ordering!r}: an image has one record"
        try:
            logits = r.logits()
        except (ValueError, TypeError) as exc:
            return f"logits are not base64 float32 ({exc})"
        if logits.shape != (r.n_classes,) or not 1 <= len(r.top5) <= 5:
            return f"{logits.shape[0]} logits for {r.n_classes} classes"
        if r.label is not None and not 0 <= r.label < r.n_classes:
            return f"label {r.label} is outside 0..{r.n_classes - 1}"
        for name in ("latency_s", "preprocess_s"):
            v = getattr(r, name)
            if not isinstance(v, (int, float)) or v < 0 or math.isnan(v):
                return f"{name} {v!r} is not a duration"
        return ""

    def section(self, records: list[ImageRecord]) -> ImageClassificationSection:
        labelled = [r for r in records if r.label is not None]
        if not labelled:
            return ImageClassificationSection(n_images=len(records), n_labelled=0, top1=None, top5=None,
                                              mean_per_class_top1=None, n_classes=0)
        names = {r.label: r.class_name for r in labelled}
        s = score(np.stack([r.logits() for r in labelled]), [r.label for r in labelled])
        return ImageClassificationSection(
            n_images=len(records), n_labelled=s.n, top1=s.top1, top5=s.top5,
            mean_per_class_top1=s.mean_per_class_top1, n_classes=len(s.per_class),
            per_class={str(c): ClassAccuracy(name=names.get(c, str(c)), n=v.n, top1=v.top1)
                       for c, v in sorted(s.per_class.items())},
        )

    def performance(self, records: list[ImageRecord]) -> dict[str, Figure]:
        return single_stream(records, "image", "the runner's classify call, one image (batch 1), single stream",
                             {"preprocess_latency": ("preprocess_s",
                                                     "decode + resize + crop + normalise, outside the runner")})

    def header_lines(self, r: Any) -> list[str]:
        d, p = r.data, r.data.get("preprocess", {})
        return [
            f"bench [bold]{plain(d['bench'])}[/]: {d.get('n_items_selected')} of {d.get('n_items_total')} images, "
            f"{d.get('n_classes_selected')} classes ({plain(d.get('layout'))})"
            + ("" if d.get("has_key") else ", [yellow]no labels[/]"),
            plain(f"preprocessing: {p.get('channel_order')} short side {p.get('resize_size')} "
                  f"({p.get('interpolation')}), crop {p.get('crop')}, mean {p.get('mean')} std {p.get('std')} "
                  f"x{p.get('scale'):.5g}, {p.get('layout')} {p.get('dtype')} "
                  f"(sha256 {str(d.get('preprocess_sha256'))[:12]}…)"),
        ]

    def summary_rows(self, r: Any) -> list[Row]:
        s = ImageClassificationSection.model_validate(r.task)
        return [
            ("top-1 accuracy", pct(s.top1), f"{s.n_labelled} labelled images"),
            ("top-5 accuracy", pct(s.top5), "the label among the 5 highest logits"),
            ("mean per-class top-1", pct(s.mean_per_class_top1), f"over {s.n_classes} classes"),
        ]

    def performance_rows(self, r: Any) -> list[Row]:
        perf = r.performance
        n = perf["inference_latency_p50"].count if "inference_latency_p50" in perf else 0
        rows = [
            ("inference latency p50 / p90 / p99",
             " / ".join(fig(perf.get(f"inference_latency_{q}")) for q in ("p50", "p90", "p99")),
             f"batch 1, single stream, n={n}"),
            ("latency figures valid", "yes" if perf.get("latency_valid") and perf["latency_valid"].value else "no",
             perf["latency_valid"].note if "latency_valid" in perf else ""),
            ("preprocessing p50", fig(perf.get("preprocess_latency_p50")), "decode, resize, crop, normalise"),
            ("images/s, single stream", fig(perf.get("images_per_s"), "{:.1f}"), "1 / mean inference latency"),
        ]
        return rows + throughput_rows(perf)

    def tables(self, r: Any) -> list[RenderableType]:
        from mobeval.vision.quantize.tables import quantization_tables

        s = ImageClassificationSection.model_validate(r.task)
        return self.class_tables(s) + (quantization_tables(s.quantization) if s.quantization else [])

    def class_tables(self, s: ImageClassificationSection) -> list[RenderableType]:
        if len(s.per_class) < 2:
            return []
        worst = sorted(s.per_class.items(), key=lambda kv: (kv[1].top1, -kv[1].n, int(kv[0])))[:10]
        t = Table(title=f"Per class, lowest top-1 ({len(worst)} of {len(s.per_class)})", header_style="bold")
        for col in ("class", "name", "n", "top-1"):
            t.add_column(col, justify="right" if col in ("n", "top-1") else "left")
        for c, a in worst:
            t.add_row(c, a.name, str(a.n), pct(a.top1))
        return [t]

    def item_values(self, records: list[ImageRecord]) -> dict[str, float]:
        """Per labelled image, 1 when its top-1 class is the label (their mean is top-1 accuracy). No groups:
        a class is too fine a group for an interval."""
        return {r.image_id: float(r.prediction == r.label) for r in records if r.label is not None}

    def item_outcomes(self, records: list[ImageRecord]) -> dict[str, dict[str, tuple[bool, Hashable]]]:
        labelled = {r.image_id: r for r in records if r.label is not None}
        return {"top-1": {i: (r.prediction == r.label, r.prediction) for i, r in labelled.items()}} if labelled else {}

    def compare_rows(self, names: list[str], results: list[Any],
                     records: list[list[ImageRecord]]) -> list[tuple[str, list[str]]]:
        sections = [ImageClassificationSection.model_validate(r.task) for r in results]
        rows = [
            ("bench / images", [f"{r.data['bench']} / {s.n_images}" for r, s in zip(results, sections)]),
            ("preprocessing sha256", [str(r.data.get("preprocess_sha256"))[:12] for r in results]),
            ("top-1 accuracy", [pct(s.top1) for s in sections]),
            ("top-5 accuracy", [pct(s.top5) for s in sections]),
        ]
        flips, sqnr = ["—"], ["—"]
        for other in records[1:]:
            a = run_agreement(records[0], other)
            if a is None:
                flips.append("no shared images")
                sqnr.append("n/a")
            else:
                flips.append(f"{pct(a.flip_rate)} ({a.flips} of {a.n})")
                sqnr.append("identical" if math.isinf(a.sqnr_db) and a.sqnr_db > 0 else f"{a.sqnr_db:.1f} dB")
        rows += [
            ("prediction flips vs #1", flips),
            ("logit SQNR vs #1", sqnr),
            ("inference latency p50", [fig(r.performance.get("inference_latency_p50")) for r in results]),
            ("images/s, single stream", [fig(r.performance.get("images_per_s"), "{:.1f}") for r in results]),
        ]
        return rows

    def write_outputs(self, folder: Path, records: list[ImageRecord], item_ids: list[str]) -> list[Path]:
        path = folder / self.outputs[0]
        by_id = {r.image_id: r for r in records}
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["image_id", "predicted_class", "top5", "label", "label_name"])
            for i in item_ids:
                if i in by_id:
                    r = by_id[i]
                    w.writerow([i, r.prediction, " ".join(map(str, r.top5)),
                                "" if r.label is None else r.label, r.class_name])
        return [path]


def run_agreement(reference: list[ImageRecord], other: list[ImageRecord]):
    """Flip rate and logit SQNR of `other` against `reference` over the images both scored (None: none)."""
    a, b = {r.image_id: r for r in reference}, {r.image_id: r for r in other}
    shared = sorted(set(a) & set(b))
    if not shared or any(a[i].n_classes != b[i].n_classes for i in shared):
        return None
    return agreement(np.stack([a[i].logits() for i in shared]), np.stack([b[i].logits() for i in shared]))

