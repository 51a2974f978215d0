"""Multiple-choice results written before task kinds (`mobeval.result/1`, scores at the top level): read and
upgraded to the current Result, never written. The mcq kind's catalog entry names `upgrade` for that version."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from mobeval.core.figures import Figure
from mobeval.results.schema import Integrity, Provenance, Result
from mobeval.text.metrics import ScoreBlock

V1 = "mobeval.result/1"


class ResultV1(BaseModel):
    """A multiple-choice result written by mobeval before task kinds (read, never written)."""

    schema_version: Literal["mobeval.result/1"]
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
    integrity: Integrity | None = None

    def upgraded(self) -> Result:
        d = self.data
        return Result(
            kind="mcq", mobeval_version=self.mobeval_version, status=self.status, started_at=self.started_at,
            finished_at=self.finished_at, config=self.config, environment=self.environment, model=self.model,
            runner=self.runner,
            data={**d, "n_items_total": d.get("n_questions_total"), "n_items_selected": d.get("n_questions_selected")},
            performance=self.performance, memory=self.memory, energy=self.energy,
            provenance=Provenance(integrity=self.integrity, upgraded_from=V1,
                                  hashes={"model_sha256": self.model.get("sha256"),
                                          "selection_sha256": d.get("selection_sha256")}),
            task={"scores": self.scores.model_dump(), "per_field": {k: v.model_dump() for k, v in self.per_field.items()},
                  "per_category": {k: v.model_dump() for k, v in self.per_category.items()}},
        )


def upgrade(data: Any) -> Result:
    """A v1 result.json's content as a Result; pydantic's ValidationError where it does not match v1."""
    return ResultV1.model_validate(data).upgraded()
