"""Which runner is fastest for this model on this machine: the same questions, prompts and orderings run through
each runner an evaluation could use, timed the way an evaluation runs them.

The answer depends on the CPU (issue 10: on an Intel Xeon with AVX-512 the transformers runner scored MMLU
marketing 3.4x faster than llama.cpp; on an AMD EPYC llama.cpp was the faster), so it is measured, not guessed.
Runners run one after another, never at once (two runtimes on the same cores slow each other), in `rounds`
alternating rounds so a drift in the machine's speed falls on every runner alike. The first call of each
runner in each round (cold caches) is kept out of the timing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from statistics import median
from typing import Callable

from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError
from mobeval.core.runners import REGISTRY, entry, make_runner


@dataclass
class RunnerSpeed:
    runner: str
    load_s: list[float] = field(default_factory=list)  # per round
    seconds: list[float] = field(default_factory=list)  # timed questions, per round
    questions: int = 0  # timed per round
    prompts: int = 0  # timed per round (questions x orderings)
    choices: dict[str, list[int | None]] = field(default_factory=dict)  # question id -> choice per ordering
    error: str | None = None  # why it could not run here

    @property
    def seconds_per_question(self) -> float | None:
        return median(self.seconds) / self.questions if self.seconds and self.questions else None


@dataclass
class SpeedComparison:
    runners: list[RunnerSpeed]
    bench: str
    model: str
    orderings: str
    rounds: int

    def ranked(self) -> list[RunnerSpeed]:
        ok = [r for r in self.runners if r.seconds_per_question is not None]
        return sorted(ok, key=lambda r: r.seconds_per_question)

    def agreement(self, a: RunnerSpeed, b: RunnerSpeed) -> float | None:
        """Share of (question, ordering) pairs where both runners chose the same option."""
        pairs = [(x, y) for q in a.choices if q in b.choices for x, y in zip(a.choices[q], b.choices[q])]
        return sum(x == y for x, y in pairs) / len(pairs) if pairs else None

    def verdict(self) -> str:
        ranked = self.ranked()
        if not ranked:
            return "no runner could run here"
        best = ranked[0]
        if len(ranked) == 1:
            return f"only {best.runner} could run here"
        others = ", ".join(f"{r.runner} takes {r.seconds_per_question / best.seconds_per_question:.2f}x as long"
                           for r in ranked[1:])
        return f"use --runner {best.runner}: {best.seconds_per_question:.3f} s per question here ({others})"


def candidate_runners(model: str | None) -> list[str]:
    """In-process runners that take a local model of this kind (remote runners need an endpoint, MLC a
    compiled model folder: give them with --runners)."""
    from mobeval.text.models import names_gguf

    gguf = model is None or names_gguf(model)
    return [name for name, e in REGISTRY.items()
            if not e.remote and (e.model in ("gguf", "gguf-folder-or-id") if gguf else e.model != "gguf")]


def compare_runners(base: RunConfig, runners: list[str], limit: int, rounds: int = 1,
                    progress: Callable[[str], None] | None = None) -> SpeedComparison:
    """Time `limit` questions (after one warm-up question) of the configured bench on each runner."""
    import mobeval.engine as engine

    if limit < 1 or rounds < 1:
        raise MobevalError("--limit and --rounds must be at least 1")
    if not runners:
        raise MobevalError("--runners: name at least one runner")
    for name in runners:
        entry(name)  # an unknown name is an error before anything loads
    plans = {}
    speeds = {name: RunnerSpeed(name) for name in runners}
    for name in runners:
        try:
            plans[name] = engine.plan(base.with_changes(runner=name, limit=limit + 1))
        except MobevalError as exc:
            speeds[name].error = str(exc)
    for rnd in range(rounds):
        for name, p in plans.items():
            s = speeds[name]
            if s.error:
                continue
            if progress:
                progress(f"round {rnd + 1}/{rounds}: {name}")
            ids = p.task.item_ids
            warm, timed = ids[:1], ids[1:]
            t0 = time.perf_counter()
            try:
                runner = make_runner(name, p.task.runner_model, p.config.runner_settings())
            except MobevalError as exc:
                s.error = str(exc)
                continue
            try:
                s.load_s.append(time.perf_counter() - t0)
                p.task.evaluate(runner, warm)
                per_call = p.task.items_per_call(runner)
                t0 = time.perf_counter()
                samples = []
                for i in range(0, len(timed), per_call):
                    samples += p.task.evaluate(runner, timed[i:i + per_call])
                s.seconds.append(time.perf_counter() - t0)
            finally:
                runner.close()
            s.questions = len(timed)
            s.prompts = sum(len(group) for group in samples)
            s.choices = {group[0].item_id: [_answer(x) for x in group] for group in samples}
    result = SpeedComparison(list(speeds.values()), base.bench, base.model_name, base.orderings, rounds)
    if not result.ranked():
        raise MobevalError("no runner could run here:\n" + "\n".join(f"  {s.runner}: {s.error}" for s in result.runners))
    return result


def _answer(record) -> int | None:
    """What a record answered: the letter position chosen (mcq) or the predicted class (images)."""
    return record.choice if hasattr(record, "choice") else getattr(record, "prediction", None)
