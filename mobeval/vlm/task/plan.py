"""A vlm run before the model loads: the image questions, their orderings, the model's parts; and
`evaluate`, which asks the runner each question under each ordering (one query per ordering, the
candidates the option letters in the order shown) and makes records of its answers and timings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Sequence

import PIL  # noqa: F401  (the vlm kind's extra: a missing Pillow is an error naming it, tasks._load)

from mobeval.core.benchmarks import load_benchmark
from mobeval.core.sampling import stratified_sample
from mobeval.vlm.benchmarks.items import VlmItem, VlmSet
from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError, RunnerError
from mobeval.core.hashing import text_sha256
from mobeval.core.orderings import check_prompt_count, orderings_for
from mobeval.vlm.runners.base import VlmAnswer, VlmQuery
from mobeval.core.task import OFFLINE_SECTION, TaskPlan
from mobeval.text.samples import bad_logprobs
from mobeval.vlm.task.answers import choose, exact_match, normalised_match
from mobeval.vlm.task.encoder_cost import (
    EncoderCost,
    FloatEncoder,
    features_sqnr,
    float_twin,
    outcome_costs,
)
from mobeval.vlm.task.prompt import INSTRUCTION, build_prompt, letters
from mobeval.vlm.task.record import VlmRecord

PROMPT_FORMAT = "mobeval vlm prompt v1: markers, hint, question, 'X. option' lines, " + INSTRUCTION


@dataclass
class VlmPlan(TaskPlan):
    kind = "vlm"
    item_noun = "question"

    config: RunConfig
    dataset: VlmSet
    items: list[VlmItem]
    model: Any  # mobeval.vlm.models.manifest.VlmModelRef: the parts' files, their hashes and sizes
    float_encoder: FloatEncoder | None = None  # a quantized encoder's float model, for its cost
    _asked: dict[str, list[VlmRecord]] = field(default_factory=dict, repr=False)  # this process's records

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    @cached_property
    def _orders(self) -> dict[str, list[tuple[int, ...]]]:
        c = self.config
        return {i.id: orderings_for(len(i.options), c.orderings, c.seed, i.id) if i.multiple_choice else [()]
                for i in self.items}

    def restrict(self, item_ids: set[str]) -> "VlmPlan":
        return replace(self, items=[i for i in self.items if i.id in item_ids])

    def replicas(self) -> list[int]:
        return [len(self._orders[i.id]) for i in self.items]

    @property
    def n_items_total(self) -> int:
        return len(self.dataset.items)

    @property
    def sources(self) -> list[str]:
        return self.dataset.sources

    @property
    def runner_model(self) -> Any:
        return self.model

    @property
    def remote(self) -> bool:
        return self.model.remote

    def identity(self) -> dict[str, Any]:
        c = self.config
        return {
            "model_sha256": self.model.sha256,
            **({"model": self.model.alias, "served_at": self.model.source} if self.model.remote else {}),
            "selection_sha256": text_sha256(json.dumps(
                {"items": [i.fingerprint() for i in self.items], "data_sha256": self.dataset.data_sha256},
                ensure_ascii=False, sort_keys=True)),
            "data_sha256": self.dataset.data_sha256,
            "template_sha256": text_sha256(PROMPT_FORMAT),
            "orderings": c.orderings,
            "max_tokens": c.max_tokens,
        }

    def model_info(self) -> dict[str, Any]:
        m = self.model
        return {
            "alias": m.alias, "name": m.name, "source": m.source, "origin": m.source, "remote": m.remote,
            "path": m.location, "format": "+".join(dict.fromkeys(f.suffix.lstrip(".") for f in m.files.values())),
            "size_bytes": m.size_bytes, "sha256": m.sha256,
            "parts": {p: {"path": str(f), "sha256": m.part_sha256.get(p), "size_bytes": f.stat().st_size,
                          "origin": m.origins.get(p)} for p, f in m.files.items()},
            "encoder_sqnr_db": getattr(m, "encoder_sqnr_db", None),
        }

    def data_info(self) -> dict[str, Any]:
        mc = [i for i in self.items if i.multiple_choice]
        return {
            **self.dataset.description,
            "data_sha256": self.dataset.data_sha256,
            "n_multiple_choice_selected": len(mc), "n_open_selected": len(self.items) - len(mc),
            "has_key": any(i.keyed for i in self.items),
            "prompt_format": PROMPT_FORMAT,
        }

    def evaluate(self, runner: Any, item_ids: Sequence[str]) -> list[list[VlmRecord]]:
        out = self._answers(runner, item_ids)
        self._asked.update(zip(item_ids, out))
        return out

    def _answers(self, runner: Any, item_ids: Sequence[str]) -> list[list[VlmRecord]]:
        by_id = {i.id: i for i in self.items}
        return [[self._ask(runner, by_id[i], k, order) for k, order in enumerate(self._orders[i])]
                for i in item_ids]

    def value_population(self) -> dict[str, int]:
        """The keyed questions (an option answer, or a reference answer) per category (the kind's item_values)."""
        out: dict[str, int] = {}
        for i in self.items:
            if (i.answer if i.multiple_choice else i.reference) is not None:
                out[i.category or "-"] = out.get(i.category or "-", 0) + 1
        return out

    def offline_phase(self, runner: Any) -> dict[str, dict]:
        """With a quantized encoder (and a runner that can swap it, `hybrid`): every question again with its
        float model, for what the quantization cost (mobeval.vlm.task.encoder_cost)."""
        if self.float_encoder is None or not hasattr(runner, "encoder_swapped"):
            return {}
        from mobeval.vlm.task.kind import VlmKind

        ids = self.item_ids
        missing = [i for i in ids if i not in self._asked]  # items of earlier segments (--resume)
        quant = [r for i in ids for r in (self._asked.get(i) or self._answers(runner, [i])[0])]
        images = sorted({p for i in self.items for p in i.images})
        q_feats = [runner.image_features((p,)) for p in images]
        with runner.encoder_swapped(self.float_encoder.path) as twin:
            flt = [r for recs in self._answers(twin, ids) for r in recs]
            f_feats = [twin.image_features((p,)) for p in images]
        kind = VlmKind()
        cost = EncoderCost(
            float_encoder=str(self.float_encoder.path), float_encoder_sha256=self.float_encoder.sha256,
            images=len(images), encoder_sqnr_db=features_sqnr(f_feats, q_feats),
            outcomes=outcome_costs(kind.item_outcomes(flt), kind.item_outcomes(quant), self.config.seed),
            reasked_quantized=len(missing),
        )
        return {OFFLINE_SECTION: {"encoder_quantization": cost.model_dump(mode="json")}}

    def _ask(self, runner: Any, item: VlmItem, ordering: int, order: tuple[int, ...]) -> VlmRecord:
        prompt = build_prompt(item, order)
        candidates = letters(len(order)) if item.multiple_choice else ()
        query = VlmQuery(item_id=item.id, images=item.images, prompt=prompt, candidates=candidates,
                         max_tokens=self.config.max_tokens)
        where = f"question {item.id}" + (f" (ordering {ordering})" if item.multiple_choice else "")
        t0 = time.perf_counter()
        try:
            answer = runner.answer(query)
        except MobevalError as exc:
            raise RunnerError(f"{where}: {exc}") from exc
        latency = time.perf_counter() - t0
        logprobs = _checked_logprobs(answer, candidates, where)
        return make_record(item, ordering, order, prompt, answer, logprobs, latency)


def _checked_logprobs(answer: VlmAnswer, candidates: tuple[str, ...], where: str) -> tuple[float, ...] | None:
    lp = answer.candidate_logprobs
    if lp is None or not candidates:
        return None
    if len(lp) != len(candidates):
        raise RunnerError(f"{where}: the runner gave {len(lp)} log-probabilities for {len(candidates)} candidates")
    lp = tuple(float(x) for x in lp)
    if bad_logprobs(lp):
        raise RunnerError(f"{where}: the runner gave {bad_logprobs(lp)}")
    return lp


def make_record(item: VlmItem, ordering: int, order: tuple[int, ...], prompt: str, answer: VlmAnswer,
                logprobs: tuple[float, ...] | None, latency_s: float) -> VlmRecord:
    """The record of one answer: scored, with the runner's timings as it gave them."""
    t = answer.timings
    choice, correct, exact = None, None, None
    if item.multiple_choice:
        choice = choose(answer.text, logprobs, len(order))
        if item.answer is not None:
            correct = choice is not None and order[choice] == item.answer
    elif item.reference is not None:
        exact = exact_match(answer.text, item.reference)
        correct = normalised_match(answer.text, item.reference)
    return VlmRecord(
        item_id=item.id, ordering=ordering, order=order, choice=choice,
        answer=item.answer if item.multiple_choice else None,
        reference=None if item.multiple_choice else item.reference, text=answer.text, logprobs=logprobs,
        correct=correct, exact_match=exact, category=item.category, n_images=len(item.images),
        prompt_sha256=text_sha256(prompt), preprocess_ms=t.preprocess_ms, encode_ms=t.encode_ms,
        prefill_ms=t.prefill_ms, ttft_ms=t.ttft_ms, decode_ms=t.decode_ms, prompt_tokens=t.prompt_tokens,
        image_tokens=t.image_tokens, decode_tokens=t.decode_tokens, decode_tokens_per_s=t.decode_tokens_per_s,
        latency_s=latency_s,
    )


def plan_vlm(cfg: RunConfig) -> VlmPlan:
    """Load the questions and resolve the model's parts: everything that can fail before the model loads."""
    dataset = load_benchmark(cfg.bench, cfg.bench_options())
    items = list(dataset.items)
    if cfg.limit is not None:
        items = stratified_sample(items, cfg.limit, cfg.seed, key=lambda i: i.category)
    check_prompt_count([len(i.options) for i in items if i.multiple_choice], cfg.orderings, cfg.max_prompts)
    model = model_ref(cfg)
    return VlmPlan(cfg, dataset, items, model, float_twin(model))


def model_ref(cfg: RunConfig):
    """What --model names for this run's runner (RunnerEntry.model), resolved before anything loads."""
    from mobeval.vlm.models import manifest as vlm
    from mobeval.core.redact import redact_url
    from mobeval.core.runners import entry

    how = entry(cfg.runner, "vlm").model
    if how == "endpoint":
        if not cfg.endpoint:
            raise MobevalError(f"--runner {cfg.runner} needs --endpoint http://HOST:PORT/v1")
        return vlm.remote_ref(cfg.model, redact_url(cfg.endpoint))
    # the bundled model, one set of weights in every runtime's format (mobeval/vlm/models/parts/digits-clip.json)
    model = cfg.model or "digits-clip"
    if how == "vlm-folder-or-id":
        return vlm.folder_ref(model)
    return vlm.resolve(model, vlm.MTMD_PARTS if how == "vlm-mtmd" else vlm.PARTS)
