"""`mobeval submit RUN --check`: a run folder checked as a submission, one verdict per concern.

In the style of MLPerf's submission checker: each check looks at one thing and says PASS, FAIL or SKIP with
its reason (SKIP: the check does not apply to this run, and why); any FAIL makes the submission invalid.
The checks are the same for every task kind: they read the folder through the integrity check
(results/integrity.py) and the task-kind seam (mobeval/core/task.py): a kind's records, its section and
figures recomputed from them, its output files and its own `submission_checks`.
"""

from __future__ import annotations

import filecmp
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mobeval.core.errors import MobevalError
from mobeval.report import killed_segments
from mobeval.results.assemble import contention, with_contention
from mobeval.results.integrity import RunCheck, check_run
from mobeval.submit.files import expected_files, missing_files
from mobeval.core.kinds import task_kind

Status = Literal["PASS", "FAIL", "SKIP"]


@dataclass(frozen=True)
class Verdict:
    check: str
    status: Status
    reason: str


def _pass(name: str, reason: str) -> Verdict:
    return Verdict(name, "PASS", reason)


def _fail(name: str, problems: list[str]) -> Verdict:
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return Verdict(name, "FAIL", "; ".join(problems[:3]) + more)


def _skip(name: str, reason: str) -> Verdict:
    return Verdict(name, "SKIP", reason)


NO_RESULT = "no result.json (see 'run complete')"


def files_present(c: RunCheck) -> Verdict:
    name = "files present"
    missing = missing_files(c)
    if missing:
        return _fail(name, missing)
    return _pass(name, ", ".join(expected_files(c)))


def hashes_match(c: RunCheck) -> Verdict:
    name = "result hashes match files"
    if c.problems:
        return _fail(name, c.problems)
    r = c.result
    if r is None:
        return _skip(name, NO_RESULT)
    if r.integrity is None:
        return _fail(name, ["result.json records no hash of samples.jsonl (written by an older mobeval): the "
                            "samples cannot be shown to be the ones it was computed from; run it again"])
    i = r.integrity
    sel = "; selection.json's sha256 too" if i.selection_file_sha256 else ""
    appended = f"; {c.appended} sample(s) after them (see 'run complete')" if c.appended else ""
    return _pass(name, f"samples.jsonl's first {i.samples_bytes} bytes ({i.samples} samples) have the sha256 "
                       f"result.json records ({i.samples_sha256[:12]}…){sel}{appended}")


def run_complete(c: RunCheck) -> Verdict:
    name = "run complete"
    r = c.result
    if r is None:
        why = ("no result.json, though segments.jsonl records a segment that ended: it was removed"
               if "result.json" in expected_files(c) else "no result.json: the run was killed before it finished "
                                                          "a segment")
        return _fail(name, [f"{why}; continue it with the same command and --resume --run-dir {c.path}"])
    problems = []
    if r.status != "complete":
        problems.append(f"result.json says {r.status}: {r.data.get('n_items_selected')} items selected, "
                        f"{len({s.item_id for s in c.result_samples})} scored; continue it with --resume "
                        f"--run-dir {c.path}")
    if c.appended:
        problems.append(f"{c.appended} sample(s) were written after result.json (a resumed run was stopped): "
                        f"bring it up to date with --resume --run-dir {c.path}")
    seq = r.sequential
    if seq is not None and seq.stopped_early:
        problems.append(f"stopped early ({seq.stop_reason}; --until/--budget): {seq.items_used} of "
                        f"{r.data.get('n_items_selected')} selected items run, {seq.items_left} not answered; a "
                        "submission answers every item: run it without --until and --budget, or run the rest "
                        f"with --resume --run-dir {c.path} --budget {r.data.get('n_items_selected')}")
    shard = r.data.get("shard")
    if shard:
        problems.append(f"a shard ({shard.get('index')}/{shard.get('count')}) of a split run: submit the run "
                        "`mobeval merge` joins from all its shards")
    killed = killed_segments(r.performance.get("wall_time"))
    if killed:
        problems.append(f"{killed} run segment(s) were killed: their time, memory and energy were not recorded")
    if problems:
        return _fail(name, problems)
    wall = r.performance.get("wall_time")
    segments = wall.count if wall is not None and wall.count else 1
    return _pass(name, f"complete: {len({s.item_id for s in c.result_samples})} of {r.data.get('n_items_selected')} "
                       f"selected {task_kind(r.kind).item_noun}s scored, {segments} segment(s), none killed")


def every_item_once(c: RunCheck) -> Verdict:
    if c.result is None:
        return _skip("every item once", NO_RESULT)
    noun = task_kind(c.result.kind).item_noun
    name = f"every {noun} once"
    if c.selection is None:
        return _skip(name, "no selection.json (a run folder from an older mobeval): the selected items are unknown")
    expected = c.selection.expected()
    counts: dict[str, int] = {}
    for s in c.result_samples:
        counts[s.item_id] = counts.get(s.item_id, 0) + 1
    problems = [f"{noun} {q}: {counts.get(q, 0)} of its {n} record(s)" for q, n in expected.items()
                if counts.get(q, 0) != n]
    problems += [f"{noun} {q}: not in the selection" for q in counts if q not in expected]
    if problems:
        return _fail(name, problems)
    per = sorted(set(expected.values()))
    return _pass(name, f"each of the {len(expected)} selected {noun}s has its "
                       f"{'/'.join(map(str, per))} record(s) in samples.jsonl, none twice, none outside the selection")


