"""What every benchmark loader returns, and the options it is given."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Literal

from mobeval.prompts import PromptTemplate
from mobeval.types import Question


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


@dataclass(frozen=True)
class BenchmarkData:
    """A loaded benchmark: its questions, the template that renders them, and where they came from."""

    name: str
    questions: list[Question]
    default_template: str
    sources: list[str]  # files read, or "hf:<repo>/<config>/<split>"
    shots: dict[str, list[Question]] = field(default_factory=dict)  # field -> dev examples

    @property
    def has_key(self) -> bool:
        return any(q.answer is not None for q in self.questions)

    def prompt(self, template: PromptTemplate, question: Question, order: tuple[int, ...]) -> str:
        """The prompt for `question` with its options shown in `order` (perm[pos] = original index)."""
        options = [question.options[i] for i in order]
        examples = [(s.question, s.options, s.answer) for s in self.shots.get(question.field, [])]
        return template.render(question.question, options, subject=question.field, shots=examples)


Loader = Callable[[BenchOptions], BenchmarkData]
