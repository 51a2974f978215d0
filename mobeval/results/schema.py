"""The versioned result schema (result.json). Printers read only this.

Version 2 (`mobeval.result/2`) is a common envelope (model, data, runner, environment, performance,
memory, energy, provenance) and a task section whose shape the task kind (`kind`) defines. Version 1
(`mobeval.result/1`, multiple choice only, scores at the top level) is still read: `load_result`
turns it into a version-2 Result in memory, and the file is left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from mobeval.core.errors import MobevalError
from mobeval.core.figures import Figure

SCHEMA_VERSION = "mobeval.result/2"
V1 = "mobeval.result/1"


class Integrity(BaseModel):
    """What the result was computed from, so a reader can tell the files were not changed since."""

    samples_sha256: str  # of samples.jsonl's bytes
    samples_bytes: int
    samples: int  # samples read from those bytes
    selection_file_sha256: str | None = None  # of selection.json


class Provenance(BaseModel):
    """Where the result came from: the files it was computed from and the hashes that identify the run."""

    integrity: Integrity | None = None  # absent in results written before mobeval recorded it
    hashes: dict[str, str | None] = {}  # model, selection, template or preprocessing: sha256 of each
    upgraded_from: str | None = None  # set in memory when an older result.json was read
    # a run joined from `--shard` runs (mobeval merge): each shard's folder, shard, samples sha256, machine
    merged_from: list[dict[str, Any]] | None = None


class SequentialGroup(BaseModel):
    """One group's estimate in a run under --until/--budget, with its own confidence sequence."""

    n: int  # items of the group with a value, run
    estimate: float
    low: float
    high: float
    population: int | None = None  # the group's items with a value in the selection (None: not known up front)


class SequentialSection(BaseModel):
    """A run under --until/--budget (mobeval/stopping.py): the items ran in a seeded random order; the estimate of
    the kind's per-item figure over the whole selection, with its anytime-valid 95% interval, when it stopped and
    why. Absent from every other run's result."""

    method: str  # mobeval.measure.sequential.METHOD
    alpha: float
    rule: dict[str, str | None]  # {"until": "ci=0.02" or None, "budget": "20m,500" or None}, as given
    order: str  # how the items were ordered
    figure: str  # what the estimate is the mean of (the kind's per-item value)
    stop_reason: str  # "interval reached ±0.02", "budget: 500 items", "budget: 20 min", "every item", "interrupted"
    stopped_early: bool  # it stopped with items left (by its rule)
    items_used: int  # items run
    items_left: int  # selected items not run
    items_with_value: int  # items run that have a value (keyed): the sequence's length
    estimate: float | None  # mean of the values
    low: float | None
    high: float | None
    half_width: float | None
    population: int | None  # items with a value in the selection, when known before the run (None: not known)
    sampling: str  # without replacement from `population`, or independent draws
    group_label: str = ""  # what the groups are ("field", "SNR dB", "category"); "" none
    groups: dict[str, SequentialGroup] = {}
    spent: dict[str, float | str] = {}  # eval_seconds; joules and energy_source where metered


class Metric(BaseModel):
    """One headline figure of a run, the same shape for every task kind: a proportion (unit "fraction") with
    its 95% interval and how that was computed, over `n` `n_unit`; `basis` names which figure it is where a
    kind falls back from one to another (multiple choice: "debiased" or "original")."""

    name: str
    label: str
    value: float
    unit: str = "fraction"
    low: float | None = None
    high: float | None = None
    method: str = ""  # "wilson", "bootstrap"; "" where there is no interval
    n: int = 0
    n_unit: str = ""
    basis: str = ""
    higher_is_better: bool = True


class Result(BaseModel):
    schema_version: Literal["mobeval.result/2"] = SCHEMA_VERSION
    kind: str  # the task kind (mobeval.core.kinds): mcq, image-classification, ...
    mobeval_version: str
    status: Literal["complete", "partial"]
    started_at: str
    finished_at: str
    config: dict[str, Any]
    environment: dict[str, Any]
    model: dict[str, Any]
    runner: dict[str, Any]
    data: dict[str, Any]
    performance: dict[str, Figure]
    memory: dict[str, Figure]
    energy: dict[str, Figure]
    provenance: Provenance = Provenance()
    task: dict[str, Any]  # the kind's section (its section_model, checked by load_result)
    sequential: SequentialSection | None = None  # a run under --until/--budget only (absent in older files)
    # the kind's headline figures with their intervals, one shape for every kind (absent in older files)
    metrics: list[Metric] = []

    @property
    def integrity(self) -> Integrity | None:
        return self.provenance.integrity

    def to_json(self) -> dict[str, Any]:
        """What result.json holds: the model as JSON, without a `sequential` key where the run has none (so a
        result is byte for byte what an older mobeval wrote, and an older one reads it)."""
        d = self.model_dump(mode="json")
        if d.get("sequential") is None:
            d.pop("sequential", None)
        if not d.get("metrics"):
            d.pop("metrics", None)
        return d

    def section(self) -> BaseModel:
        """The task section, parsed by its kind's model."""
        from mobeval.core.kinds import task_kind

        return task_kind(self.kind).section_model.model_validate(self.task)


def _problems(exc: ValidationError, prefix: str = "") -> str:
    errors = exc.errors()
    shown = "; ".join(f"{prefix}{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in errors[:5])
    return shown + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")


def parse_result(data: Any, path: Path | str = "result.json") -> Result:
    """A result.json's content checked against its schema version (1 is upgraded to 2)."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    from mobeval.core.kinds import legacy_result_reader, task_kind

    legacy = legacy_result_reader(version) if isinstance(version, str) else None
    try:
        result = legacy(data) if legacy is not None else Result.model_validate(data)
    except ValidationError as exc:
        raise MobevalError(f"{path}: does not match the result schema {version if legacy else SCHEMA_VERSION}: "
                           f"{_problems(exc)}: the file was edited or written by another program") from exc

    try:
        kind = task_kind(result.kind)
    except MobevalError as exc:
        raise MobevalError(f"{path}: {exc} (written by a newer mobeval?)") from exc
    try:
        kind.section_model.model_validate(result.task)
    except ValidationError as exc:
        raise MobevalError(f"{path}: the {result.kind} task section does not match its schema: "
                           f"{_problems(exc, 'task.')}: the file was edited or written by another program") from exc
    return result


def load_result(path: Path) -> Result:
    """result.json parsed and checked against the schema; a MobevalError naming the file, and the
    place or field that is wrong, otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise MobevalError(f"{path}: unreadable ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise MobevalError(f"{path}: not UTF-8 (byte {exc.start}): the file was damaged or edited") from exc
    except json.JSONDecodeError as exc:
        raise MobevalError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
                           "the file is truncated or was edited") from exc
    return parse_result(data, path)
