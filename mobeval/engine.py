"""Drive one evaluation: benchmark -> requests -> runner -> samples on disk -> result.

Measurement wraps the runner: memory is sampled from before the model loads, energy is read
around the evaluation. Nothing is written to disk before the runner has loaded: a run that cannot
start leaves no folder. Nothing here prints; the caller passes a progress callback.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from mobeval.benchmarks import BenchmarkData, BenchOptions, load_benchmark
from mobeval.benchmarks.sampling import stratified_sample
from mobeval.config import RunConfig
from mobeval.errors import MobevalError, RunnerError
from mobeval.hashing import file_sha256, text_sha256
from mobeval.measure.energy import UnavailableMeter, energy_meters, measure_idle
from mobeval.measure.environment import cpu_freq_mhz, environment
from mobeval.measure.memory import PeakMemorySampler
from mobeval.models import ModelSpec, names_gguf, remote_spec, resolve
from mobeval.orderings import check_prompt_count, orderings_for
from mobeval.prompts import PromptTemplate, load_template
from mobeval.results.assemble import build_result
from mobeval.redact import redact_url
from mobeval.results import resume as resume_rules
from mobeval.results.store import RunDir, Segment, Selection, utc_now
from mobeval.results.submission import write_submission
from mobeval.runners import Runner, check_settings, make_runner
from mobeval.runners import entry as runner_entry
from mobeval.samples import Sample, choose_by_logprob, parse_letter
from mobeval.types import ChoiceRequest, GenerateRequest, Question

Progress = Callable[[int, int], None]


@dataclass
class Plan:
    config: RunConfig
    bench: BenchmarkData
    questions: list[Question]
    template: PromptTemplate
    spec: ModelSpec
    model_path: Path | None  # the local model file, hashed and sized; None for a folder, id or endpoint
    runner_model: Any  # what the runner is given as its model
    remote: bool  # the model runs behind an endpoint, not in this process

    @cached_property
    def selection(self) -> Selection:
        """The questions and how many orderings each gets (computed once: `all` can be many)."""
        return Selection([q.id for q in self.questions], [len(_orders(self, q)) for q in self.questions])

    def identity(self) -> dict:
        qs = [[q.id, q.question, list(q.options), q.answer, q.field] for q in self.questions]
        return {
            "bench": self.config.bench,
            "model": self.spec.alias,
            "model_sha256": None if self.model_path is None else file_sha256(self.model_path),
            "endpoint": redact_url(self.config.endpoint) if self.remote else None,
            "selection_sha256": text_sha256(json.dumps(qs, ensure_ascii=False)),
            "template_sha256": text_sha256(self.template.model_dump_json()),
            "orderings": self.config.orderings,
            "method": self.config.method,
            "max_tokens": self.config.max_tokens if self.config.method == "generate" else None,
            "chat": self.config.chat,
            "runner": self.config.runner,
            "seed": self.config.seed,
            "torch_dtype": self.config.torch_dtype,
            "config": {**self.config.model_dump(mode="json"), "endpoint": redact_url(self.config.endpoint)},
        }


def plan(cfg: RunConfig) -> Plan:
    """Load the data and find the model; everything that can fail before the model loads."""
    opts = BenchOptions(data=cfg.data, answers=cfg.answers, shots=cfg.shots, columns=cfg.column,
                        subjects=tuple(cfg.subjects))
    bench = load_benchmark(cfg.bench, opts)
    questions = bench.questions
    if cfg.limit is not None:
        if cfg.limit < 1:
            raise MobevalError("--limit must be at least 1")
        questions = stratified_sample(questions, cfg.limit, cfg.seed)
    check_prompt_count([len(q.options) for q in questions], cfg.orderings, cfg.max_prompts)
    template = load_template(cfg.template, bench.default_template)
    check_settings(cfg.runner, cfg.runner_settings())
    kind = runner_entry(cfg.runner).model
    if kind == "endpoint":
        if not cfg.endpoint:
            raise MobevalError(f"--runner {cfg.runner} needs --endpoint http://HOST:PORT/v1")
        spec = remote_spec(cfg.model, redact_url(cfg.endpoint))
        return Plan(cfg, bench, questions, template, spec, None, cfg.model, True)
    if kind == "gguf-folder-or-id":
        kind = "folder-or-id" if cfg.model and not names_gguf(cfg.model) else "gguf"
    if kind == "folder-or-id":
        if not cfg.model:
            raise MobevalError(f"--runner {cfg.runner} needs --model (a model folder or hub id)")
        spec = ModelSpec(alias=Path(cfg.model.rstrip("/")).name or cfg.model, name=cfg.model, source="local",
                         file=cfg.model)
        return Plan(cfg, bench, questions, template, spec, None, cfg.model, False)
    spec, path = resolve(cfg.model_name)
    if spec.sha256 and file_sha256(path) != spec.sha256:
        raise MobevalError(f"{path}: sha256 differs from the one published for {spec.alias} ({spec.sha256})")
    return Plan(cfg, bench, questions, template, spec, path, path, False)


def open_run_dir(p: Plan, resume: bool, run_dir: Path | None) -> RunDir:
    """The folder the run writes to: a new one (created on disk only once the runner has loaded), the
    one `run_dir` names, or the newest unfinished one that matches this run (results/resume.py)."""
    identity = p.identity()
    if not resume:
        if run_dir is not None:
            raise MobevalError("--run-dir names a run to continue: use it with --resume")
        return RunDir.new(p.config.output_dir, p.spec.alias, p.config.bench, identity, p.selection)
    if run_dir is not None:
        return resume_rules.named(run_dir, identity)
    return resume_rules.newest_matching(p.config.output_dir, p.spec.alias, p.config.bench, identity)


def _sample(q: Question, idx: int, order: tuple[int, ...], prompt: str, resp, choice, logprobs, text) -> Sample:
    return Sample(
        question_id=q.id, ordering=idx, order=order, choice=choice, answer=q.answer,
        field=q.field, category=q.category, prompt_sha256=text_sha256(prompt),
        logprobs=logprobs, text=text, prompt_tokens=resp.prompt_tokens,
        evaluated_tokens=resp.evaluated_tokens, latency_s=resp.latency_s,
        ttft_s=getattr(resp, "ttft_s", None), generated_tokens=getattr(resp, "generated_tokens", None),
        engine_timings=None if resp.engine is None else asdict(resp.engine),
    )


def _orders(p: Plan, q: Question) -> list[tuple[int, ...]]:
    return orderings_for(len(q.options), p.config.orderings, p.config.seed, q.id)


def evaluate_questions(p: Plan, runner: Runner, questions: list[Question]) -> list[list[Sample]]:
    """All orderings of the given questions in one call, each question's orderings adjacent so the
    runner can share their prefix (or send them concurrently); samples come back per question."""
    plans = [(q, _orders(p, q)) for q in questions]
    prompts = [[p.bench.prompt(p.template, q, o) for o in orders] for q, orders in plans]
    flat = [pr for group in prompts for pr in group]
    try:
        if p.config.method == "logprob":
            conts = [p.template.continuations(len(q.options)) for q, orders in plans for _ in orders]
            responses = iter(runner.score_choices([ChoiceRequest(pr, c) for pr, c in zip(flat, conts)]))
        else:
            responses = iter(runner.generate([GenerateRequest(pr, p.config.max_tokens) for pr in flat]))
    except MobevalError as exc:
        raise RunnerError(f"{_naming(questions)}: {exc}") from exc
    out = []
    for (q, orders), group in zip(plans, prompts):
        samples = []
        for i, (o, pr) in enumerate(zip(orders, group)):
            r = next(responses)
            if p.config.method == "logprob":
                samples.append(_sample(q, i, o, pr, r, choose_by_logprob(r.logprobs), r.logprobs, None))
            else:
                samples.append(_sample(q, i, o, pr, r, parse_letter(r.text, len(q.options)), None, r.text))
        out.append(samples)
    return out


def _naming(questions: list[Question]) -> str:
    """The question(s) of a failed runner call, for its error."""
    ids = [q.id for q in questions]
    if len(ids) == 1:
        return f"question {ids[0]}"
    shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return f"one of questions {shown} (evaluated in one call)"


def _meters(p: Plan):
    if p.remote and p.config.energy != "android":
        return [UnavailableMeter(f"the model runs behind {redact_url(p.config.endpoint)}; no energy source is "
                                 "configured for that device (this machine's counters would measure the client)")]
    return energy_meters(p.config.energy, p.config.watts_per_core, p.config.android_serial)


def execute(p: Plan, run: RunDir, progress: Progress | None = None,
            on_open: Callable[[RunDir], None] | None = None) -> RunDir:
    """Load the runner; only then open the run folder (`on_open` is told) and evaluate what it does not
    yet hold. A runner that cannot load leaves nothing on disk; once the folder is open, a result.json
    is always left behind. A kill while the model loads is not recorded as a segment."""
    meters = _meters(p)
    idle = [measure_idle(m, p.config.idle_seconds) for m in meters]
    freq_start = cpu_freq_mhz()
    started = utc_now()
    mem = PeakMemorySampler().start()
    t0 = time.perf_counter()
    try:
        runner = make_runner(p.config.runner, p.runner_model, p.config.runner_settings())
    except BaseException:
        mem.stop()
        raise
    t_eval = time.perf_counter()
    opened = metering = False
    finished = 0
    try:
        run.ensure_on_disk(p.selection)
        run.open_segment(started)
        opened = True
        if on_open:
            on_open(run)
        done = run.keep_whole_questions(p.selection.expected())
        todo = [q for q in p.questions if q.id not in done]
        if progress:
            progress(len(p.questions) - len(todo), len(p.questions))
        for m in meters:
            m.start()
        metering = True
        per_call = max(1, getattr(runner, "questions_per_call", 1))
        for start in range(0, len(todo), per_call):
            for samples in evaluate_questions(p, runner, todo[start:start + per_call]):
                if start == 0:  # cold caches and first-touch page faults: kept apart from latency
                    samples = [replace(s, warmup=True) for s in samples]
                run.append_samples(samples)
                finished += 1
            if progress:
                progress(len(p.questions) - len(todo) + finished, len(p.questions))
    finally:
        t_end = time.perf_counter()
        readings = [m.stop() if metering else None for m in meters]
        mem.stop()
        kv_bytes = runner.kv_cache_bytes() if hasattr(runner, "kv_cache_bytes") else None
        runner.close()
        if opened:
            run.append_segment(Segment(
                started_at=started, finished_at=utc_now(), questions=finished,
                load_time_s=t_eval - t0, eval_time_s=t_end - t_eval, wall_time_s=t_end - t0,
                baseline_rss_bytes=mem.baseline_bytes, peak_rss_bytes=mem.peak_bytes,
                rss_samples=mem.samples,
                energy=[{**asdict(r), "idle_watts": w} for r, w in zip(readings, idle) if r is not None],
                peak_uss_bytes=mem.peak_uss_bytes, peak_pss_bytes=mem.peak_pss_bytes, kv_cache_bytes=kv_bytes,
                cpu_freq_mhz_start=freq_start, cpu_freq_mhz_end=cpu_freq_mhz(),
            ))
            samples = run.samples()
            result = build_result(
                plan_info(p), run.identity(), environment(), asdict(runner.info), samples, run.segments(),
                killed=run.killed_segments(), complete=len({s.question_id for s in samples}) == len(p.questions),
                integrity=run.integrity(),
            )
            run.write_result(result)
            write_submission(run.path / "submission.csv", samples, [q.id for q in p.questions])
    return run


def plan_info(p: Plan) -> dict:
    """What the result records about the model and the data."""
    local = p.model_path is not None
    return {
        "model": {
            "alias": p.spec.alias, "name": p.spec.name, "source": p.spec.source, "origin": p.spec.origin,
            "path": str(p.model_path) if local else None, "quant": p.spec.quant, "remote": p.remote,
            "size_bytes": p.model_path.stat().st_size if local else None,
            "sha256": file_sha256(p.model_path) if local else None,
        },
        "data": {
            "bench": p.config.bench, "sources": p.bench.sources,
            "n_questions_total": len(p.bench.questions), "n_questions_selected": len(p.questions),
            "has_key": any(q.answer is not None for q in p.questions),
            "template": p.template.model_dump(),
        },
    }