def kind_checks(c: RunCheck) -> list[Verdict]:
    """The kind's own checks of its answer file (mcq: the challenge CSV: every question once, letters only)."""
    if c.result is None:
        return [_skip("answer file", NO_RESULT)]
    kind = task_kind(c.result.kind)
    ids = c.selection.question_ids if c.selection else list(dict.fromkeys(s.item_id for s in c.result_samples))
    found = kind.submission_checks(c.path, c.result_samples, ids)
    if not found:
        files = f" (it writes {', '.join(kind.outputs)}: see 'outputs match samples')" if kind.outputs else ""
        return [_skip("answer file", f"the {kind.name} kind has no challenge answer file{files}: its submission "
                                     "is the result and its samples")]
    file = kind.outputs[0] if kind.outputs else "answer file"
    return [_fail(f"{file}: {concern}", problems) if problems else
            _pass(f"{file}: {concern}", f"{len(ids)} {kind.item_noun}s")
            for concern, problems in found.items()]


def outputs_match_samples(c: RunCheck) -> Verdict:
    name = "outputs match samples"
    if c.result is None:
        return _skip(name, NO_RESULT)
    kind = task_kind(c.result.kind)
    if not kind.outputs:
        return _skip(name, f"the {kind.name} kind writes no file beside result.json")
    ids = c.selection.question_ids if c.selection else list(dict.fromkeys(s.item_id for s in c.result_samples))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            written = kind.write_outputs(Path(tmp), c.result_samples, ids)
        except MobevalError as exc:
            return _fail(name, [f"cannot be written from the samples: {exc}"])
        differ = [p.name for p in written
                  if not (c.path / p.name).is_file() or not filecmp.cmp(p, c.path / p.name, shallow=False)]
    if differ:
        return _fail(name, [f"{n} is not what the samples give (edited, or written from other samples): "
                            f"`mobeval submit {c.path}` writes it again" for n in differ])
    return _pass(name, ", ".join(kind.outputs) + ": byte for byte what the samples give")


def ids_match_benchmark(c: RunCheck) -> Verdict:
    name = "ids match the benchmark's"
    r = c.result
    if r is None:
        return _skip(name, NO_RESULT)
    if c.selection is None:
        return _skip(name, "no selection.json (a run folder from an older mobeval)")
    import mobeval.engine as engine
    from mobeval.config import RunConfig, load_config
    from mobeval.core.kinds import plan_task

    fields = RunConfig.model_fields
    given = {k: v for k, v in r.config.items()  # as given: a default counts as not given (settings checks)
             if k != "output_dir" and not (k in fields and v == fields[k].get_default(call_default_factory=True))}
    try:
        cfg = load_config(None, given)
        whole = engine.Plan(cfg, plan_task(cfg))  # the run's own selection, as `mobeval run` makes it
        plan = whole if cfg.shard_parts is None else engine.sharded(whole, *cfg.shard_parts)
        expected = plan.selection.question_ids
        identity = plan.identity()
    except MobevalError as exc:
        return _skip(name, f"the benchmark {r.data.get('bench')!r} cannot be loaded here with the run's settings "
                           f"({exc})")
    noun = task_kind(r.kind).item_noun
    ids = c.selection.question_ids
    if ids != expected:
        extra = [q for q in ids if q not in set(expected)]
        lacking = [q for q in expected if q not in set(ids)]
        problems = [f"{len(extra)} of the run's {len(ids)} {noun} ids are not ones {r.data.get('bench')} selects under "
                    f"the run's settings" + (f" (first: {extra[0]})" if extra else "")]
        if lacking:
            problems.append(f"{len(lacking)} it selects are not in the run (first: {lacking[0]})")
        if not extra and not lacking:
            problems = [f"the same {len(ids)} ids in another order"]
        return _fail(name, problems)
    if identity.get("selection_sha256") != c.identity.get("selection_sha256"):
        return _fail(name, [f"the same {len(ids)} ids, but their content (text, options, answers, labels) differs "
                            "from the benchmark's here (selection sha256 differs): another version of the data"])
    return _pass(name, f"the {len(ids)} {noun} ids (of {plan.task.n_items_total}) and their content are what "
                       f"{r.data.get('bench')} selects under the run's settings (selection sha256 "
                       f"{identity['selection_sha256'][:12]}…)")


