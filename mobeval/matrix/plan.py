"""A matrix plan: a YAML file of models x quantizations x benchmarks x runners x devices, plus the run
settings every job shares, expanded into jobs with stable ids.

Every job is one `mobeval run`; its settings are the plan's `settings`, then its device's `settings`
(a phone's endpoint, a board's thread count), then the job's own model, bench and runner. Each job's
settings are validated as `mobeval run` would (RunConfig) before anything is scheduled, and an error
names the plan file and the key.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mobeval.config import RunConfig, _problem, load_yaml, shown
from mobeval.core.errors import MobevalError
from mobeval.core.redact import MASK, redact_url, url_secrets

# set by the matrix itself, per job: never in a plan's settings
JOB_KEYS = ("model", "bench", "runner", "output_dir")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def slug(text: str) -> str:
    """A part of a job id: lower case, letters, digits and . _ + - (no "__", which separates the parts)."""
    return re.sub(r"_{2,}", "_", re.sub(r"[^a-z0-9._+-]+", "-", text.lower())).strip("-_") or "x"


class ModelEntry(BaseModel):
    """A model with several quantizations: label -> model alias or .gguf file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    quantizations: dict[str, str] = Field(min_length=1)


class Device(BaseModel):
    """A device: the Ray resource `device:<name>` names the node(s) that reach it; `settings` are run
    settings its jobs need (e.g. the endpoint of a phone's server, threads)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("a device name is letters, digits and . _ + - (it names a Ray resource)")
        return v

    @property
    def resource(self) -> str:
        return f"device:{self.name}"


class MatrixPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[str | ModelEntry] = Field(min_length=1)
    quantizations: list[str] | None = Field(None, min_length=1,
                                            description="Only these quantization labels (default: every one).")
    benchmarks: list[str] = Field(min_length=1)
    runners: list[str | None] = Field(default_factory=lambda: [None],
                                      description="Runtimes (default: each benchmark's task's own).")
    devices: list[str | Device] = Field(default_factory=lambda: ["local"], min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict, description="`mobeval run` settings every job shares.")
    max_retries: int = Field(3, ge=0, description="Retries of a job whose worker or node is lost.")

    @field_validator("devices")
    @classmethod
    def _devices(cls, v: list[str | Device]) -> list[str | Device]:
        names = [d if isinstance(d, str) else d.name for d in v]
        for n in names:
            Device(name=n)  # the name rule
        counts = Counter(names)
        dup = sorted(n for n, k in counts.items() if k > 1)
        if dup:
            raise ValueError(f"device {dup[0]!r} is listed twice")
        return v

    def device_list(self) -> list[Device]:
        return [Device(name=d) if isinstance(d, str) else d for d in self.devices]


@dataclass(frozen=True)
class Job:
    """One cell of the matrix: one `mobeval run`."""

    id: str
    model_name: str  # the plan's name for the model
    quantization: str
    model: str  # what `--model` gets: an alias or a file
    bench: str
    runner: str | None
    device: str
    settings: dict[str, Any] = field(default_factory=dict)  # run settings: plan < device

    @property
    def resource(self) -> str:
        return f"device:{self.device}"

    def config(self, output_dir: Path) -> dict[str, Any]:
        """The job's `mobeval run --config` file contents."""
        own = {"model": self.model, "bench": self.bench, "output_dir": str(output_dir)}
        if self.runner is not None:
            own["runner"] = self.runner
        return {**self.settings, **own}

    def axes(self) -> dict[str, Any]:
        return {"model": self.model_name, "quantization": self.quantization, "model_ref": self.model,
                "bench": self.bench, "runner": self.runner or "default", "device": self.device}


