"""Which run folder `--resume` continues: the one named, or the newest unfinished one that matches.

A run continues only a folder whose identity agrees with it on everything that changes a sample, and
only a folder that passes the integrity check; a damaged or different folder is listed with the
reason, never chosen and never in the way of another run of the same model and bench.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mobeval.core.errors import MobevalError
from mobeval.results.integrity import check_run
from mobeval.results.store import RunDir, folder_prefix

# A resumed run must agree with the original on everything that changes a sample.
IDENTITY_KEYS = ("kind", "model", "model_sha256", "endpoint", "bench", "selection_sha256", "template_sha256",
                 "preprocess_sha256", "orderings", "method", "max_tokens", "chat", "runner", "seed", "torch_dtype",
                 "shard", "item_order")
NOT_IDENTITY = ("selection_file_sha256",)  # run.json's hash of its own selection.json: checked by integrity.py
DEFAULTS = {"kind": "mcq"}  # what a folder from before the key was recorded means by its absence
_WHAT = {"model_sha256": "a different model file", "selection_sha256": "a different selection of items",
         "template_sha256": "a different prompt template", "preprocess_sha256": "different image preprocessing",
         "images_sha256": "different image files (a picture replaced or changed since)",
         "item_order": "a different order of items: --until/--budget run them in a seeded random order, and a run "
                       "continues only a run of the same order (give --until or --budget, or neither, as it was)"}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The identity keys two runs differ in, each with both values: `orderings (cyclic there, original here)`."""
    out = []
    hashes = sorted(k for k in {*old, *new}
                    if k.endswith("_sha256") and k not in IDENTITY_KEYS and k not in NOT_IDENTITY)
    for k in (*IDENTITY_KEYS, *hashes):  # any hash a task kind records identifies the run too
        was, now = old.get(k, DEFAULTS.get(k)), new.get(k, DEFAULTS.get(k))
        if was != now:
            what = _WHAT.get(k) or (f"a different {k.removesuffix('_sha256').replace('_', ' ')}" if k.endswith("_sha256")
                                    else None)
            out.append(f"{k} ({what})" if what else f"{k} ({was} there, {now} here)")
    return out


def _refusal(path: Path, identity: dict[str, Any]) -> str:
    """Why the folder cannot be continued by this run; '' when it can. The whole check (every sample)
    only for a folder whose identity matches."""
    run = RunDir(path)
    try:
        diff = differences(run.identity(), identity)
    except MobevalError as exc:
        return f"damaged: {exc}"
    if diff:
        return "complete" if run.is_complete() else f"differs from this one in {', '.join(diff)}"
    c = check_run(path, need_result=False)
    if c.problems:
        return "damaged: " + "; ".join(c.problems)
    stopped_early = c.result is not None and c.result.sequential is not None and c.result.sequential.stopped_early
    return "complete" if c.complete and not stopped_early else ""  # a run stopped early goes on under a new rule


def named(run_dir: Path, identity: dict[str, Any]) -> RunDir:
    """`--resume --run-dir DIR`: that folder, if this run may continue it."""
    c = check_run(run_dir, need_result=False)
    if c.problems:
        raise c.error("--resume --run-dir")
    diff = differences(c.identity, identity)
    if diff:
        raise MobevalError(f"--resume {run_dir}: the run differs from this one in {', '.join(diff)}; resume it "
                           "with its own settings (its run.json), or start a new run without --resume")
    return RunDir(run_dir)


def newest_matching(root: Path, model: str, bench: str, identity: dict[str, Any]) -> RunDir:
    """`--resume` alone: the newest unfinished, undamaged folder of this model and bench that matches."""
    folders = sorted((p for p in Path(root).glob(folder_prefix(model, bench) + "*") if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    others = []
    for folder in folders:
        why = _refusal(folder, identity)
        if not why:
            return RunDir(folder)
        if why != "complete":
            others.append(f"{why}: {folder}")  # the reason first: a long path wraps on a console
    where = f"no unfinished run of {model} on {bench} under {root}"
    if not others:
        raise MobevalError(f"--resume: {where}; start one without --resume")
    raise MobevalError(f"--resume: {where} matches this one:\n  " + "\n  ".join(others)
                       + "\ncontinue one with its own settings (its run.json) and --resume --run-dir FOLDER, "
                         "or start a new run without --resume")
