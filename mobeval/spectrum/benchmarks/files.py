"""The `spectrum-captures` benchmark: capture files in a folder (--data DIR), read by capture_io.

What DIR may hold:
- a dataset written by mobeval (`spectrum-dataset.json` listing its captures, capture_io.write_dataset);
- otherwise, every capture found directly under it: subfolders in the paper's layout (`data.dat` +
  `meta-data.json`) and SigMF pairs (`NAME.sigmf-meta` + `NAME.sigmf-data`), in name order;
- or DIR is itself one paper-layout capture folder.

Only the metadata is read to index the captures (id, SNR level, number of signals, source); the
samples are read when a capture is evaluated, and every defect (truncated data, a sample count that
disagrees with the metadata, NaN, signals outside the band) is then a DataError naming the file. An
item's id is its name under DIR. A capture with signals but no SNR level (a recording) counts in the
'unknown' SNR group, not with empty spectrum.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mobeval.spectrum.benchmarks import capture_io
from mobeval.spectrum.benchmarks.dataset import CaptureRef, SpectrumSet
from mobeval.core.errors import DataError
from mobeval.core.hashing import stream_sha256, text_sha256
from mobeval.spectrum.task.items import Capture

PAPER, SIGMF = "paper", "sigmf"


def _paper_files(folder: Path) -> tuple[Path, Path]:
    return folder / capture_io.PAPER_META, folder / capture_io.PAPER_DATA


def _sigmf_files(base: Path) -> tuple[Path, Path]:
    return base.with_name(base.name + ".sigmf-meta"), base.with_name(base.name + ".sigmf-data")


def _level(value: Any, path: Path, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{path}: {key} {value!r} is not a number of dB (or null for empty spectrum)")
    return float(value)


def _ref(name: str, fmt: str, base: Path) -> tuple[CaptureRef, list[Path]]:
    """A capture's index entry from its metadata alone, and its files."""
    meta_path, data_path = (_paper_files if fmt == PAPER else _sigmf_files)(base)
    meta = capture_io.load_json_object(meta_path)
    if fmt == PAPER:
        signals, level = meta.get("signals"), _level(meta.get("snr_db"), meta_path, "snr_db")
        source = meta.get("source") or {}
    else:
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
    return ref, [meta_path, data_path]


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
    found = [(p.name, PAPER, p) for p in root.iterdir() if p.is_dir() and (p / capture_io.PAPER_META).is_file()]
    found += [(p.name.removesuffix(".sigmf-meta"), SIGMF, p.with_name(p.name.removesuffix(".sigmf-meta")))
              for p in root.glob("*.sigmf-meta")]
    return sorted(found)


def files_set(root: Path) -> SpectrumSet:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--data {root}: expected a folder of capture files (paper layout or SigMF)")
    found = _found(root)
    if not found:
        raise DataError(f"--data {root}: no captures found (a {capture_io.MANIFEST}, subfolders holding "
                        f"{capture_io.PAPER_META} + {capture_io.PAPER_DATA}, or NAME.sigmf-meta + NAME.sigmf-data)")
    names = [n for n, _, _ in found]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"--data {root}: capture {dup!r} is there twice (a folder and a SigMF pair?)")
    refs, index, formats = [], [], {}
    for name, fmt, base in found:
        ref, files = _ref(name, fmt, base)
        refs.append(ref)
        formats[name] = (fmt, base)
        index.append([name, fmt, *(stream_sha256(f) for f in files)])
    description = {"root": str(root), "formats": sorted({f for f, _ in formats.values()}),
                   "manifest": (root / capture_io.MANIFEST).is_file()}

    def make(ref: CaptureRef) -> Capture:
        fmt, base = formats[ref.id]
        return capture_io.read_paper_capture(base) if fmt == PAPER else capture_io.read_sigmf(base)

    return SpectrumSet(name="spectrum-captures", refs=tuple(refs), sources=[str(root)], description=description,
                       data_sha256=text_sha256(json.dumps(index)), make=make)


def load(options) -> SpectrumSet:
    """The `spectrum-captures` benchmark: --data DIR."""
    return files_set(options.data)
