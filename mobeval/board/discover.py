"""The run folders under a directory: every folder holding a run.json or a result.json (not descended
into), hidden folders skipped; and the submission bundles packed as .tar.gz."""

from __future__ import annotations

import os
from pathlib import Path

from mobeval.core.errors import MobevalError


def is_run_folder(path: Path) -> bool:
    """A folder holding run.json, or result.json (a run folder that lost its run.json: shown as damaged)."""
    return (path / "run.json").is_file() or (path / "result.json").is_file()


def is_bundle_archive(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz"))


def run_folders(root: Path) -> list[Path]:
    """Run folders at or under `root`, sorted by path; a MobevalError when root is not a directory."""
    root = Path(root)
    if not root.is_dir():
        raise MobevalError(f"{root}: no such directory (give the folder that holds the run folders, e.g. results)")
    if is_run_folder(root):
        return [root]
    found = []
    for here, dirs, files in os.walk(root):
        if ("run.json" in files or "result.json" in files) and Path(here) != root:
            found.append(Path(here))
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found)


def bundle_archives(root: Path) -> list[Path]:
    """Submission bundles packed as .tar.gz at or under `root` (not inside run folders), sorted by path."""
    root = Path(root)
    if is_bundle_archive(root):
        return [root]
    found = []
    for here, dirs, files in os.walk(root):
        if "run.json" in files or "result.json" in files:
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(here) / f for f in files if is_bundle_archive(Path(here) / f)]
    return sorted(found)
