"""The run folders under a directory: every folder holding a run.json (not descended into), hidden
folders skipped."""

from __future__ import annotations

import os
from pathlib import Path

from mobeval.errors import MobevalError


def is_run_folder(path: Path) -> bool:
    return (path / "run.json").is_file()


def run_folders(root: Path) -> list[Path]:
    """Run folders at or under `root`, sorted by path; a MobevalError when root is not a directory."""
    root = Path(root)
    if not root.is_dir():
        raise MobevalError(f"{root}: no such directory (give the folder that holds the run folders, e.g. results)")
    if is_run_folder(root):
        return [root]
    found = []
    for here, dirs, files in os.walk(root):
        if "run.json" in files and Path(here) != root:
            found.append(Path(here))
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found)
