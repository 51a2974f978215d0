"""A multiple-choice run before the model loads: questions, orderings, template, model file; and
`evaluate`, which turns questions into prompts, asks the runner and makes Samples of its answers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from mobeval.core.benchmarks import load_benchmark
from mobeval.text.benchmarks.base import BenchmarkData
from mobeval.core.sampling import stratified_sample
from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError, RunnerError
from mobeval.core.hashing import file_sha256, text_sha256
from mobeval.text.models import DEFAULT_MODEL, ModelSpec, names_gguf, remote_spec, resolve
from mobeval.core.orderings import check_prompt_count, orderings_for
from mobeval.text.prompts import PromptTemplate, load_template
from mobeval.core.redact import redact_url
from mobeval.core.runners import entry as runner_entry
from mobeval.text.samples import Sample, bad_logprobs, choose_by_logprob, parse_letter
from mobeval.core.task import TaskPlan
from mobeval.text.types import ChoiceRequest, GenerateRequest, Question


@dataclass
class McqPlan(TaskPlan):
    kind = "mcq"
    item_noun = "question"

    config: RunConfig
    bench: BenchmarkData
    questions: list[Question]
    template: PromptTemplate
    spec: ModelSpec
    model_path: Path | None  # the local model file, hashed and sized; None for a folder, id or endpoint
    model_arg: Any  # what the runner is given as its model
    is_remote: bool

    @property
    def item_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    @cached_property
    def _orders(self) -> dict[str, list[tuple[int, ...]]]:
        """Each question's orderings (computed once: `all` can be many)."""
        c = self.config
        return {q.id: orderings_for(len(q.options), c.orderings, c.seed, q.id) for q in self.questions}

    def restrict(self, item_ids: set[str]) -> "McqPlan":
        return replace(self, questions=[q for q in self.questions if q.id in item_ids])

    def replicas(self) -> list[int]:
        return [len(self._orders[q.id]) for q in self.questions]

    @property
    def n_items_total(self) -> int:
        return len(self.bench.questions)

    @property
    def sources(self) -> list[str]:
        return self.bench.sources

    @property
    def runner_model(self) -> Any:
        return self.model_arg

    @property
    def remote(self) -> bool:
        return self.is_remote

    def identity(self) -> dict[str, Any]:
        c = self.config
        qs = [[q.id, q.question, list(q.options), q.answer, q.field] for q in self.questions]
        return {
            "model_sha256": None if self.model_path is None else file_sha256(self.model_path),
            "endpoint": redact_url(c.endpoint) if self.remote else None,
            "selection_sha256": text_sha256(json.dumps(qs, ensure_ascii=False)),
            "template_sha256": text_sha256(self.template.model_dump_json()),
            "orderings": c.orderings,
            "method": c.method,
            "max_tokens": c.max_tokens if c.method == "generate" else None,
            "chat": c.chat,
            "torch_dtype": c.torch_dtype,
        }

    def model_info(self) -> dict[str, Any]:
        local = self.model_path is not None
        return {
            "alias": self.spec.alias, "name": self.spec.name, "source": self.spec.source, "origin": self.spec.origin,
            "path": str(self.model_path) if local else None, "quant": self.spec.quant, "remote": self.remote,
            "size_bytes": self.model_path.stat().st_size if local else None,
            "sha256": file_sha256(self.model_path) if local else None,
        }

    def data_info(self) -> dict[str, Any]:
        return {
            "n_questions_total": len(self.bench.questions), "n_questions_selected": len(self.questions),
            "has_key": any(q.answer is not None for q in self.questions),
            "template": self.template.model_dump(),
        }

    def items_per_call(self, runner: Any) -> int:
        return max(1, getattr(runner, "questions_per_call", 1))

    def value_population(self) -> dict[str, int]:
        """The keyed questions per field (the kind's item_values and item_groups)."""
        out: dict[str, int] = {}
        for q in self.questions:
            if q.answer is not None:
                out[q.field or "-"] = out.get(q.field or "-", 0) + 1
        return out

    def evaluate(self, runner: Any, item_ids: Sequence[str]) -> list[list[Sample]]:
        """All orderings of the given questions in one call, each question's orderings adjacent so the
        runner can share their prefix (or send them concurrently); samples come back per question."""
        by_id = {q.id: q for q in self.questions}
        questions = [by_id[i] for i in item_ids]
        plans = [(q, self._orders[q.id]) for q in questions]
        prompts = [[self.bench.prompt(self.template, q, o) for o in orders] for q, orders in plans]
        flat = [pr for group in prompts for pr in group]
        logprob = self.config.method == "logprob"
        try:
            if logprob:
                conts = [self.template.continuations(len(q.options)) for q, orders in plans for _ in orders]
                responses = iter(runner.score_choices([ChoiceRequest(pr, c) for pr, c in zip(flat, conts)]))
            else:
                responses = iter(runner.generate([GenerateRequest(pr, self.config.max_tokens) for pr in flat]))
        except MobevalError as exc:
            raise RunnerError(f"{_naming(item_ids)}: {exc}") from exc
        out = []
        for (q, orders), group in zip(plans, prompts):
            samples = []
            for i, (o, pr) in enumerate(zip(orders, group)):
                r = next(responses)
                if logprob and bad_logprobs(r.logprobs):
                    raise RunnerError(f"question {q.id}, ordering {i}: the runner gave {bad_logprobs(r.logprobs)}")
                if logprob:
                    s = _sample(q, i, o, pr, r, choose_by_logprob(r.logprobs), r.logprobs, None)
                else:
                    s = _sample(q, i, o, pr, r, parse_letter(r.text, len(q.options)), None, r.text)
                samples.append(replace(s, question_text=q.question, options_text=tuple(q.options))
                               if self.config.log_texts else s)
            out.append(samples)
        return out


