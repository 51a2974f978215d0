"""The files a run folder must hold: run.json always; selection.json where the run recorded one; once a
result is written, samples.jsonl, result.json, segments.jsonl and the task kind's outputs (the challenge's
submission.csv); result.json too once segments.jsonl records a segment that ended (a run killed before its
first result has none). A missing one is a problem for `submit --check` and for the board."""

from __future__ import annotations

from mobeval.results.integrity import RunCheck
from mobeval.core.kinds import task_kind


def expected_files(check: RunCheck) -> list[str]:
    names = ["run.json"]
    r = check.result
    recorded = check.identity.get("selection_file_sha256") or (r is not None and r.integrity is not None
                                                                and r.integrity.selection_file_sha256)
    if recorded:
        names.append("selection.json")
    if r is not None:
        names += ["samples.jsonl", "result.json", "segments.jsonl", *task_kind(r.kind).outputs]
    elif _segment_ended(check):  # a segment that ended wrote its result.json right after: it was removed
        names += ["samples.jsonl", "result.json"]
    return names


def _segment_ended(check: RunCheck) -> bool:
    try:
        return bool(check.run.segments())
    except (OSError, TypeError, ValueError):
        return False


def missing_files(check: RunCheck) -> list[str]:
    """Problems, one per expected file that is not in the folder."""
    return [f"{name} is missing: restore it from the original run" for name in expected_files(check)
            if not (check.path / name).is_file()]
