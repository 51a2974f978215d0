"""What a multiple-choice benchmark loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from mobeval.core.options import BenchOptions
from mobeval.text.prompts import PromptTemplate
from mobeval.text.types import Question


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
