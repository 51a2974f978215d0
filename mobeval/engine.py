"""Drive one evaluation of any task kind: plan -> runner -> records on disk -> result.

The task kind (mobeval.core.kinds) supplies the items, what the runner is asked and how records are
scored; everything here is the same for every kind. Measurement wraps the runner: memory is sampled
from before the model loads, energy is read around the evaluation. Nothing is written to disk before
the runner has loaded: a run that cannot start leaves no folder. Nothing here prints; the caller
passes a progress callback.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import mobeval.stopping as stopping
from mobeval.config import RunConfig
from mobeval.core.errors import MobevalError
from mobeval.measure.energy import UnavailableMeter, energy_meters, measure_idle
from mobeval.measure.environment import cpu_freq_mhz, environment
from mobeval.measure.contention import ContentionSampler
from mobeval.measure.memory import PeakMemorySampler
from mobeval.core.redact import redact_url
from mobeval.results import resume as resume_rules
from mobeval.results.assemble import build_result
from mobeval.results.store import RunDir, Segment, Selection, utc_now
from mobeval.core.runners import check_kind, check_settings, make_runner
from mobeval.core.kinds import plan_task, task_kind
from mobeval.core.task import TaskKind, TaskPlan, shard_index

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Shard:
    """What a `--shard K/N` run knows of the whole selection it is a part of (run.json records it all,
    so `mobeval merge` can rebuild the whole run from its shards alone)."""

    index: int  # K, 1-based
    count: int  # N
    whole: Selection  # the whole selection, in its order
    whole_selection_sha256: str  # the task's selection_sha256 of the whole (an unsharded run's)
    whole_data: dict[str, Any]  # what the result records of the whole's data (plan_info)

    def identity(self) -> dict[str, Any]:
        return {"shard": f"{self.index}/{self.count}", "whole_selection_sha256": self.whole_selection_sha256,
                "whole_selection": {"question_ids": self.whole.question_ids, "orderings": self.whole.orderings},
                "whole_data": self.whole_data}

    def info(self) -> dict[str, Any]:
        """The result's data.shard."""
        return {"index": self.index, "count": self.count, "selection_sha256_of_whole": self.whole_selection_sha256,
                "n_items_of_whole": len(self.whole.question_ids)}


@dataclass
class Plan:
    config: RunConfig
    task: TaskPlan
    shard: Shard | None = None

    @property
    def kind(self) -> TaskKind:
        return task_kind(self.task.kind)

    @cached_property
    def selection(self) -> Selection:
        """The items and how many records each gets (computed once: `all` orderings can be many)."""
        return Selection(self.task.item_ids, self.task.replicas())

    @cached_property
    def alias(self) -> str:
        return self.task.model_info()["alias"]

    def identity(self) -> dict[str, Any]:
        c = self.config
        return {
            "kind": self.task.kind,
            "bench": c.bench,
            "model": self.alias,
            **self.task.identity(),
            "runner": c.runner,
            "seed": c.seed,
            # under --until/--budget the items run in a seeded random order: a run continues only such a run
            **({"item_order": stopping.ITEM_ORDER} if c.sequential else {}),
            "config": {**c.model_dump(mode="json"), "endpoint": redact_url(c.endpoint)},
            **(self.shard.identity() if self.shard else {}),
        }


def plan(cfg: RunConfig) -> Plan:
    """Load the data and find the model; everything that can fail before the model loads."""
    check_kind(cfg.runner, cfg.task)
    check_settings(cfg.runner, cfg.runner_settings(), cfg.task)
    whole = Plan(cfg, plan_task(cfg))
    if cfg.until is not None:
        _check_until(whole)
    return whole if cfg.shard_parts is None else sharded(whole, *cfg.shard_parts)


