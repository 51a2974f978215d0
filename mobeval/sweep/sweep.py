"""One sweep: a model at several quantization levels on one benchmark, each level an ordinary run in the
sweep folder, and sweep.json describing the whole (source model, how each level's file was had, which run
holds each level, the table and the fronts)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mobeval.engine as engine
from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError
from mobeval.text.models import resolve
from mobeval.sweep.files import LevelFile, LevelFiles
from mobeval.sweep.levels import Level
from mobeval.sweep.runs import LevelRun, level_plan, run_level
from mobeval.sweep.table import SweepRow, sweep_rows

SCHEMA = "mobeval.sweep/1"
SWEEP_FILE = "sweep.json"
# the settings that make two sweeps' runs comparable; a sweep folder holds one set of them
SETTING_KEYS = ("bench", "data", "limit", "seed", "orderings", "method", "max_tokens", "chat", "template",
                "shots", "subjects")


@dataclass(frozen=True)
class SweepRequest:
    model: str
    levels: list[Level]  # most precise first
    config: RunConfig  # the run settings every level shares (model is set per level)
    folder: Path
    published: dict[str, Path] = field(default_factory=dict)
    reference: str | None = None  # default: the most precise level

    @property
    def reference_level(self) -> str:
        return self.reference.upper() if self.reference else self.levels[0].name

    def settings(self) -> dict[str, Any]:
        dumped = self.config.model_dump(mode="json")
        return {k: dumped.get(k) for k in SETTING_KEYS}


@dataclass
class Events:
    """What the caller is told as the sweep goes (the CLI prints it; tests may ignore it)."""

    file: Callable[[LevelFile], None] = lambda lf: None
    level_start: Callable[[str, engine.Plan], None] = lambda level, plan: None
    progress: Callable[[int, int], None] | None = None
    level_done: Callable[[LevelRun], None] = lambda run: None


@dataclass
class SweepOutcome:
    folder: Path
    model: dict[str, Any]
    bench: str
    note: str  # the requantization caveat, '' when levels come from a float file
    reference: str
    files: list[LevelFile]
    runs: list[LevelRun]
    rows: list[SweepRow]


def _check_folder(req: SweepRequest, model: dict[str, Any]) -> None:
    """A sweep folder holds one model and one set of settings; another sweep goes in another folder."""
    path = req.folder / SWEEP_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MobevalError(f"{path}: unreadable ({exc}); move it away or give another --out") from exc
    was = {"model_sha256": (old.get("model") or {}).get("sha256"), **(old.get("settings") or {})}
    now = {"model_sha256": model["sha256"], **req.settings()}
    diff = [f"{k} ({was.get(k)} there, {now.get(k)} here)" for k in now if was.get(k) != now.get(k)]
    if diff:
        raise MobevalError(f"{req.folder} holds a sweep with other settings: {'; '.join(diff)}; give another "
                           "--out for this one, or repeat that sweep's settings to continue it")


def _write(req: SweepRequest, out: SweepOutcome) -> None:
    body = {
        "schema_version": SCHEMA, "model": out.model, "bench": out.bench, "settings": req.settings(),
        "note": out.note, "reference": out.reference,
        "levels": [{"level": lf.level, "file": lf.to_json(),
                    "run": os.path.relpath(run.folder, req.folder), "run_was": run.how}
                   for lf, run in zip(out.files, out.runs)],
        "table": [r.to_json() for r in out.rows],
    }
    tmp = req.folder / (SWEEP_FILE + ".tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, req.folder / SWEEP_FILE)


def run_sweep(req: SweepRequest, events: Events | None = None) -> SweepOutcome:
    """Have each level's file, run (or reuse) each level, then the table; sweep.json is rewritten after
    every level so an interrupted sweep still says what it has."""
    ev = events or Events()
    names = [lv.name for lv in req.levels]
    if req.reference_level not in names:
        raise MobevalError(f"--reference {req.reference}: not one of --quants ({', '.join(names)})")
    unknown = sorted(set(req.published) - set(names))
    if unknown:
        raise MobevalError(f"--file {unknown[0]}=...: {unknown[0]} is not one of --quants ({', '.join(names)})")
    spec, source = resolve(req.model)
    files = LevelFiles(spec, source, req.published, req.config.threads)
    model = {"alias": spec.alias, "name": spec.name, "origin": spec.origin, "path": str(source),
             "quant": files.source_level, "sha256": files.source_sha256, "size_bytes": source.stat().st_size}
    _check_folder(req, model)
    req.folder.mkdir(parents=True, exist_ok=True)
    cfg = req.config.with_changes(output_dir=req.folder)
    out = SweepOutcome(req.folder, model, cfg.bench, files.note(), req.reference_level, [], [], [])
    for lv in req.levels:
        lf = files.get(lv)
        ev.file(lf)
        plan = level_plan(cfg, spec, lf)
        ev.level_start(lv.name, plan)
        run = run_level(plan, req.folder, ev.progress)
        ev.level_done(run)
        out.files.append(lf)
        out.runs.append(run)
        _write(req, out)
    out.rows = sweep_rows([(lf.level, run.folder, lf.facts.bits_per_weight) for lf, run in zip(out.files, out.runs)],
                          req.reference_level, cfg.seed)
    _write(req, out)
    return out