def public_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Run settings as the matrix writes them (matrix.json): the api_key masked, an endpoint's
    user:password and token values masked (redact.py). The job gets the real ones in memory, never on disk."""
    shown = dict(settings)
    if shown.get("api_key") is not None:
        shown["api_key"] = MASK
    if isinstance(shown.get("endpoint"), str):
        shown["endpoint"] = redact_url(shown["endpoint"])
    return shown


def setting_secrets(settings: dict[str, Any]) -> list[str]:
    """The secret strings among run settings (the api_key, the endpoint's credentials), to mask in messages."""
    key = settings.get("api_key")
    endpoint = settings.get("endpoint")
    return [str(key)] * (key is not None) + url_secrets(endpoint if isinstance(endpoint, str) else None)


def public_plan(plan: MatrixPlan) -> dict[str, Any]:
    """The plan as matrix.json records it: every settings mapping through public_settings."""
    doc = plan.model_dump(mode="json")
    doc["settings"] = public_settings(doc.get("settings") or {})
    for d in doc.get("devices") or []:
        if isinstance(d, dict):
            d["settings"] = public_settings(d.get("settings") or {})
    return doc


def _quant_of(model: str) -> str:
    """A catalog alias's quantization; 'file' for a model given as a path."""
    from mobeval.text.models.registry import catalog

    spec = catalog().get(model)
    return spec.quant if spec is not None and spec.quant else "file"


def _model_cells(plan: MatrixPlan, where: str) -> list[tuple[str, str, str]]:
    """(name, quantization label, model reference) of every model x quantization kept by the plan."""
    cells = []
    for i, m in enumerate(plan.models):
        options = {_quant_of(m): m} if isinstance(m, str) else m.quantizations
        name = m.name if isinstance(m, ModelEntry) else Path(m).stem if m.endswith(".gguf") or "/" in m else m
        kept = {q: ref for q, ref in options.items() if plan.quantizations is None or q in plan.quantizations}
        if not kept:
            raise MobevalError(f"{where}: models[{i}] ({shown(name, False)}) has none of the quantizations "
                               f"{shown(plan.quantizations)} (it has {shown(', '.join(options), False)}); add one or "
                               "drop the model")
        cells += [(name, q, ref) for q, ref in kept.items()]
    return cells


def _check_settings(settings: dict[str, Any], key: str, where: str) -> None:
    if not isinstance(settings, dict):
        raise MobevalError(f"{where}: {key}: expected a mapping of `mobeval run` settings")
    taken = [k for k in JOB_KEYS if k in settings]
    if taken:
        raise MobevalError(f"{where}: {key}.{taken[0]}: set by the matrix for each job (use models, benchmarks "
                           "and runners; results go under --out)")


def expand(plan: MatrixPlan, where: str = "the plan") -> list[Job]:
    """Every job, in a stable order, each validated as a `mobeval run` configuration."""
    _check_settings(plan.settings, "settings", where)
    devices = plan.device_list()
    for i, d in enumerate(devices):
        _check_settings(d.settings, f"devices[{i}].settings", where)
    jobs: list[Job] = []
    seen: set[str] = set()
    for name, quant, ref in _model_cells(plan, where):
        for bench in plan.benchmarks:
            for runner in plan.runners:
                for index, d in enumerate(devices):
                    job_id = "__".join(slug(p) for p in (name, quant, bench, runner or "default", d.name))
                    if job_id in seen:
                        raise MobevalError(f"{where}: two jobs would share the id {job_id!r} (names that differ "
                                           "only in case or punctuation); rename a model or device")
                    seen.add(job_id)
                    job = Job(job_id, name, quant, ref, bench, runner, d.name, {**plan.settings, **d.settings})
                    _validate(job, plan, d, index, where)
                    jobs.append(job)
    return jobs


def _validate(job: Job, plan: MatrixPlan, device: Device, index: int, where: str) -> None:
    key_source = {k: f"{where} (settings)" for k in plan.settings}
    key_source.update({k: f"{where} (devices[{index}].settings)" for k in device.settings})
    key_source.update({k: f"{where} (the job's {k})" for k in JOB_KEYS})
    try:
        RunConfig(**job.config(Path("results")))
    except ValidationError as exc:
        problems = "; ".join(_problem(e, key_source) for e in exc.errors())
        raise MobevalError(f"{where}: job {job.id}: {problems}") from exc
    except MobevalError as exc:
        raise MobevalError(f"{where}: job {job.id}: {exc}") from exc


UNION_SHAPES = {"models": "expected a model alias or .gguf file, or {name, quantizations: {LABEL: alias or file}}",
                "devices": "expected a device name, or {name, settings}"}


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "ModelEntry", "Device") or part.startswith(("function-", "list[")):
            continue  # pydantic's names for union members, not keys of the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_plan(path: Path) -> tuple[MatrixPlan, list[Job]]:
    """The plan in `path` and its jobs; a MobevalError naming the file and the key otherwise."""
    path = Path(path)
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MobevalError(f"{path}: cannot read the plan ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise MobevalError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MobevalError(f"{path}: expected a mapping with models, benchmarks, runners, devices, settings "
                           "(see configs/matrix-example.yaml)")
    try:
        plan = MatrixPlan(**raw)
    except ValidationError as exc:
        seen, problems = set(), []
        for e in exc.errors():
            where = _location(e["loc"])
            msg = (f"unknown key; the keys are {', '.join(MatrixPlan.model_fields)}" if e["type"] == "extra_forbidden"
                   and len(e["loc"]) == 1 else e["msg"].removeprefix("Value error, "))
            if e["loc"][0] in UNION_SHAPES and e["loc"][-1] in ("str", "ModelEntry", "Device"):
                msg = UNION_SHAPES[e["loc"][0]]  # neither shape of the union: one message, not one per shape
            if (where, msg) not in seen:
                seen.add((where, msg))
                problems.append(f"{where}: {msg}")
        raise MobevalError(f"{path}: invalid plan: " + "; ".join(problems)) from exc
    return plan, expand(plan, str(path))
