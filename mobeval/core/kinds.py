"""Task kinds: what an item is, what a runner is asked, and how a response is scored.

Each kind lives in its modality's package (mobeval/text/task, mobeval/vision/task, ...), found through the
catalog (mobeval.core.catalog) and imported only when used. A benchmark declares its kind (mobeval.core.benchmarks), a runner the kinds it serves
(mobeval.core.runners); the run loop, the store and the printers go through mobeval.core.task only.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

from mobeval.core.catalog import catalog
from mobeval.core.entries import KindEntry
from mobeval.core.errors import MobevalError, did_you_mean

if TYPE_CHECKING:
    from mobeval.core.task import TaskKind, TaskPlan


KINDS: dict[str, KindEntry] = catalog().kinds


def kind_entry(name: str) -> KindEntry:
    if name not in KINDS:
        hint = f"; {name} is a benchmark: --bench {name}" if name in catalog().benchmarks else did_you_mean(name, KINDS)
        raise MobevalError(f"unknown task kind {name!r}{hint}; known: {', '.join(KINDS)}")
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


def plan_task(cfg: Any) -> TaskPlan:
    """The task plan of a run: its benchmark's kind loads the items and finds the model."""
    return _load(cfg.task, kind_entry(cfg.task).plan)(cfg)


def legacy_result_reader(version: str):
    """The function reading a result.json of an older schema `version` that a kind declares it reads
    (KindEntry.legacy_results), or None."""
    for entry in KINDS.values():
        if version in entry.legacy_results:
            module, attr = entry.legacy_results[version].split(":")
            return getattr(import_module(module), attr)
    return None