def _same(a: object, b: object, rel: float = 1e-9) -> bool:
    """Equal, floats within `rel` (a figure read back from JSON)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a == b or abs(a - b) <= rel * max(abs(a), abs(b))
    return a == b


def _offline_fields(c: RunCheck) -> dict:
    """Fields of the task section a run measured after its items with the runner still loaded (a quantized
    model's figures against its float model): kept in the latest segment that has them, not in samples."""
    for seg in reversed(c.run.segments()):
        if seg.offline:
            return {k: v for entry in seg.offline.values() if isinstance(entry, dict) for k, v in entry.items()}
    return {}


def figures_recompute(c: RunCheck) -> Verdict:
    name = "figures recompute from samples"
    r = c.result
    if r is None:
        return _skip(name, NO_RESULT)
    kind = task_kind(r.kind)
    records = c.result_samples
    problems = []
    edited = ("its samples or result.json changed (see 'result hashes match files')" if c.problems
              else "result.json was edited")
    section = kind.section(records).model_dump(mode="json")
    section.update({k: v for k, v in _offline_fields(c).items() if section.get(k, 0) is None})
    recorded = kind.section_model.model_validate(r.task).model_dump(mode="json")
    if not _same(section, recorded):
        keys = [k for k in section if not _same(section.get(k), recorded.get(k))]
        problems.append(f"result.json's task figures ({', '.join(keys)}) are not what its samples give: {edited}")
    if r.metrics:  # the headline figures with their intervals: what the recorded task section gives
        from mobeval.results.headline import headline_metrics

        again = headline_metrics(r.kind, r.task)
        if not _same(again, [m.model_dump(mode="json") for m in r.metrics]):
            problems.append(f"result.json's metrics list is not what its task section gives: {edited}")
    busy = contention(c.run.segments(), r.model.get("remote", False))  # the segments say if the machine was busy
    perf = {k: f.model_dump(mode="json") for k, f in with_contention(kind.performance(records), busy).items()}
    differ = [k for k, f in perf.items() if k not in r.performance
              or not _same(f, r.performance[k].model_dump(mode="json"))]
    if differ:
        problems.append(f"result.json's performance figures ({', '.join(differ[:4])}) are not what its samples "
                        f"give: {edited}")
    seq = r.sequential
    if seq is not None:
        from mobeval.stopping import Tracker

        t = Tracker.of_section(kind, seq)
        t.replay(records)
        o = t.overall
        again = {"": [o.n, o.mean if o.n else None, o.low if o.n else None, o.high if o.n else None],
                 **{g: [e.n, e.mean, e.low, e.high] for g, e in t.groups.items()}}
        recorded = {"": [seq.items_with_value, seq.estimate, seq.low, seq.high],
                    **{g: [e.n, e.estimate, e.low, e.high] for g, e in seq.groups.items()}}
        if not _same(again, recorded):
            problems.append(f"result.json's sequential estimate and intervals are not the confidence sequence of its "
                            f"samples in their order: {edited}")
    if problems:
        return _fail(name, problems)
    extra = " and its sequential estimate" if seq is not None else ""
    return _pass(name, f"the {kind.name} section{extra} and {len(perf)} speed figures of result.json are what its "
                       f"{len(records)} samples give")


def edited_figures(c: RunCheck) -> list[str]:
    """What `figures_recompute` finds wrong in a folder whose files otherwise check out: every command that
    reads a run (report, compare, board, load) refuses a result.json whose figures its samples do not give."""
    if c.result is None or c.problems:
        return []
    v = figures_recompute(c)
    return [v.reason] if v.status == "FAIL" else []


def recomputed(c: RunCheck, action: str) -> RunCheck:
    """`c` when its figures are what its samples give; otherwise the MobevalError a damaged folder gets."""
    problems = edited_figures(c)
    if problems:
        c.problems += problems
        raise c.error(action)
    return c


def latency_valid(c: RunCheck) -> Verdict:
    name = "latency valid"
    r = c.result
    if r is None:
        return _skip(name, NO_RESULT)
    valid = r.performance.get("latency_valid")
    if valid is None:
        return _skip(name, "the result records no latency validity (written by an older mobeval)")
    if not valid.value:
        return _fail(name, [f"the latency figures are not valid under the shared rule: {valid.note}"])
    return _pass(name, valid.note)


CHECKS: tuple[Callable[[RunCheck], Verdict | list[Verdict]], ...] = (
    files_present, hashes_match, run_complete, every_item_once, kind_checks, outputs_match_samples,
    ids_match_benchmark, figures_recompute, latency_valid)


def check_submission_run(path: Path) -> list[Verdict]:
    """Every check of a run folder as a submission, in order (never raises for a damaged folder)."""
    c = check_run(Path(path), need_result=False)
    if not c.identity:  # run.json unreadable: nothing else can be read
        return [_fail("run folder", c.problems), *(_skip(n, "run.json is unreadable") for n in (
            "result hashes match files", "run complete", "every item once", "answer file", "outputs match samples",
            "ids match the benchmark's", "figures recompute from samples", "latency valid"))]
    out: list[Verdict] = []
    for check in CHECKS:
        v = check(c)
        out += v if isinstance(v, list) else [v]
    return out
