"""Render a question and its (re-ordered) options into a prompt, from a template held as data."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, Sequence

import yaml
from pydantic import BaseModel, ConfigDict

from mobeval.core.errors import MobevalError
from mobeval.text.types import LETTERS


class PromptTemplate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    header: str = ""
    question: str = "{question}\n"
    option: str = "{letter}. {text}\n"
    answer: str = "Answer:"
    choice: str = " {letter}"
    shot_separator: str = "\n\n"

    def _block(self, question: str, options: Sequence[str]) -> str:
        out = self.question.format(question=question.strip())
        for letter, text in zip(LETTERS, options):
            out += self.option.format(letter=letter, text=text)
        return out + self.answer

    def render(
        self,
        question: str,
        options: Sequence[str],
        subject: str = "",
        shots: Sequence[tuple[str, Sequence[str], int]] = (),
    ) -> str:
        """The full prompt; `shots` are (question, options, answer index) examples shown first."""
        out = self.header.format(subject=subject.replace("_", " "))
        for q, opts, ans in shots:
            out += self._block(q, opts) + self.choice.format(letter=LETTERS[ans]) + self.shot_separator
        return out + self._block(question, options)

    def continuations(self, n_options: int) -> tuple[str, ...]:
        """What the model is scored on: the option letters as they follow the prompt."""
        return tuple(self.choice.format(letter=LETTERS[i]) for i in range(n_options))


@cache
def _builtin() -> dict[str, dict[str, Any]]:
    text = files("mobeval.text.prompts").joinpath("templates.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def template_names() -> list[str]:
    return sorted(_builtin())


def load_template(spec: str | dict | PromptTemplate | None, default: str) -> PromptTemplate:
    """A template by name, or a dict overriding fields of a named one (its `name`, else `default`).

    A built-in template with a field changed is not that template, so it is named for what it is,
    e.g. "custom (mobile-mmlu with answer, choice changed)": reports and results never show the
    built-in's name for a prompt that differs from it."""
    if isinstance(spec, PromptTemplate):
        return spec
    if spec is None:
        spec = default
    if isinstance(spec, str):
        spec = {"name": spec}
    base_name = spec.get("name", default)
    builtin = _builtin()
    if base_name not in builtin and set(spec) == {"name"}:
        raise MobevalError(f"unknown prompt template {base_name!r}; known: {', '.join(template_names())}")
    base = builtin.get(base_name, {})
    unknown = set(spec) - set(PromptTemplate.model_fields)
    if unknown:
        raise MobevalError(f"template: unknown field(s) {', '.join(sorted(unknown))}; a template has "
                           f"{', '.join(PromptTemplate.model_fields)}")
    effective = PromptTemplate(**base).model_dump() if base else {}
    changed = [k for k in PromptTemplate.model_fields if k != "name" and k in spec and spec[k] != effective[k]]
    name = f"custom ({base_name} with {', '.join(changed)} changed)" if base and changed else base_name
    return PromptTemplate(**{**base, **spec, "name": name})
