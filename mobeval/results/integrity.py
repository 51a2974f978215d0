"""Check a run folder before any command trusts it: report, compare, submit and run --resume.

A *problem* means the folder contradicts itself (a truncated or edited file, samples that are not the
ones the result was computed from, a sample of a question the run never selected); a command refuses
it and says which file and what is wrong. A *note* is worth saying but not wrong: a line torn by a
kill, samples written after the last result by a resumed run that was then killed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mobeval.core.errors import MobevalError
from mobeval.core.hashing import bytes_sha256
from mobeval.results.schema import Result
from mobeval.results.store import RunDir, Selection
from mobeval.core.kinds import task_kind

# the keys of run.json whose copy in result.json must agree with it
_MIRRORED = (("selection_sha256", lambda r: r.data.get("selection_sha256")),
             ("model_sha256", lambda r: r.model.get("sha256")),
             ("bench", lambda r: r.data.get("bench")))


@dataclass
class RunCheck:
    path: Path
    identity: dict[str, Any] = field(default_factory=dict)
    selection: Selection | None = None
    samples: list = field(default_factory=list)  # every valid record, in file order
    result: Result | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    appended: int = 0  # samples written after result.json (a resumed run killed before its result)

    @property
    def run(self) -> RunDir:
        return RunDir(self.path)

    @property
    def result_samples(self) -> list:
        """The samples result.json was computed from."""
        return self.samples[: len(self.samples) - self.appended]

    @property
    def complete(self) -> bool:
        return self.result is not None and self.result.status == "complete" and not self.appended

    def error(self, action: str) -> MobevalError:
        if not self.path.is_dir():
            return MobevalError(f"{action} {self.path}: no such run folder")
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return MobevalError(f"{action} {self.path}: the run folder is damaged:\n{lines}")


def _check_samples(c: RunCheck, run: RunDir, raw: bytes) -> None:
    lines = run.sample_lines(raw)
    kind = task_kind(run.kind)
    noun = kind.item_noun
    expected = c.selection.expected() if c.selection else None
    where: dict[str, list[int]] = {}  # question -> line numbers
    seen: dict[tuple[str, int], int] = {}
    for i, line in enumerate(lines):
        if line.sample is None:
            if i == len(lines) - 1 and not raw.endswith(b"\n"):
                c.notes.append(f"samples.jsonl line {line.number}: torn by an interrupted write (ignored; "
                               f"--resume redoes its {noun})")
            else:
                c.problems.append(f"samples.jsonl line {line.number}: not a sample ({line.error})")
            continue
        s = line.sample
        if expected is not None and s.item_id not in expected:
            c.problems.append(f"samples.jsonl line {line.number}: {noun} {s.item_id!r} is not in the "
                              "run's selection (selection.json)")
            continue
        why = kind.record_problem(s, None if expected is None else expected[s.item_id])
        if why:
            c.problems.append(f"samples.jsonl line {line.number}: {why}")
            continue
        key = (s.item_id, s.ordering)
        if key in seen:
            c.problems.append(f"samples.jsonl line {line.number}: {noun} {s.item_id} ordering {s.ordering} "
                              f"is already on line {seen[key]}")
            continue
        seen[key] = line.number
        where.setdefault(s.item_id, []).append(line.number)
        c.samples.append(s)
    if expected is None:
        return
    last_line = max((n for ns in where.values() for n in ns), default=0)
    for qid, numbers in where.items():
        if len(numbers) < expected[qid]:
            if last_line in numbers:  # the question being written when the run was killed
                c.notes.append(f"{noun} {qid}: {len(numbers)} of {expected[qid]} orderings at the end of "
                               "samples.jsonl (interrupted while writing it; --resume redoes it)")
            else:
                c.problems.append(f"{noun} {qid}: {len(numbers)} of {expected[qid]} orderings (samples.jsonl "
                                  f"lines {', '.join(map(str, numbers))}); a run writes all of an item's "
                                  "orderings at once")


def _check_result(c: RunCheck, run: RunDir, raw: bytes, need_result: bool) -> None:
    if not (run.path / "result.json").exists():
        if need_result:
            c.problems.append("no result.json: the run has not finished a segment (killed?); continue it with "
                              f"the same command and --resume --run-dir {run.path}")
        return
    try:
        c.result = r = run.result()
    except MobevalError as exc:
        c.problems.append(f"{exc}; --resume --run-dir {run.path} rebuilds it from samples.jsonl once it is deleted")
        return
    for key, mirrored in _MIRRORED:
        if key in c.identity and mirrored(r) != c.identity[key]:
            c.problems.append(f"result.json and run.json disagree on {key} ({mirrored(r)!r} vs "
                              f"{c.identity[key]!r}): one was edited or copied from another run")
    if c.identity.get("config") is not None and r.config != c.identity["config"]:
        keys = sorted(k for k in set(r.config) | set(c.identity["config"])
                      if r.config.get(k) != c.identity["config"].get(k))
        c.problems.append(f"result.json's config differs from run.json's in {', '.join(keys)}")
    if c.selection is not None and r.data.get("n_items_selected") not in (None, len(c.selection.question_ids)):
        c.problems.append(f"result.json counts {r.data['n_items_selected']} selected items, "
                          f"selection.json {len(c.selection.question_ids)}")
    if r.integrity is None:
        c.notes.append("result.json records no hash of samples.jsonl (written by an older mobeval): not verified")
        return
    if (r.integrity.selection_file_sha256 and c.selection is not None
            and r.integrity.selection_file_sha256 != run.selection_file_sha256()):
        c.problems.append("selection.json is not the one result.json was computed from (sha256 differs)")
    rec = r.integrity
    if bytes_sha256(raw) == rec.samples_sha256:
        return
    if len(raw) > rec.samples_bytes and bytes_sha256(raw[: rec.samples_bytes]) == rec.samples_sha256:
        c.appended = max(0, len(c.samples) - rec.samples)
        c.notes.append(f"{c.appended} sample(s) were written after result.json (a resumed run was stopped before "
                       f"writing its result): the figures do not count them; bring it up to date with the same "
                       f"command and --resume --run-dir {run.path}")
        return
    c.problems.append(f"samples.jsonl is not the file result.json was computed from ({rec.samples} samples, "
                      f"{rec.samples_bytes} bytes, sha256 {rec.samples_sha256[:12]}… recorded; {len(c.samples)} "
                      f"samples, {len(raw)} bytes, sha256 {bytes_sha256(raw)[:12]}… now): it was truncated or edited, so "
                      "the result no longer matches its evidence. Restore it, or delete result.json and continue "
                      f"with --resume --run-dir {run.path} to redo what is missing")


def check_run(path: Path, need_result: bool = True) -> RunCheck:
    """Every check of a run folder; never raises for a damaged folder (see RunCheck.problems)."""
    c = RunCheck(Path(path))
    run = RunDir(c.path)
    try:
        c.identity = run.identity()
    except MobevalError as exc:
        c.problems.append(str(exc))
        return c
    try:
        c.selection = run.selection()
    except MobevalError as exc:
        c.problems.append(str(exc))
    else:
        recorded = c.identity.get("selection_file_sha256")
        if c.selection is None:
            c.notes.append("no selection.json (a run folder from an older mobeval): samples are not checked "
                           "against the selected questions")
        elif recorded and recorded != run.selection_file_sha256():
            c.problems.append("selection.json is not the one run.json recorded (sha256 differs): it was edited")
    raw = run.samples_bytes()  # read once: parsed, then hashed against what the result recorded
    _check_samples(c, run, raw)
    _check_result(c, run, raw, need_result)
    if c.result is not None and c.result.status == "complete" and c.selection is not None and not c.problems:
        missing = set(c.selection.question_ids) - {s.item_id for s in c.result_samples}
        seq = c.result.sequential
        if seq is not None and seq.stopped_early and len(missing) == seq.items_left:
            c.notes.append(f"stopped early ({seq.stop_reason}): {seq.items_used} of {len(c.selection.question_ids)} "
                           f"selected items run, {seq.items_left} left; its figures are of a uniform random sample")
        elif missing:
            c.problems.append(f"result.json says complete, but {len(missing)} selected question(s) have no samples "
                              f"(first: {sorted(missing)[0]})")
    return c


def verified(path: Path, action: str, need_result: bool = True) -> RunCheck:
    """The checked folder; a MobevalError listing every problem when there is one."""
    c = check_run(path, need_result)
    if c.problems:
        raise c.error(action)
    return c
