"""Multiple choice as a task kind: Samples, the order-invariance scores, token speeds, the report's
accuracy rows and breakdowns, agreement between runs, and the challenge's submission.csv."""

from __future__ import annotations

from pathlib import Path
from statistics import fmean
from typing import Any, Hashable

from pydantic import BaseModel
from rich.console import RenderableType

from mobeval.measure.latency import latency_figures, per_item, validity
from mobeval.text.metrics import debiased_choice, group_by_question, score, score_by
from mobeval.core.figures import Figure
from mobeval.text.metrics import ScoreBlock
from mobeval.text.task.submission import write_submission
from mobeval.text.samples import Sample
from mobeval.core.task import Row, TaskKind
from mobeval.text.task import printing


class McqSection(BaseModel):
    scores: ScoreBlock
    per_field: dict[str, ScoreBlock]
    per_category: dict[str, ScoreBlock]


def _block(samples: list[Sample]) -> ScoreBlock:
    return ScoreBlock(**score(samples).model_dump())


class McqKind(TaskKind):
    name = "mcq"
    item_noun = "question"
    outputs = ("submission.csv",)
    section_model = McqSection
    record_type = Sample
    value_label = "accuracy, mean over orderings"
    group_label = "field"

    def record_problem(self, s: Sample, replicas: int | None) -> str:
        try:
            return _field_problem(s, replicas)
        except TypeError as exc:  # e.g. an order of mixed types
            return f"malformed fields ({exc})"

    def section(self, samples: list[Sample]) -> McqSection:
        return McqSection(
            scores=_block(samples),
            per_field={k: ScoreBlock(**v.model_dump()) for k, v in score_by(samples, "field").items()},
            per_category=({k: ScoreBlock(**v.model_dump()) for k, v in score_by(samples, "category").items()}
                          if any(s.category for s in samples) else {}),
        )

    def performance(self, samples: list[Sample]) -> dict[str, Figure]:
        measured = [s for s in samples if not s.warmup]
        per_question = per_item(measured)
        busy = sum(s.latency_s for s in samples)
        prompt_tokens = sum(s.prompt_tokens for s in samples)
        evaluated = sum(s.evaluated_tokens for s in samples)
        figs = {
            "latency_valid": validity(per_question, "question", len(samples) - len(measured)),
            **latency_figures("question_latency", per_question),
            **latency_figures("request_latency", [s.latency_s for s in measured]),
            "prompt_tokens": Figure(value=prompt_tokens, unit="tokens", count=len(samples)),
            "evaluated_tokens": Figure(value=evaluated, unit="tokens", count=len(samples),
                                       note="tokens run through the model; shared prefixes are run once"),
        }
        if busy > 0:
            figs["prompt_tokens_per_s"] = Figure(value=prompt_tokens / busy, unit="tokens/s", count=len(samples))
            figs["evaluated_tokens_per_s"] = Figure(value=evaluated / busy, unit="tokens/s", count=len(samples),
                                                    note="prefill speed: evaluated prompt tokens / time in runner")
        figs.update(_engine_figures(measured))
        generated = [s for s in measured if s.ttft_s is not None]
        if generated:
            figs.update(latency_figures("ttft", [s.ttft_s for s in generated]))
            decode_s = sum(s.latency_s - s.ttft_s for s in generated)
            new_tokens = sum(max((s.generated_tokens or 0) - 1, 0) for s in generated)
            if decode_s > 0:
                figs["decode_tokens_per_s"] = Figure(value=new_tokens / decode_s, unit="tokens/s",
                                                     count=len(generated),
                                                     note="tokens after the first / time after the first")
        return figs

    def energy_units(self, samples: list[Sample]) -> dict[str, tuple[float, str, str]]:
        units = {"energy_per_question": (len({s.question_id for s in samples}), "J", "")}
        tokens = sum(s.evaluated_tokens for s in samples)
        if tokens:
            units["energy_per_token"] = (tokens / 1000, "mJ", "per evaluated token")
        return units

    def header_lines(self, r: Any) -> list[str]:
        return printing.header_lines(r, self.section_of(r))

    def summary_rows(self, r: Any) -> list[Row]:
        return printing.summary_rows(self.section_of(r))

    def performance_rows(self, r: Any) -> list[Row]:
        return printing.performance_rows(r.performance)

    def tables(self, r: Any) -> list[RenderableType]:
        return printing.tables(self.section_of(r))

    def compare_rows(self, names: list[str], results: list[Any],
                     records: list[list[Sample]]) -> list[tuple[str, list[str]]]:
        return printing.compare_rows(names[0], results, [self.section_of(r) for r in results], records)

    def write_outputs(self, folder: Path, samples: list[Sample], item_ids: list[str]) -> list[Path]:
        path = folder / self.outputs[0]
        write_submission(path, samples, item_ids)
        return [path]

    def item_values(self, samples: list[Sample]) -> dict[str, float]:
        """Per keyed question, the share of its orderings answered right: their mean is accuracy_mean."""
        return {q: fmean(float(s.correct) for s in g) for q, g in group_by_question(samples).items()
                if g[0].answer is not None}

    def item_groups(self, samples: list[Sample]) -> dict[str, str]:
        """A question's field, as the per-field scores name it ("-" for none)."""
        return {s.question_id: s.field or "-" for s in samples}

    def item_outcomes(self, samples: list[Sample]) -> dict[str, dict[str, tuple[bool, Hashable]]]:
        """Debiased (where every keyed question has log-probs under 2+ orderings, as the board's headline),
        then the original order's; the prediction is the original option chosen (None: invalid)."""
        keyed = {q: g for q, g in group_by_question(samples).items() if g[0].answer is not None}
        out: dict[str, dict[str, tuple[bool, Hashable]]] = {}
        debiased = {q: debiased_choice(g) for q, g in keyed.items() if len(g) > 1}
        if keyed and len(debiased) == len(keyed) and None not in debiased.values():
            out["debiased"] = {q: (c == keyed[q][0].answer, c) for q, c in debiased.items()}
        original = {q: g[0] for q, g in keyed.items() if g[0].ordering == 0}
        if original:
            out["original order"] = {q: (s.correct, s.chosen_option) for q, s in original.items()}
        return out

    def submission_checks(self, folder: Path, samples: list[Sample], item_ids: list[str]) -> dict[str, list[str]]:
        from mobeval.text.task.submission import challenge_file_problems

        return challenge_file_problems(folder / self.outputs[0], item_ids,
                                       {s.question_id: len(s.order) for s in samples})

    @staticmethod
    def section_of(r: Any) -> McqSection:
        return McqSection.model_validate(r.task)


