"""An image-classification run before the model loads: the images, the model and its preprocessing;
and `evaluate`, which decodes and preprocesses each image (timed apart) and asks the runner for its
logits one image at a time (single stream). The offline phase times batches afterwards."""

from __future__ import annotations

import json
import time
from functools import cached_property
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from mobeval.core.benchmarks import load_benchmark
from mobeval.core.sampling import stratified_sample
from mobeval.vision.benchmarks.imagefolder import ImageFolderSet
from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError, RunnerError
from mobeval.core.hashing import file_sha256, text_sha256
from mobeval.measure.throughput import PREFIX as THROUGHPUT_PREFIX
from mobeval.measure.throughput import batch_throughput
from mobeval.vision.models.registry import VisionModel, resolve
from mobeval.core.task import OFFLINE_SECTION, TaskPlan
from mobeval.vision.task import quantized
from mobeval.vision.task.images import preprocessed
from mobeval.vision.task.items import ImageItem
from mobeval.vision.task.preprocess import PreprocessSpec, load_spec, stack
from mobeval.vision.task.record import ImageRecord, encode_logits
from mobeval.vision.task.scoring import ranks


@dataclass
class ImagePlan(TaskPlan):
    kind = "image-classification"
    item_noun = "image"

    config: RunConfig
    dataset: ImageFolderSet
    items: list[ImageItem]
    model: VisionModel
    spec: PreprocessSpec
    quant: quantized.QuantizedRun | None = None  # the model is a quantized .onnx: its float reference
    whole_images_sha256: str | None = None  # a shard's (restrict): the whole selection's, which every shard shares

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    def restrict(self, item_ids: set[str]) -> "ImagePlan":
        return replace(self, items=[i for i in self.items if i.id in item_ids], whole_images_sha256=self.images_sha256)

    def replicas(self) -> list[int]:
        return [1] * len(self.items)

    @property
    def n_items_total(self) -> int:
        return len(self.dataset.items)

    @property
    def sources(self) -> list[str]:
        return sorted({i.source for i in self.dataset.items})

    @property
    def runner_model(self) -> VisionModel:
        return self.model

    def identity(self) -> dict[str, Any]:
        chosen = [[i.id, i.label] for i in self.items]
        return {
            "model_sha256": self.model.sha256(),
            "selection_sha256": text_sha256(json.dumps(chosen, ensure_ascii=False)),
            "preprocess_sha256": self.spec.sha256(),
            # the pictures themselves: a run resumed over replaced images would mix two data sets
            "images_sha256": self.images_sha256,
        }

    @cached_property
    def images_sha256(self) -> str:
        """One sha256 over every selected image's bytes (each file's hash cached by path, size and mtime); a shard
        gives the whole selection's."""
        if self.whole_images_sha256 is not None:
            return self.whole_images_sha256
        return text_sha256(json.dumps([[i.id, file_sha256(i.path)] for i in self.items]))

    def model_info(self) -> dict[str, Any]:
        m = self.model
        return {
            "alias": m.alias, "name": m.name, "source": m.origin.split(":", 1)[0], "origin": m.origin,
            "format": m.format, "path": str(m.path) if m.path else None, "remote": False,
            "size_bytes": m.path.stat().st_size if m.path else None, "sha256": m.sha256(),
            "num_classes": m.num_classes,
            **({"quantization": self.quant.model_info()} if self.quant else {}),
        }

    def data_info(self) -> dict[str, Any]:
        return {
            "layout": self.dataset.layout, "root": str(self.dataset.root),
            "n_classes_selected": len({i.label for i in self.items}),
            "has_key": any(i.label is not None for i in self.items),
            "preprocess": {**self.spec.model_dump(mode="json"), "resize_size": self.spec.resize_size},
            "preprocess_sha256": self.spec.sha256(),
            **({"calibration": self.quant.data_info()} if self.quant else {}),
        }

    def _input(self, item: ImageItem) -> np.ndarray:
        return preprocessed(self.spec, item.path)

    def evaluate(self, runner: Any, item_ids: Sequence[str]) -> list[list[ImageRecord]]:
        by_id = {i.id: i for i in self.items}
        out = []
        for image_id in item_ids:
            item = by_id[image_id]
            t0 = time.perf_counter()
            batch = stack([self._input(item)])
            t1 = time.perf_counter()
            try:
                logits = runner.classify(batch)
            except MobevalError as exc:
                raise RunnerError(f"image {image_id}: {exc}") from exc
            t2 = time.perf_counter()
            row = np.asarray(logits, dtype=np.float32)
            if row.shape != (1, self.model.num_classes):
                raise RunnerError(f"image {image_id}: the model gave logits of shape {row.shape}, expected "
                                  f"(1, {self.model.num_classes})")
            bad = int((~np.isfinite(row)).sum())
            if bad:  # argmax over NaN is class 0: a broken model would be scored as answering
                raise RunnerError(f"image {image_id}: {bad} of the model's {row.size} logits are NaN or infinite; "
                                  "the model or its runtime is broken for this input")
            out.append([ImageRecord(
                image_id=image_id, label=item.label, class_name=item.class_name, top5=tuple(int(c) for c in ranks(row, 5)[0]),
                logits_b64=encode_logits(row[0]), n_classes=row.shape[1], preprocess_s=t1 - t0, latency_s=t2 - t1,
            )])
        return out

    def value_population(self) -> dict[str, int]:
        """The labelled images (the kind's item_values; no groups)."""
        return {"": sum(i.label is not None for i in self.items)}

    def offline_phase(self, runner: Any) -> dict[str, dict]:
        """Throughput at each --batch-sizes value; and for a quantized model, its figures against
        the float model on this run's images (stored in the task section)."""
        figs = self.throughput(runner)
        if self.quant is not None:
            figs[OFFLINE_SECTION] = {"quantization": self.quantization(runner).model_dump(mode="json")}
        return figs

    def quantization(self, runner: Any):
        """The quantized runner's logits (run again: the records are on disk, not here) against the
        float model's on every item, and SQNR per layer and weight (mobeval.vision.quantize.analysis)."""
        from mobeval.vision.quantize.analysis import analyse

        inputs = [stack([self._input(i)]) for i in self.items]
        logits = np.concatenate([np.asarray(runner.classify(x), dtype=np.float32) for x in inputs])
        return analyse(self.quant.manifest, self.quant.path, inputs, logits, [i.label for i in self.items],
                       item_ids=self.item_ids, excluded=self.quant.excluded, target=self.config.accuracy_target, seed=self.config.seed)

    def throughput(self, runner: Any) -> dict[str, dict]:
        """Images per second at each --batch-sizes value (measure.throughput): real preprocessed images
        (cycled when there are fewer than the batch), preprocessed beforehand: inference only."""
        sizes = self.config.batch_sizes
        if not sizes:
            return {}
        inputs = [self._input(i) for i in self.items[: max(sizes)]]
        figs = {}
        for b in sizes:
            batch = stack([inputs[k % len(inputs)] for k in range(b)])
            figs[f"{THROUGHPUT_PREFIX}{b}"] = batch_throughput(lambda: runner.classify(batch), b, "images/s",
                                                               "inputs preprocessed beforehand")
        return figs


