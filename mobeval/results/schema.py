"""The versioned result schema (result.json). Printers read only this."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

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
