"""The `spectrum-captures` benchmark: capture files in a folder (--data DIR), read by capture_io.

What DIR may hold (docs/spectrum-data.md):
- a dataset written by mobeval (`spectrum-dataset.json` listing its captures, capture_io.write_dataset);
- otherwise, every capture found anywhere under it (the whole tree is walked; a capture folder is not
  looked into further): folders in the paper layout (`data.dat` + `meta-data.json`, in mobeval's schema
  or in the CMuSeNet authors', `<root>/<snr>/<i>/`, whose SNR level is the `<snr>` folder's name) and
  SigMF pairs (`NAME.sigmf-meta` + `NAME.sigmf-data`), in name order;
- or DIR is itself one paper-layout capture folder.

Only the metadata is read to index the captures (id, SNR level, number of signals, source); the
samples are read when a capture is evaluated, and every defect (truncated data, a sample count that
disagrees with the metadata, NaN, signals outside the band) is then a DataError naming the file. An
item's id is its path under DIR ("-20/17" for the authors' layout), or DIR's name when DIR is a capture. A capture with signals but no SNR level (a recording) counts in the
'unknown' SNR group, not with empty spectrum.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from mobeval.spectrum.benchmarks import capture_io
from mobeval.spectrum.benchmarks.dataset import CaptureRef, SpectrumSet
from mobeval.core.errors import DataError
from mobeval.core.hashing import stream_sha256, text_sha256
from mobeval.spectrum.task.items import Capture

PAPER, SIGMF, CMUSENET = "paper", "sigmf", capture_io.CMUSENET


def _paper_files(folder: Path) -> tuple[Path, Path]:
    return folder / capture_io.PAPER_META, folder / capture_io.PAPER_DATA


def _sigmf_files(base: Path) -> tuple[Path, Path]:
    return base.with_name(base.name + ".sigmf-meta"), base.with_name(base.name + ".sigmf-data")


def _level(value: Any, path: Path, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{path}: {key} {value!r} is not a number of dB (or null for empty spectrum)")
    return float(value)


def _ref(name: str, fmt: str, base: Path) -> tuple[CaptureRef, list[Path], str]:
    """A capture's index entry from its metadata alone, its files, and its format (paper, cmusenet, sigmf)."""
    meta_path, data_path = (_paper_files if fmt == PAPER else _sigmf_files)(base)
    source: Any = {}
    if fmt == PAPER:
        meta = capture_io.load_json(meta_path)
        if capture_io.paper_schema(meta, meta_path) == CMUSENET:
            fmt = CMUSENET
            signals, _, level, level_from = capture_io.cmusenet_meta(meta, meta_path, base)
            source = {"kind": CMUSENET, "snr_from": level_from}
        else:
            signals, level = meta.get("signals"), _level(meta.get("snr_db"), meta_path, "snr_db")
            source = meta.get("source") or {}
    else:
        meta = capture_io.load_json_object(meta_path)
        glob = meta.get("global")
        if not isinstance(glob, dict):
            raise DataError(f"{meta_path}: missing key 'global'")
        signals = meta.get("annotations", [])
        level = _level(glob.get("mobeval:snr_level_db"), meta_path, "mobeval:snr_level_db")
        source = glob.get("mobeval:source") or {}
    if not isinstance(signals, list):
        raise DataError(f"{meta_path}: {'signals' if fmt == PAPER else 'annotations'} is not a list")
    if not data_path.is_file():
        raise DataError(f"{data_path}: not found (the samples of {meta_path.name})")
    ref = CaptureRef(id=name, snr_level_db=level, n_signals=len(signals),
                     source={**source, "format": fmt, "file": str(base)} if isinstance(source, dict) else
                     {"format": fmt, "file": str(base)})
    return ref, [meta_path, data_path], fmt


def _walk(root: Path) -> list[tuple[str, str, Path]]:
    """Every paper-layout folder and SigMF pair under root, at any depth (symbolic links followed once)."""
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        folder = Path(dirpath)
        real = folder.resolve()
        if real in seen:  # a link back up the tree
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        name = folder.relative_to(root).as_posix()
        if capture_io.PAPER_META in filenames:
            found.append((name, PAPER, folder))
            dirnames[:] = []  # a capture folder holds its two files, not more captures
            continue
        for f in filenames:
            if f.endswith(".sigmf-meta") and not f.startswith("."):
                base = folder / f.removesuffix(".sigmf-meta")
                found.append((base.relative_to(root).as_posix(), SIGMF, base))
    return found


def _found(root: Path) -> list[tuple[str, str, Path]]:
    """(name, format, base path) of every capture under root."""
    if (root / capture_io.MANIFEST).is_file():
        manifest = capture_io.load_json_object(root / capture_io.MANIFEST)
        fmt, names = manifest.get("format"), manifest.get("captures")
        if fmt not in capture_io.FORMATS or not isinstance(names, list):
            raise DataError(f"{root / capture_io.MANIFEST}: expected 'format' ({' or '.join(capture_io.FORMATS)}) "
                            "and a list 'captures'")
        return [(str(n), fmt, root / str(n)) for n in names]
    if (root / capture_io.PAPER_META).is_file():
        return [(root.name, PAPER, root)]
    return sorted(_walk(root))


def files_set(root: Path) -> SpectrumSet:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--data {root}: expected a folder of capture files (paper layout or SigMF)")
    found = _found(root)
    if not found:
        raise DataError(f"--data {root}: no captures found (a {capture_io.MANIFEST}, or anywhere under it folders "
                        f"holding {capture_io.PAPER_META} + {capture_io.PAPER_DATA}, or NAME.sigmf-meta + "
                        "NAME.sigmf-data)")
    names = [n for n, _, _ in found]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"--data {root}: capture {dup!r} is there twice (a folder and a SigMF pair?)")
    refs, index, formats = [], [], {}
    for name, fmt, base in found:
        ref, files, fmt = _ref(name, fmt, base)
        refs.append(ref)
        formats[name] = (fmt, base)
        index.append([name, fmt, *(stream_sha256(f) for f in files)])
    description = {"root": str(root), "formats": sorted({f for f, _ in formats.values()}),
                   "manifest": (root / capture_io.MANIFEST).is_file()}

    def make_start(ref: CaptureRef, samples: int | None) -> Capture:
        fmt, base = formats[ref.id]
        read = capture_io.read_sigmf if fmt == SIGMF else capture_io.read_paper_capture
        return read(base, samples=samples)

    return SpectrumSet(name="spectrum-captures", refs=tuple(refs), sources=[str(root)], description=description,
                       data_sha256=text_sha256(json.dumps(index)), make=lambda ref: make_start(ref, None),
                       make_start=make_start)


def load(options) -> SpectrumSet:
    """The `spectrum-captures` benchmark: --data DIR."""
    return files_set(options.data)
