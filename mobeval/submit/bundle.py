"""The submission bundle for mobeval's own board: a run's files, its environment and a manifest of hashes.

A bundle is a folder named after the run (so it is itself a run folder the board reads) holding run.json,
selection.json, samples.jsonl, segments.jsonl, result.json, the kind's outputs, environment.json (the
result's environment, for a reader without mobeval) and bundle.json: the format, who wrote it, the sha256
and size of every other file, and the verdicts of `submit --check` when it was made. `OUT.tar.gz` packs
that folder. The board verifies a bundle it is given: a file missing, added or not matching its hash
marks the run damaged (never ranked), beside every check a run folder gets.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mobeval.core.version import __version__
from mobeval.core.errors import MobevalError
from mobeval.core.hashing import stream_sha256
from mobeval.results.integrity import RunCheck
from mobeval.submit.checks import Verdict
from mobeval.submit.files import expected_files, missing_files

MANIFEST = "bundle.json"
FORMAT = "mobeval.bundle/1"
ENVIRONMENT = "environment.json"
MAX_ARCHIVE_BYTES = 2 << 30  # unpacked size a bundle may claim (a samples file of a big run fits)


def is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": stream_sha256(path), "bytes": path.stat().st_size}


def write_bundle(check: RunCheck, verdicts: list[Verdict], out: Path) -> Path:
    """Write the bundle of a checked run folder to `out` (a folder, or a .tar.gz); the path written.
    A damaged folder (its files contradict its result, or one is missing) is refused: its hashes would
    vouch for nothing."""
    problems = check.problems + missing_files(check)
    if problems:
        raise MobevalError(f"{check.path}: not bundled, the run folder is damaged:\n"
                           + "\n".join(f"  - {p}" for p in problems))
    if check.result is None:
        raise MobevalError(f"{check.path}: not bundled: no result.json (the run has not finished a segment)")
    out = Path(out)
    if out.exists():
        raise MobevalError(f"--bundle {out}: already exists (give a new path)")
    archive = is_archive(out)
    staging = out.parent / f".{out.name}.tmp" if archive else out
    folder = staging / check.path.name if archive else out
    try:
        folder.mkdir(parents=True)
        files: dict[str, Any] = {}
        for name in expected_files(check):
            shutil.copyfile(check.path / name, folder / name)
        (folder / ENVIRONMENT).write_text(json.dumps(check.result.environment, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        for p in sorted(folder.iterdir()):
            files[p.name] = _file_entry(p)
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "mobeval_version": __version__, "run": check.path.name, "files": files,
                    "checks": [asdict(v) for v in verdicts]}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if archive:
            with tarfile.open(out, "w:gz") as tar:
                tar.add(folder, arcname=folder.name)
    except OSError as exc:
        raise MobevalError(f"--bundle {out}: cannot write ({exc.strerror})") from exc
    finally:
        if archive:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def verify_bundle(folder: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) of a bundle folder's manifest: every listed file present with its sha256 and size,
    none unlisted, environment.json the result's own. Only for a folder holding bundle.json."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, dict):
            raise ValueError(f"format {manifest.get('format')!r}, {FORMAT!r} expected")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: not a bundle manifest ({exc})"], []
    problems = []
    for name, want in sorted(files.items()):
        path = folder / name
        if Path(name).name != name or not path.is_file():
            problems.append(f"bundle: {name} is listed in {MANIFEST} but missing")
        elif _file_entry(path) != {"sha256": want.get("sha256"), "bytes": want.get("bytes")}:
            problems.append(f"bundle: {name} does not match its sha256 in {MANIFEST}: it was changed after the "
                            "bundle was made")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in files and p.name != MANIFEST)
    problems += [f"bundle: {name} is not listed in {MANIFEST}: added after the bundle was made" for name in extra]
    if not problems and ENVIRONMENT in files:
        try:
            env = json.loads((folder / ENVIRONMENT).read_text(encoding="utf-8"))
            result_env = json.loads((folder / "result.json").read_text(encoding="utf-8")).get("environment")
        except (OSError, ValueError, AttributeError) as exc:
            env, result_env = None, exc
        if env != result_env:
            problems.append(f"bundle: {ENVIRONMENT} is not result.json's environment")
    notes = [] if problems else [f"bundle {manifest.get('run')}: {len(files)} files match {MANIFEST} "
                                 f"(made {manifest.get('created_at')} by mobeval {manifest.get('mobeval_version')})"]
    return problems, notes


def unpack(archive: Path, dest: Path) -> Path:
    """A .tar.gz bundle unpacked under `dest`: its one top folder. Only plain files in one folder are
    accepted (no links, no absolute or parent paths), so an archive cannot write outside `dest`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            tops = {Path(m.name).parts[0] for m in members if Path(m.name).parts}
            bad = [m.name for m in members if not (m.isfile() or m.isdir()) or Path(m.name).is_absolute()
                   or ".." in Path(m.name).parts or len(Path(m.name).parts) > 2]
            if bad or len(tops) != 1:
                raise MobevalError(f"{archive}: not a mobeval bundle (one folder of plain files expected; "
                                   f"{'unexpected member ' + bad[0] if bad else f'{len(tops)} top entries'})")
            if sum(m.size for m in members) > MAX_ARCHIVE_BYTES:
                raise MobevalError(f"{archive}: unpacks to more than {MAX_ARCHIVE_BYTES >> 30} GiB")
            tar.extractall(dest, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise MobevalError(f"{archive}: not a readable .tar.gz ({exc})") from exc
    return Path(dest) / tops.pop()