def _check_until(p: Plan) -> None:
    """--until needs a per-item value to estimate: a kind that gives one, and items that have one."""
    kind, noun = p.kind, p.task.item_noun
    if not kind.value_label:
        raise MobevalError(f"--until {p.config.until}: the {kind.name} kind gives no per-item value to estimate; "
                           "use --budget alone")
    population = p.task.value_population()
    if population is not None and sum(population.values()) == 0:
        raise MobevalError(f"--until {p.config.until}: none of the {len(p.task.item_ids)} selected {noun}s of "
                           f"--bench {p.config.bench} has an answer key, so there is no {kind.value_label} to "
                           "estimate; use --budget alone, or give the key")


def _tracker(p: Plan, run: RunDir) -> stopping.Tracker:
    """The run's confidence sequences, with the records already in the folder (a resumed run) replayed in
    their file order."""
    t = stopping.Tracker(p.kind, p.task.item_ids, p.config.seed, p.config.until_rule, p.config.budget_rule,
                         p.task.value_population())
    t.replay(run.samples())
    return t


def _energy_meter(p: Plan, meters: list) -> Any:
    """The meter an energy --budget watches: a measured one before an estimate; a MobevalError naming the flag
    when there is none (before the model loads: nothing is written)."""
    budget = p.config.budget_rule
    if budget is None or budget.joules is None:
        return None
    usable = sorted((m for m in meters if m.source != "unavailable" and hasattr(m, "joules_so_far")),
                    key=lambda m: m.source == "estimate")
    if usable:
        return usable[0]
    why = "; ".join(getattr(m, "reason", "") for m in meters if m.source == "unavailable") or "no meter"
    raise MobevalError(f"--budget {p.config.budget}: the energy part ({budget.shown['joules']}) needs an energy "
                       f"meter, and none is available here ({why}); drop that part, or use --energy estimate "
                       "(an estimate from this process's CPU time)")


def sharded(whole: Plan, index: int, count: int) -> Plan:
    """Shard `index` of `count` of a plan: the selected items whose id hashes to it (tasks.base.shard_index),
    in the selection's order."""
    ids = whole.task.item_ids
    mine = {i for i in ids if shard_index(i, count) == index - 1}
    if not mine:
        raise MobevalError(f"--shard {index}/{count}: none of the {len(ids)} selected items falls in this shard "
                           "(nothing to run; `mobeval merge` of the other shards does not need it)")
    shard = Shard(index, count, whole.selection, whole.task.identity()["selection_sha256"], plan_info(whole)["data"])
    return Plan(whole.config, whole.task.restrict(mine), shard)


def open_run_dir(p: Plan, resume: bool, run_dir: Path | None) -> RunDir:
    """The folder the run writes to: a new one (created on disk only once the runner has loaded), the
    one `run_dir` names, or the newest unfinished one that matches this run (results/resume.py)."""
    identity = p.identity()
    if not resume:
        if run_dir is not None:
            raise MobevalError("--run-dir names a run to continue: use it with --resume")
        return RunDir.new(p.config.output_dir, p.alias, p.config.bench, identity, p.selection)
    if run_dir is not None:
        return resume_rules.named(run_dir, identity)
    return resume_rules.newest_matching(p.config.output_dir, p.alias, p.config.bench, identity)


def _meters(p: Plan):
    if p.task.remote and p.config.energy != "android":
        return [UnavailableMeter(f"the model runs behind {redact_url(p.config.endpoint)}; no energy source is "
                                 "configured for that device (this machine's counters would measure the client)")]
    return energy_meters(p.config.energy, p.config.watts_per_core, p.config.android_serial)


