"""Task kinds: what an item is, what a runner is asked, and how a response is scored.

Each kind lives in its own package (tasks/mcq, tasks/image_classification, ...) and is imported only
when used. A benchmark declares its kind (mobeval.benchmarks), a runner the kinds it serves
(mobeval.runners); the run loop, the store and the printers go through mobeval.tasks.base only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

from mobeval.errors import MobevalError

if TYPE_CHECKING:
    from mobeval.config import RunConfig
    from mobeval.tasks.base import TaskKind, TaskPlan


@dataclass(frozen=True)
class KindEntry:
    kind: str  # "module:Class" of its TaskKind
    plan: str  # "module:function" making its TaskPlan from a RunConfig
    description: str
    default_bench: str
    default_runner: str
    default_model: str
    extra: str = ""  # the pip extra that brings its dependencies ("" : the base install)


KINDS: dict[str, KindEntry] = {
    "mcq": KindEntry("mobeval.tasks.mcq.kind:McqKind", "mobeval.tasks.mcq.plan:plan_mcq",
                     "multiple-choice questions, scored under several orderings of the options",
                     "everyday-mobile", "llama.cpp", "smollm2-135m"),
    "image-classification": KindEntry(
        "mobeval.tasks.image_classification.kind:ImageClassificationKind",
        "mobeval.tasks.image_classification.plan:plan_images",
        "labelled images; top-1/top-5 from the model's logits", "imagenet-photos", "onnxruntime",
        "efficientnet-lite0", extra="vision"),
    "spectrum-segmentation": KindEntry(
        "mobeval.tasks.spectrum_segmentation.kind:SpectrumSegmentationKind",
        "mobeval.tasks.spectrum_segmentation.plan:plan_spectrum",
        "IQ captures; occupancy per FFT bin, IoU per signal, false alarms, per SNR level",
        "synthetic-spectrum", "spectrum-torch", "cmusenet-small", extra="spectrum"),
    "vlm": KindEntry("mobeval.tasks.vlm.kind:VlmKind", "mobeval.tasks.vlm.plan:plan_vlm",
                     "image questions for vision-language models: multiple choice under orderings, or open answers",
                     "vlm-digits", "hybrid", "digits-vlm", extra="vision"),
}


def kind_entry(name: str) -> KindEntry:
    if name not in KINDS:
        raise MobevalError(f"unknown task kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name]


def _load(name: str, target: str):
    """The kind's class or plan function; a missing third-party package is an error saying what to install."""
    module, attr = target.split(":")
    try:
        return getattr(import_module(module), attr)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "mobeval":
            raise
        extra = KINDS[name].extra
        how = f"pip install 'mobeval[{extra}]'" if extra else f"pip install {exc.name}"
        raise MobevalError(f"{name} tasks need the package {exc.name!r}, which is not installed: {how}") from exc


@cache
def task_kind(name: str) -> TaskKind:
    return _load(name, kind_entry(name).kind)()


def plan_task(cfg: RunConfig) -> TaskPlan:
    """The task plan of a run: its benchmark's kind loads the items and finds the model."""
    return _load(cfg.task, kind_entry(cfg.task).plan)(cfg)
