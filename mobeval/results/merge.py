"""`mobeval merge`: join the run folders of `mobeval run --shard K/N` into one ordinary run folder.

Nothing is joined before every check passes: each folder passes the integrity check, is a shard, is
complete, and agrees with the others on everything that changes a record (the identity `--resume`
compares, the whole selection, the runner and its version, the settings); each shard's selection is
exactly its share of the whole (tasks.base.shard_index); and the shards together are the whole
selection, each item in one shard only. A refusal names the folders and what differs.

The merged folder holds the whole selection, the shards' records in its order, their segments, and a
result built as for any run, whose provenance names each shard, its samples' sha256 and its machine.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobeval.core.errors import MobevalError
from mobeval.core.printing import human_bytes
from mobeval.results.assemble import build_result
from mobeval.results.integrity import RunCheck, verified
from mobeval.results.resume import IDENTITY_KEYS, differences
from mobeval.results.store import RunDir, Selection
from mobeval.core.kinds import task_kind
from mobeval.core.task import shard_index

# config keys that change no record: where a run writes, which shard it is, how energy is measured, a
# remote client's pacing, throughput batch sizes (measured after the items), thread counts (speed only),
# and data paths (what they hold is hashed into the selection and compared as such)
NOT_COMPARED = frozenset({"output_dir", "shard", "data", "answers", "labels", "energy", "watts_per_core",
                          "android_serial", "idle_seconds", "concurrency", "request_timeout", "batch_sizes",
                          "threads"})
MACHINE_KEYS = ("cpu", "arch", "cpu_logical", "memory_bytes", "os")
_SHARD_KEYS = ("shard", "whole_selection_sha256", "whole_selection", "whole_data", "selection_file_sha256")


@dataclass
class ShardRun:
    check: RunCheck
    index: int  # K, 1-based
    count: int  # N

    @property
    def name(self) -> str:
        return self.check.path.name

    @property
    def identity(self) -> dict[str, Any]:
        return self.check.identity

    @property
    def whole(self) -> Selection:
        return Selection(**self.identity["whole_selection"])

    def machine(self) -> dict[str, Any]:
        env = self.check.result.environment
        return {k: env.get(k) for k in MACHINE_KEYS}


def whole_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """A shard's run.json as the unsharded run's would be: the whole selection's hash, no shard."""
    out = {k: v for k, v in identity.items() if k not in _SHARD_KEYS}
    out["selection_sha256"] = identity["whole_selection_sha256"]
    out["config"] = {**identity.get("config", {}), "shard": None}
    return out


def _load(path: Path) -> ShardRun:
    check = verified(path, "merge")
    shard = check.identity.get("shard")
    if not shard or not {"whole_selection", "whole_selection_sha256", "whole_data"} <= check.identity.keys():
        raise MobevalError(f"merge {path}: not a shard (its run.json records no --shard K/N); merge joins the "
                           "folders of `mobeval run --shard K/N` runs")
    index, count = (int(x) for x in str(shard).split("/"))
    return ShardRun(check, index, count)


def _settings_differences(a: ShardRun, b: ShardRun) -> list[str]:
    """What two shards differ in that changes a record (each with both values: a's there, b's here)."""
    diff = differences(whole_identity(a.identity), whole_identity(b.identity))
    ca, cb = a.identity.get("config", {}), b.identity.get("config", {})
    diff += [f"{k} ({ca.get(k)} there, {cb.get(k)} here)"
             for k in sorted({*ca, *cb} - NOT_COMPARED - set(IDENTITY_KEYS)) if ca.get(k) != cb.get(k)]
    if a.count != b.count:
        diff.append(f"shard count ({a.identity['shard']} there, {b.identity['shard']} here)")
    if a.identity["whole_selection"] != b.identity["whole_selection"]:
        diff.append("the whole selection's items or their order")
    ra, rb = a.check.result.runner, b.check.result.runner
    for key in ("name", "backend_version"):
        if ra.get(key) != rb.get(key):
            diff.append(f"runner {key} ({ra.get(key)} there, {rb.get(key)} here)")
    sa, sb = ({k: v for k, v in r.get("settings", {}).items() if "thread" not in k} for r in (ra, rb))
    if sa != sb:
        keys = sorted(k for k in {*sa, *sb} if sa.get(k) != sb.get(k))
        diff.append("runner settings " + ", ".join(f"{k} ({sa.get(k)} there, {sb.get(k)} here)" for k in keys))
    if a.check.result.model.get("sha256") != b.check.result.model.get("sha256"):
        diff.append("the model file (result.json's model sha256)")
    return diff


def _share(whole: Selection, index: int, count: int) -> Selection:
    """Shard `index` of `count` of the whole selection, in its order."""
    pairs = [(q, n) for q, n in zip(whole.question_ids, whole.orderings) if shard_index(q, count) == index - 1]
    return Selection([q for q, _ in pairs], [n for _, n in pairs])