def execute(p: Plan, run: RunDir, progress: Progress | None = None,
            on_open: Callable[[RunDir], None] | None = None) -> RunDir:
    """Load the runner; only then open the run folder (`on_open` is told) and evaluate what it does not
    yet hold. A runner that cannot load leaves nothing on disk; once the folder is open, a result.json
    is always left behind. A kill while the model loads is not recorded as a segment."""
    meters = _meters(p)
    budget_meter = _energy_meter(p, meters)
    idle = [measure_idle(m, p.config.idle_seconds) for m in meters]
    freq_start = cpu_freq_mhz()
    started = utc_now()
    segment_id = uuid.uuid4().hex
    mem = PeakMemorySampler().start()
    t0 = time.perf_counter()
    try:
        runner = make_runner(p.config.runner, p.task.runner_model, p.config.runner_settings(), p.config.task)
    except BaseException:
        mem.stop()
        raise
    t_eval = time.perf_counter()
    opened = metering = False
    finished = 0
    seq: stopping.Tracker | None = None
    spent_s, spent_j = 0.0, None
    readings: list = [None] * len(meters)
    contention: dict | None = None
    offline: dict[str, dict] = {}
    t_end: float | None = None
    try:
        run.ensure_on_disk(p.selection)
        run.open_segment(started, segment_id)
        opened = True
        if on_open:
            on_open(run)
        done = run.keep_whole_questions(p.selection.expected())
        if p.config.sequential:  # the seeded random order, after the items already run (replayed in file order)
            seq = _tracker(p, run)
            spent_s, spent_j = _spent(run.segments(), budget_meter)
            todo = [] if seq.check(spent_s, spent_j) else [i for i in seq.order if i not in done]
        else:
            todo = [i for i in p.task.item_ids if i not in done]
        total = len(p.task.item_ids)
        if progress:
            progress(total - len(todo), total)
        for m in meters:
            m.start()
        busy = ContentionSampler().start()
        metering = True
        t_items = time.perf_counter()
        per_call = p.task.items_per_call(runner)
        for start in range(0, len(todo), per_call):
            for records in p.task.evaluate(runner, todo[start:start + per_call]):
                if start == 0:  # cold caches and first-touch page faults: kept apart from latency
                    records = [replace(r, warmup=True) for r in records]
                run.append_samples(records)
                finished += 1
                if seq is not None:
                    seq.add(records)
                    joules = None if budget_meter is None else spent_j + budget_meter.joules_so_far()
                    if seq.check(spent_s + time.perf_counter() - t_items, joules):
                        break  # the rest of this call's items are not kept: the sequence is of those appended
            if progress:
                progress(total - len(todo) + finished, total)
            if seq is not None and seq.reason is not None:
                break
        t_end = time.perf_counter()
        readings, metering = [m.stop() for m in meters], False
        contention = busy.stop().to_json()
        offline = p.task.offline_phase(runner)  # after the meters: energy and eval time are the items' only
    finally:
        if metering:  # interrupted while evaluating
            t_end = None
            readings = [m.stop() for m in meters]
            contention = busy.stop().to_json()
        if t_end is None:
            t_end = time.perf_counter()
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
                cpu_freq_mhz_start=freq_start, cpu_freq_mhz_end=cpu_freq_mhz(), offline=offline,
                segment_id=segment_id, contention=contention,
            ))
            records = run.samples()
            kind = p.kind
            every = len({r.item_id for r in records}) == len(p.task.item_ids)
            result = build_result(
                kind, plan_info(p), run.identity(), environment(), asdict(runner.info), records, run.segments(),
                killed=run.killed_segments(), complete=every or (seq is not None and seq.reason is not None),
                integrity=run.integrity(),
            )
            if seq is not None:
                if budget_meter is not None:
                    seq.energy_source = budget_meter.source
                result.sequential = seq.section()
            run.write_result(result)
            kind.write_outputs(run.path, records, p.task.item_ids)
    return run


def _spent(segments: list[Segment], meter: Any) -> tuple[float, float | None]:
    """What the run's earlier segments (a resumed run) spent on items: evaluation seconds, and joules from the
    budget's meter's source (None without an energy budget)."""
    seconds = sum(g.eval_time_s for g in segments)
    if meter is None:
        return seconds, None
    return seconds, sum(r["joules"] or 0.0 for g in segments for r in g.energy if r.get("source") == meter.source)


def plan_info(p: Plan) -> dict:
    """What the result records about the model and the data."""
    return {
        "model": p.task.model_info(),
        "data": {"bench": p.config.bench, "sources": p.task.sources, "n_items_total": p.task.n_items_total,
                 "n_items_selected": len(p.task.item_ids), **p.task.data_info(),
                 **({"shard": p.shard.info()} if p.shard else {})},
    }
