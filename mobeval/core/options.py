"""The options a benchmark loader may be given (`--data`, `--answers`, ...) and the flag of each."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal


Option = Literal["data", "answers", "shots", "columns", "subjects", "labels"]
FLAGS: dict[str, str] = {  # each option as a user types it
    "data": "--data", "answers": "--answers", "shots": "--shots", "columns": "--column", "subjects": "--subjects",
    "labels": "--labels",
}


@dataclass(frozen=True)
class BenchOptions:
    """Inputs a loader may use. A benchmark declares which it takes (benchmarks.REGISTRY), and
    `load_benchmark` refuses any other that is given: none is ignored."""

    data: Path | None = None  # a local copy instead of the hub
    answers: Path | None = None  # question_id,answer file supplying a held-back key
    shots: int = 0  # k-shot examples (mmlu)
    columns: dict[str, str] = field(default_factory=dict)  # mcq column mapping
    subjects: tuple[str, ...] = ()  # restrict to these fields (mmlu)
    labels: Path | None = None  # an image folder's labels file (imagefolder)

    def given(self) -> list[str]:
        """The options set to something other than their default, in declaration order."""
        blank = BenchOptions()
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(blank, f.name)]