def _field_problem(s: Sample, expected: int | None) -> str:
    n = len(s.order)
    if not isinstance(s.question_id, str) or not s.question_id:
        return "question_id is not a string"
    if n < 2 or sorted(s.order) != list(range(n)):
        return f"order {list(s.order)} is not an ordering of the options"
    if not isinstance(s.ordering, int) or s.ordering < 0 or (expected is not None and s.ordering >= expected):
        return f"ordering {s.ordering!r} is outside 0..{(expected or 1) - 1}"
    for name in ("choice", "answer"):
        v = getattr(s, name)
        if v is not None and (not isinstance(v, int) or not 0 <= v < n):
            return f"{name} {v!r} is not an option index"
    if s.logprobs is not None and len(s.logprobs) != n:
        return f"{len(s.logprobs)} logprobs for {n} options"
    if not isinstance(s.latency_s, (int, float)) or s.latency_s < 0:
        return f"latency_s {s.latency_s!r} is not a duration"
    return ""


def _engine_figures(measured: list[Sample]) -> dict[str, Figure]:
    """Speeds from the engine's own clock (llama-server's `timings`), beside those timed on this side of
    the wire: the gap is network, HTTP and queueing."""
    timed = [s for s in measured if s.engine_timings]
    generated = [s for s in timed if s.ttft_s is not None]  # letter scoring decodes no token worth a speed
    figs: dict[str, Figure] = {}
    for key, samples, what in (("prompt", timed, "prompt tokens it evaluated"),
                               ("decode", generated, "tokens it generated")):
        seconds = sum(s.engine_timings[f"{key}_s"] for s in samples)
        if seconds > 0:
            figs[f"engine_{key}_tokens_per_s"] = Figure(
                value=sum(s.engine_timings[f"{key}_tokens"] for s in samples) / seconds, unit="tokens/s",
                count=len(samples), source="the server's own timings",
                note=f"{what} / the time it reports for them")
    return figs
