"""The versioned result schema (result.json). Printers read only this."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from mobeval.errors import MobevalError
from mobeval.metrics import Scores

SCHEMA_VERSION = "mobeval.result/1"


class Figure(BaseModel):
    """A measured figure: value None means unavailable, and `note` says why."""

    value: float | None
    unit: str
    source: str = "measured"
    count: int | None = None  # how many observations a statistic rests on
    note: str = ""


class ScoreBlock(Scores):
    """Accuracy and order-invariance figures (mobeval.metrics); every rate is a fraction in [0, 1]."""

    unit: str = "fraction"


class Integrity(BaseModel):
    """What the result was computed from, so a reader can tell the files were not changed since."""

    samples_sha256: str  # of samples.jsonl's bytes
    samples_bytes: int
    samples: int  # samples read from those bytes
    selection_file_sha256: str | None = None  # of selection.json


class Result(BaseModel):
    schema_version: Literal["mobeval.result/1"] = SCHEMA_VERSION
    mobeval_version: str
    status: Literal["complete", "partial"]
    started_at: str
    finished_at: str
    config: dict[str, Any]
    environment: dict[str, Any]
    model: dict[str, Any]
    runner: dict[str, Any]
    data: dict[str, Any]
    scores: ScoreBlock
    per_field: dict[str, ScoreBlock]
    per_category: dict[str, ScoreBlock]
    performance: dict[str, Figure]
    memory: dict[str, Figure]
    energy: dict[str, Figure]
    integrity: Integrity | None = None  # absent in results written before mobeval recorded it


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
    try:
        return Result.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise MobevalError(f"{path}: does not match the result schema {SCHEMA_VERSION}: {shown}{more}: "
                           "the file was edited or written by another program") from exc
