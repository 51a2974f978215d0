"""The index of runs: an SQLite file in each results directory (`.mobeval-index.sqlite`) holding each run
folder's board row, keyed by the folder's path and a fingerprint of its files (size and mtime of
every file in it, and the sha256 of samples.jsonl's bytes). A folder whose
fingerprint is unchanged is not checked or read again; any other is re-read. The files stay the source
of truth: the index is a cache, rebuilt from them with --rebuild-index, and a missing, unwritable or
unreadable index only costs the time of reading every folder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mobeval.board.bundles import read_entry
from mobeval.board.entry import BoardEntry
from mobeval.core.hashing import bytes_sha256

INDEX_NAME = ".mobeval-index.sqlite"
FORMAT = "5"  # of the stored rows and fingerprints; a different one rebuilds the index
_FILES = ("run.json", "selection.json", "result.json")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    folder TEXT PRIMARY KEY,        -- path relative to the results directory
    fingerprint TEXT NOT NULL,
    kind TEXT, bench TEXT, model TEXT, runner TEXT, device TEXT,
    tier INTEGER,                   -- 0 whole, 1 ranked below, 2 incomplete, 3 damaged
    entry TEXT NOT NULL,            -- BoardEntry as JSON
    indexed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_bench ON runs (bench);
"""


def fingerprint(folder: Path) -> str:
    """What changes when any file the board row is made from changes (a file added, removed or rewritten:
    a missing segments.jsonl or an edited bundle manifest is seen too)."""
    parts: dict[str, object] = {name: None for name in _FILES}
    try:
        files = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        files = []
    for path in files:
        try:
            st = path.stat()
            parts[path.name] = [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            continue
    try:
        parts["samples.jsonl"] = bytes_sha256((folder / "samples.jsonl").read_bytes())
    except FileNotFoundError:
        parts["samples.jsonl"] = None
    return json.dumps(parts, sort_keys=True)


@dataclass
class IndexStats:
    path: Path | None  # the index file (None: folders read without one)
    reused: int = 0  # rows taken from the index
    read: int = 0  # folders checked and read (new or changed)
    removed: int = 0  # rows of folders that are gone
    note: str = ""  # why no index was used, or what was wrong with it

    def line(self) -> str:
        where = f"index {self.path}" if self.path else "no index"
        return (f"{where}: {self.reused} run(s) from the index, {self.read} read from their folders"
                + (f", {self.removed} gone" if self.removed else "") + (f" ({self.note})" if self.note else ""))


class RunIndex:
    """The index of one results directory."""

    def __init__(self, root: Path, rebuild: bool = False):
        self.root = Path(root)
        self.path = self.root / INDEX_NAME
        self.stats = IndexStats(self.path)
        self.db: sqlite3.Connection | None = None
        try:
            self.db = self._open(rebuild)
        except sqlite3.OperationalError as exc:  # a read-only folder, a locked file
            self._without(f"cannot write {self.path}: {exc}")
        except sqlite3.DatabaseError as exc:  # not a database (a damaged file): it is only a cache
            self.stats.note = f"the index was unreadable ({exc}); rebuilt"
            try:
                self.path.unlink()
                self.db = self._open(rebuild=True)
            except (OSError, sqlite3.Error) as exc2:
                self._without(f"cannot write {self.path}: {exc2}")
        except (OSError, sqlite3.Error) as exc:
            self._without(f"cannot write {self.path}: {exc}")

    def _without(self, why: str) -> None:
        self.db, self.stats.path, self.stats.note = None, None, why

    def _open(self, rebuild: bool) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if rebuild or row is None or row[0] != FORMAT:
            with db:
                db.execute("DELETE FROM runs")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
        return db

    def _key(self, folder: Path) -> str:
        try:
            return folder.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(folder.resolve())

    @staticmethod
    def _stored(row: tuple[str, str] | None, fp: str) -> BoardEntry | None:
        """The stored row when its fingerprint matches and it still reads as a row (else: read the folder)."""
        if row is None or row[0] != fp:
            return None
        try:
            return BoardEntry.from_json(json.loads(row[1]))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def entries(self, folders: list[Path], read: Callable[[Path], BoardEntry] = read_entry) -> list[BoardEntry]:
        """A row per folder: from the index when its fingerprint is unchanged, else read and stored."""
        if self.db is None:
            self.stats.read = len(folders)
            return [read(f) for f in folders]
        stored = {k: (fp, e) for k, fp, e in self.db.execute("SELECT folder, fingerprint, entry FROM runs")}
        out, fresh = [], []
        for folder in folders:
            key, fp = self._key(folder), fingerprint(folder)
            entry = self._stored(stored.get(key), fp)
            if entry is not None:
                entry.path = str(folder)  # the same folder, perhaps reached by another path
                self.stats.reused += 1
            else:
                entry = read(folder)
                fresh.append((key, fp, entry))
                self.stats.read += 1
            out.append(entry)
        gone = set(stored) - {self._key(f) for f in folders}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(k, fp, e.kind, e.bench, e.model, e.runner, e.device, e.tier, json.dumps(e.to_json()), now)
                     for k, fp, e in fresh])
                self.db.executemany("DELETE FROM runs WHERE folder = ?", [(k,) for k in gone])
            self.stats.removed = len(gone)
        except sqlite3.Error as exc:
            self.stats.note = f"not updated: {exc}"
        return out

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def board_entries(roots: list[Path], use_index: bool = True, rebuild: bool = False) -> tuple[list[BoardEntry], list[IndexStats]]:
    """Every run folder under the roots, as board rows, each root through its own index (none for a root
    that is itself a run folder: nothing is written into a run folder)."""
    from mobeval.board.bundles import archive_entry
    from mobeval.board.discover import bundle_archives, is_bundle_archive, is_run_folder, run_folders

    entries, stats, seen = [], [], set()
    for root in roots:
        archives = [a for a in bundle_archives(root) if a.resolve() not in seen]  # unpacked each time: no index
        seen.update(a.resolve() for a in archives)
        entries += [archive_entry(a) for a in archives]
        if archives:
            stats.append(IndexStats(None, read=len(archives), note=f"{len(archives)} bundle archive(s) under {root}, "
                                                                    "unpacked and verified"))
        if is_bundle_archive(Path(root)):
            continue
        folders = [f for f in run_folders(root) if f.resolve() not in seen]
        seen.update(f.resolve() for f in folders)
        if not use_index or is_run_folder(Path(root)):
            entries += [read_entry(f) for f in folders]
            stats.append(IndexStats(None, read=len(folders), note="" if use_index else "--no-index"))
            continue
        index = RunIndex(Path(root), rebuild)
        try:
            entries += index.entries(folders)
        finally:
            index.close()
        stats.append(index.stats)
    return entries, stats
