"""Submission bundles on the board (mobeval/submit/bundle.py): a bundle folder is a run folder with a
manifest, verified beside the usual checks; a .tar.gz bundle is unpacked to a temporary folder, read the
same way, and shown under the archive's path. A bundle that does not verify is marked damaged, never ranked."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mobeval.board.entry import BoardEntry, entry_from_check
from mobeval.core.errors import MobevalError
from mobeval.results.integrity import RunCheck, check_run
from mobeval.submit.bundle import MANIFEST, unpack, verify_bundle
from mobeval.submit.checks import edited_figures
from mobeval.submit.files import missing_files


def full_check(folder: Path) -> RunCheck:
    """The integrity check, plus missing files, plus (for a bundle) its manifest, plus its figures recomputed
    from its samples: no result.json is taken on trust, a bundle's or a plain folder's."""
    check = check_run(folder, need_result=False)
    check.problems += [p for p in missing_files(check) if p not in check.problems]
    bundle = (Path(folder) / MANIFEST).is_file()
    if bundle:
        problems, notes = verify_bundle(folder)
        check.problems += problems
        check.notes += notes
    check.problems += [f"{'bundle: ' if bundle else ''}{p}" for p in edited_figures(check)]
    return check


def archive_entry(archive: Path) -> BoardEntry:
    """The board's row of a .tar.gz bundle (its path is the archive's)."""
    with tempfile.TemporaryDirectory(prefix="mobeval-bundle-") as tmp:
        try:
            folder = unpack(archive, Path(tmp))
        except MobevalError as exc:
            return BoardEntry(path=str(archive), folder=archive.name, kind="?", bench="?", model="?", runner="?",
                              marks=["damaged"], problems=[str(exc)])
        entry = entry_from_check(full_check(folder))
    entry.path = str(archive)
    return entry


def read_entry(folder: Path) -> BoardEntry:
    """Check a run folder (every file; a bundle's manifest) and make its row; never raises for a damaged folder."""
    return entry_from_check(full_check(folder))