def check_shards(paths: list[Path]) -> list[ShardRun]:
    """The shards, ordered by index, once every check passes; a MobevalError naming the folders and the
    reason otherwise."""
    if not paths:
        raise MobevalError("merge needs the run folders of the shards")
    seen: dict[Path, Path] = {}
    for p in paths:
        key = Path(p).resolve()
        if key in seen:
            raise MobevalError(f"merge: {p} is given twice (its items would count twice)")
        seen[key] = p
    shards = [_load(Path(p)) for p in paths]
    first = shards[0]
    for s in shards[1:]:
        diff = _settings_differences(first, s)
        if diff:
            raise MobevalError(f"merge: {s.check.path} is not a shard of the same run as {first.check.path}: they "
                               f"differ in {'; '.join(diff)} ('there' is the first folder, 'here' the second); "
                               "shards of one run share everything that changes a record")
    whole = first.whole
    for s in shards:
        if s.check.selection != _share(whole, s.index, s.count):
            raise MobevalError(f"merge: {s.check.path}: its selection.json is not shard {s.identity['shard']} of the "
                               "whole selection its run.json records (sha256 of each item id mod N): it was edited "
                               "or written by another program")
        if not s.check.complete:
            done = len({r.item_id for r in s.check.result_samples})
            raise MobevalError(f"merge: {s.check.path} (shard {s.identity['shard']}) is incomplete: {done} of its "
                               f"{len(s.check.selection.question_ids)} items have records; finish it with the same "
                               f"command and --resume --run-dir {s.check.path}, then merge")
    by_index: dict[int, ShardRun] = {}
    for s in shards:
        if s.index in by_index:
            other = by_index[s.index]
            n = len(s.check.selection.question_ids)
            raise MobevalError(f"merge: {other.check.path} and {s.check.path} are both shard {s.identity['shard']}: "
                               f"their {n} items overlap; give each shard once")
        by_index[s.index] = s
    covered = {q for s in shards for q in s.check.selection.question_ids}
    for k in range(1, first.count + 1):
        missing = [q for q in _share(whole, k, first.count).question_ids if q not in covered]
        if missing:
            raise MobevalError(f"merge: shard {k}/{first.count} is missing: no folder given holds its "
                               f"{len(missing)} of the {len(whole.question_ids)} selected items (first: {missing[0]}); "
                               f"run it with the same settings and --shard {k}/{first.count}, then merge all of them")
    return sorted(shards, key=lambda s: s.index)


def _describe(machine: dict[str, Any]) -> str:
    return (f"{machine.get('cpu')}, {machine.get('cpu_logical')} logical cores, "
            f"{human_bytes(machine.get('memory_bytes'))} RAM, {machine.get('os')}")


def merge(paths: list[Path], output_dir: Path) -> RunDir:
    """Check the shards, then write the merged run folder under `output_dir` (in a hidden folder first,
    renamed when whole, so a failure leaves nothing that looks like a run)."""
    shards = check_shards(paths)
    first = shards[0]
    whole = first.whole
    kind = task_kind(first.check.run.kind)
    by_item: dict[str, list] = {}
    for s in shards:
        for r in s.check.result_samples:
            by_item.setdefault(r.item_id, []).append(r)
    records = [r for q in whole.question_ids for r in by_item[q]]
    merged_from = [{"folder": s.name, "shard": s.identity["shard"],
                    "samples_sha256": s.check.result.integrity.samples_sha256, "machine": s.machine()}
                   for s in shards]
    identity = whole_identity(first.identity)
    identity["config"]["output_dir"] = str(output_dir)
    identity["merged_from"] = merged_from
    run = RunDir.new(output_dir, identity["model"], identity["bench"], identity, whole)
    final = run.path
    run.path = final.with_name(f".{final.name}.partial")
    try:
        run.ensure_on_disk()
        run.append_samples(records)
        (run.path / "segments.jsonl").write_text(
            "".join(_segments_text(s.check.path) for s in shards), encoding="utf-8")
        segments = run.segments()
        result = build_result(kind, {"model": first.check.result.model, "data": first.identity["whole_data"]},
                              run.identity(), first.check.result.environment, first.check.result.runner, records,
                              segments, complete=True, killed=run.killed_segments(), integrity=run.integrity())
        result.provenance.merged_from = merged_from
        machines = {_describe(m["machine"]) for m in merged_from}
        wall = result.performance["wall_time"]
        killed = wall.note.split("; ")[-1] if "killed" in wall.note else ""
        result.performance["wall_time"] = wall.model_copy(update={"note": "; ".join(filter(None, (
            f"summed over the {len(segments)} segments of the {len(shards)} merged shards, which may have run "
            "at the same time", killed)))})
        if len(machines) > 1:
            result.environment = {**result.environment, "note": f"merged from shards on {len(machines)} "
                                  "machines (provenance.merged_from); this is the first shard's"}
        run.write_result(result)
        kind.write_outputs(run.path, records, whole.question_ids)
        os.replace(run.path, final)
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    run.path = final
    return run


def _segments_text(folder: Path) -> str:
    text = (folder / "segments.jsonl").read_text(encoding="utf-8") if (folder / "segments.jsonl").exists() else ""
    return text if not text or text.endswith("\n") else text + "\n"