def plan_images(cfg: RunConfig) -> ImagePlan:
    """Load the images and find the model and its preprocessing; everything that can fail before it loads."""
    found = quantized.lookup(cfg.model_name)
    quantized.check_settings(cfg, found)
    dataset = load_benchmark(cfg.bench, cfg.bench_options())
    items = list(dataset.items)
    quant = None
    if found is not None:
        items, quant = quantized.evaluation_items(cfg, items, *found)
    if cfg.limit is not None:
        items = stratified_sample(items, cfg.limit, cfg.seed, key=lambda i: str(i.label))
    if quant is not None:
        quantized.check_overlap(cfg, quant, items)
    override = load_spec(cfg.preprocess) if cfg.preprocess else None
    if override is None and found is not None:
        override = quantized.preprocess_of(found[1])
    model = resolve(cfg.model_name, override)
    if quant is not None:
        model = quantized.as_quantized(model, quant)
    if model.preprocess is None:
        raise MobevalError(f"--model {cfg.model_name}: its preprocessing is not known; give --preprocess "
                           "(a preset name, or a JSON file of the fields in the README)")
    labels = [i.label for i in items if i.label is not None]
    if labels and max(labels) >= model.num_classes:
        raise MobevalError(f"--bench {cfg.bench}: class index {max(labels)} is outside the model's "
                           f"{model.num_classes} classes (check --labels)")
    return ImagePlan(cfg, dataset, items, model, model.preprocess, quant)

