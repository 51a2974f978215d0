"""Each level of a sweep is an ordinary mobeval run (engine.plan / engine.execute) in the sweep folder, so
`mobeval compare`, `report` and `board` read it like any other run. A level whose run in the folder is
complete is not run again; an unfinished one is continued."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import mobeval.engine as engine
from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError
from mobeval.text.models import ModelSpec
from mobeval.results.integrity import check_run
from mobeval.results.resume import differences
from mobeval.results.store import RunDir, folder_prefix
from mobeval.sweep.files import LevelFile

How = Literal["reused", "resumed", "new"]


@dataclass(frozen=True)
class LevelRun:
    level: str
    folder: Path
    how: How  # reused: complete already; resumed: an unfinished run continued; new


def level_alias(alias: str, level: str) -> str:
    return f"{alias}-{level}"


def level_plan(cfg: RunConfig, source: ModelSpec, lf: LevelFile) -> engine.Plan:
    """The run of one level: the base settings with the level's file as the model, named `<alias>-<LEVEL>`
    with the level as its quant (the run's model section and folder name say which level it is)."""
    level_cfg = cfg.with_changes(model=str(lf.path))
    p = engine.plan(level_cfg)
    spec = ModelSpec(alias=level_alias(source.alias, lf.level), name=f"{source.name} {lf.level} ({lf.how})",
                     source="local", file=str(lf.path), quant=lf.level, size_bytes=lf.path.stat().st_size,
                     sha256=lf.sha256)
    return engine.Plan(level_cfg, replace(p.task, spec=spec))


def existing(root: Path, p: engine.Plan) -> tuple[How, RunDir | None]:
    """The newest undamaged run of this level in `root` whose identity matches `p`: reused when complete,
    resumed when not; 'new' when there is none."""
    identity = p.identity()
    folders = sorted((f for f in Path(root).glob(folder_prefix(p.alias, p.config.bench) + "*") if f.is_dir()),
                     key=lambda f: f.stat().st_mtime, reverse=True)
    for folder in folders:
        try:
            if differences(RunDir(folder).identity(), identity):
                continue
        except MobevalError:
            continue
        c = check_run(folder, need_result=False)
        if c.problems:
            continue
        return ("reused" if c.complete else "resumed"), RunDir(folder)
    return "new", None


def run_level(p: engine.Plan, root: Path, progress: engine.Progress | None = None,
              on_open: Callable[[RunDir], None] | None = None) -> LevelRun:
    """Run (or reuse, or continue) one level's evaluation in `root`."""
    how, run = existing(root, p)
    if how == "reused":
        return LevelRun(p.task.spec.quant, run.path, how)
    if run is None:
        run = engine.open_run_dir(p, resume=False, run_dir=None)  # a new folder under p.config.output_dir
    engine.execute(p, run, progress, on_open)
    return LevelRun(p.task.spec.quant, run.path, how)
