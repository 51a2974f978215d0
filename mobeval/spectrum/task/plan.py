"""A spectrum-segmentation run before the model loads: the captures (an index; each capture is made
or read only when it is evaluated), the model, the metric settings; and `evaluate`, which makes each
capture (timed apart), has the runner prepare its input (timed apart) and segment it (the latency),
and scores the capture against its true signals."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mobeval.core.benchmarks import load_benchmark
from mobeval.core.sampling import stratified_sample
from mobeval.spectrum.benchmarks.dataset import CaptureRef, SpectrumSet
from mobeval.spectrum.benchmarks.generate import refuse_training_overlap
from mobeval.config import RunConfig
from mobeval.core.errors import DataError, MobevalError, RunnerError
from mobeval.core.hashing import text_sha256
from mobeval.measure.throughput import PREFIX as THROUGHPUT_PREFIX
from mobeval.measure.throughput import batch_throughput
from mobeval.spectrum.runners.base import SegmenterModel
from mobeval.spectrum.runners.net_model import resolve_model
from mobeval.core.task import TaskPlan
from mobeval.spectrum.task.features import N_BINS
from mobeval.spectrum.task.metrics import MetricSettings, runs, score_capture
from mobeval.spectrum.task.record import SpectrumRecord, group_order

METRICS = MetricSettings()  # threshold 0.5, no widening, IoU 0.5/0.7/0.9, 95% intervals (README)


@dataclass
class SpectrumPlan(TaskPlan):
    kind = "spectrum-segmentation"
    item_noun = "capture"

    config: RunConfig
    dataset: SpectrumSet
    refs: list[CaptureRef]
    model: SegmenterModel
    metrics: MetricSettings = METRICS

    @property
    def item_ids(self) -> list[str]:
        return [r.id for r in self.refs]

    def restrict(self, item_ids: set[str]) -> "SpectrumPlan":
        return replace(self, refs=[r for r in self.refs if r.id in item_ids])

    def replicas(self) -> list[int]:
        return [1] * len(self.refs)

    @property
    def n_items_total(self) -> int:
        return len(self.dataset.refs)

    @property
    def sources(self) -> list[str]:
        return self.dataset.sources

    @property
    def runner_model(self) -> SegmenterModel:
        return self.model

    def identity(self) -> dict[str, Any]:
        # --resume compares a fixed set of keys (results/resume.py), selection_sha256 among them: what
        # changes a record beyond the model (the data behind the ids, the metric settings) is folded into it.
        chosen = [[r.id, r.snr_level_db] for r in self.refs]
        settings = self.metrics.record()
        generator = self.dataset.description.get("generator", {})
        return {
            "model_sha256": self.model.sha256(),
            "selection_sha256": text_sha256(json.dumps(
                {"captures": chosen, "data_sha256": self.dataset.data_sha256, "metrics": settings}, sort_keys=True)),
            "data_sha256": self.dataset.data_sha256,
            "generator_version": generator.get("version"),
            "generator_seed": generator.get("seed"),
            "recipe_sha256": generator.get("recipe_sha256"),
            "metric_settings": settings,
        }

    def model_info(self) -> dict[str, Any]:
        return self.model.info()

    def data_info(self) -> dict[str, Any]:
        levels = sorted({r.stratum for r in self.refs}, key=group_order)
        return {
            **self.dataset.description,
            "data_sha256": self.dataset.data_sha256,
            "snr_groups_selected": levels,
            "metric_settings": self.metrics.record(),
            "n_bins": N_BINS,
        }

    def evaluate(self, runner: Any, item_ids: Sequence[str]) -> list[list[SpectrumRecord]]:
        by_id = {r.id: r for r in self.refs}
        samples = samples_read(runner)
        out = []
        for capture_id in item_ids:
            ref = by_id[capture_id]
            t0 = time.perf_counter()
            capture = self.dataset.capture(ref, samples)
            t1 = time.perf_counter()
            where = f"capture {capture_id}" + (f" ({capture.source['file']})" if "file" in capture.source else "")
            try:
                prepared = runner.prepare(capture)
                t2 = time.perf_counter()
                scores = runner.segment(prepared)
                t3 = time.perf_counter()
            except MobevalError as exc:
                raise RunnerError(f"{where}: {exc}") from exc
            scores = np.asarray(scores)
            try:
                s = score_capture(capture, scores, self.metrics)
            except DataError as exc:
                raise RunnerError(f"{where}: the runner's scores: {exc}") from exc
            out.append([SpectrumRecord(
                capture_id=capture_id, snr_level_db=capture.snr_level_db, n_signals=len(capture.signals),
                tp=s.tp, fp=s.fp, tn=s.tn, fn=s.fn, signal_ious=s.signal_ious,
                predicted_runs=tuple(runs(scores > self.metrics.threshold)), n_bins=s.n_bins,
                threshold=self.metrics.threshold, widen_bins=self.metrics.widen_bins,
                load_s=t1 - t0, prepare_s=t2 - t1, latency_s=t3 - t2,
            )])
        return out

    def value_population(self) -> dict[str, int]:
        """Every capture has a bin accuracy; per SNR group where each capture's group is known before it is made
        (its level, or empty spectrum), else all in one group "" (the groups' sizes then unknown)."""
        if any(r.snr_level_db is None and r.n_signals is None for r in self.refs):
            return {"": len(self.refs)}
        out: dict[str, int] = {}
        for r in self.refs:
            out[r.stratum] = out.get(r.stratum, 0) + 1
        return out

    def offline_phase(self, runner: Any) -> dict[str, dict]:
        """Captures per second at each --batch-sizes value (measure.throughput): the run's first captures
        (cycled when there are fewer than the batch), prepared beforehand, so the net (or detector) only.
        A runner with `segment_batch` takes the batch in one call; one without segments the captures one
        after another, and the figure says so."""
        sizes = self.config.batch_sizes
        if not sizes or not self.refs:
            return {}
        samples = samples_read(runner)
        prepared = [runner.prepare(self.dataset.capture(r, samples)) for r in self.refs[: max(sizes)]]
        batched = hasattr(runner, "segment_batch")
        note = ("captures prepared beforehand; one segment_batch call per batch" if batched else
                "captures prepared beforehand; the runner has no batched call: one segment call per capture")
        figs = {}
        for b in sizes:
            batch = [prepared[k % len(prepared)] for k in range(b)]
            call = (lambda: runner.segment_batch(batch)) if batched else (lambda: [runner.segment(x) for x in batch])
            figs[f"{THROUGHPUT_PREFIX}{b}"] = batch_throughput(call, b, "captures/s", note)
        return figs


def samples_read(runner: Any) -> int | None:
    """The leading samples of a capture the runner reads (its `samples_read`), None for all of them."""
    n = getattr(runner, "samples_read", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def plan_spectrum(cfg: RunConfig) -> SpectrumPlan:
    """Index the captures, resolve the model, refuse captures it was trained on: before anything loads."""
    model = resolve_model(cfg.runner, cfg.model)
    dataset = load_benchmark(cfg.bench, cfg.bench_options())
    refs = list(dataset.refs)
    if cfg.limit is not None:
        refs = stratified_sample(refs, cfg.limit, cfg.seed, key=lambda r: r.stratum)
    refuse_training_overlap(refs, model.training)
    return SpectrumPlan(cfg, dataset, refs, model)