def _sample(q: Question, idx: int, order: tuple[int, ...], prompt: str, resp, choice, logprobs, text) -> Sample:
    return Sample(
        question_id=q.id, ordering=idx, order=order, choice=choice, answer=q.answer,
        field=q.field, category=q.category, prompt_sha256=text_sha256(prompt),
        logprobs=logprobs, text=text, prompt_tokens=resp.prompt_tokens,
        evaluated_tokens=resp.evaluated_tokens, latency_s=resp.latency_s,
        ttft_s=getattr(resp, "ttft_s", None), generated_tokens=getattr(resp, "generated_tokens", None),
        engine_timings=None if resp.engine is None else asdict(resp.engine),
    )


def _naming(ids: Sequence[str]) -> str:
    """The question(s) of a failed runner call, for its error."""
    if len(ids) == 1:
        return f"question {ids[0]}"
    shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return f"one of questions {shown} (evaluated in one call)"


def plan_mcq(cfg: RunConfig) -> McqPlan:
    """Load the questions and find the model; everything that can fail before the model loads."""
    bench = load_benchmark(cfg.bench, cfg.bench_options())
    questions = bench.questions
    if cfg.limit is not None:
        questions = stratified_sample(questions, cfg.limit, cfg.seed)
    check_prompt_count([len(q.options) for q in questions], cfg.orderings, cfg.max_prompts)
    template = load_template(cfg.template, bench.default_template)
    kind = runner_entry(cfg.runner).model

    def made(spec: ModelSpec, path: Path | None, arg: Any, remote: bool = False) -> McqPlan:
        return McqPlan(cfg, bench, questions, template, spec, path, arg, remote)

    if kind == "endpoint":
        if not cfg.endpoint:
            raise MobevalError(f"--runner {cfg.runner} needs --endpoint http://HOST:PORT/v1")
        return made(remote_spec(cfg.model, redact_url(cfg.endpoint)), None, cfg.model, True)
    if kind == "gguf-folder-or-id":
        kind = "folder-or-id" if cfg.model and not names_gguf(cfg.model) else "gguf"
    if kind == "folder-or-id":
        if not cfg.model:
            raise MobevalError(f"--runner {cfg.runner} needs --model (a model folder or hub id)")
        spec = ModelSpec(alias=Path(cfg.model.rstrip("/")).name or cfg.model, name=cfg.model, source="local",
                         file=cfg.model)
        return made(spec, None, cfg.model)
    spec, path = resolve(cfg.model or DEFAULT_MODEL)
    if spec.sha256 and file_sha256(path) != spec.sha256:
        raise MobevalError(f"{path}: sha256 differs from the one published for {spec.alias} ({spec.sha256})")
    return made(spec, path, path)
