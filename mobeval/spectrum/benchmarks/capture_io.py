"""Capture files: the CMuSeNet layout (data.dat + meta-data.json) and SigMF (.sigmf-meta + .sigmf-data).

Paper layout: one folder per capture holding `data.dat`, the samples as interleaved little-endian
float64 I, Q, I, Q, ..., and `meta-data.json`. The paper's JSON field names are not public here, so
these are ours (reading the paper's own files may need a key map): sample_rate, center_frequency,
num_samples, noise_power, snr_db (the capture's level, null for empty spectrum), and per signal
center_frequency (absolute Hz), bandwidth (Hz), modulation, power_db, snr_db; plus id and source.

SigMF (v1.0.0): `NAME.sigmf-data` holds cf32_le samples (cf64_le and ci16_le are read too);
`NAME.sigmf-meta` carries core:sample_rate, core:sha512 of the data, one capture segment with
core:frequency, one annotation per signal with core:freq_lower_edge / core:freq_upper_edge (absolute Hz)
and core:label (the modulation), and the `mobeval` extension for what SigMF has no key for
(mobeval:num_samples, mobeval:noise_power, mobeval:snr_level_db, mobeval:power_db, mobeval:snr_db).

Every defect is a DataError naming the file: a data file whose size is not a whole number of samples
(truncated), a sample count that disagrees with the metadata, NaN or infinite samples, a checksum
mismatch, missing keys, or a signal that lies outside the captured band or overlaps another.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import DataError
from mobeval.spectrum.task.items import Capture, Signal

PAPER_DATA = "data.dat"
PAPER_META = "meta-data.json"
SIGMF_VERSION = "1.0.0"
_SIGMF_DTYPES = {"cf32_le": np.dtype("<c8"), "cf64_le": np.dtype("<c16"), "ci16_le": np.dtype("<i2")}


# --- shared checks ----------------------------------------------------------------------------------


def _samples_check(iq: np.ndarray, expected: int | None, path: Path) -> None:
    if expected is not None and iq.shape[0] != expected:
        raise DataError(f"{path}: holds {iq.shape[0]} samples but its metadata says {expected}")
    if iq.shape[0] == 0:
        raise DataError(f"{path}: holds no samples")
    bad = ~np.isfinite(iq)
    if bad.any():
        raise DataError(f"{path}: sample {int(np.flatnonzero(bad)[0])} is NaN or infinite ({int(bad.sum())} such samples)")


def _signals_check(signals: list[Signal], sample_rate: float, centre: float, path: Path) -> None:
    lo_band, hi_band = centre - sample_rate / 2, centre + sample_rate / 2
    for i, s in enumerate(signals):
        if s.lower_edge_hz < lo_band or s.upper_edge_hz > hi_band:
            raise DataError(
                f"{path}: signal {i} ({s.lower_edge_hz:.0f}-{s.upper_edge_hz:.0f} Hz) lies outside the captured band "
                f"{lo_band:.0f}-{hi_band:.0f} Hz"
            )
    ordered = sorted(signals, key=lambda s: s.lower_edge_hz)
    for a, b in itertools.pairwise(ordered):
        if b.lower_edge_hz < a.upper_edge_hz:
            raise DataError(f"{path}: signals at {a.centre_hz:.0f} Hz and {b.centre_hz:.0f} Hz overlap in frequency")


def _need(meta: dict, key: str, path: Path, where: str = "") -> Any:
    if key not in meta or meta[key] is None and key not in ("snr_db", "mobeval:snr_level_db"):
        raise DataError(f"{path}: {where}missing key {key!r}")
    return meta[key]


def load_json_object(path: Path) -> dict:
    """A JSON file holding an object; DataError naming the file otherwise."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object")
    return meta


def _read_raw(path: Path, dtype: np.dtype, per_sample: int = 1) -> np.ndarray:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    step = dtype.itemsize * per_sample
    if len(raw) % step:
        raise DataError(f"{path}: {len(raw)} bytes is not a whole number of {step}-byte samples (truncated?)")
    return np.frombuffer(raw, dtype=dtype)


# --- the paper's layout -----------------------------------------------------------------------------


def write_paper_capture(capture: Capture, folder: Path) -> Path:
    """Write `folder/data.dat` and `folder/meta-data.json`; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    iq = capture.iq.astype(np.complex128)
    np.stack([iq.real, iq.imag], axis=1).astype("<f8").tofile(folder / PAPER_DATA)
    meta = {
        "id": capture.id,
        "sample_rate": capture.sample_rate_hz,
        "center_frequency": capture.centre_freq_hz,
        "num_samples": capture.num_samples,
        "noise_power": capture.noise_power,
        "snr_db": capture.snr_level_db,
        "signals": [
            {"center_frequency": s.centre_hz, "bandwidth": s.bandwidth_hz, "modulation": s.modulation,
             "power_db": s.power_db, "snr_db": s.snr_db}
            for s in capture.signals
        ],
        "source": dict(capture.source),
    }
    (folder / PAPER_META).write_text(json.dumps(meta, indent=1))
    return folder


def read_paper_capture(folder: Path) -> Capture:
    folder = Path(folder)
    meta_path, data_path = folder / PAPER_META, folder / PAPER_DATA
    meta = load_json_object(meta_path)
    fs = float(_need(meta, "sample_rate", meta_path))
    centre = float(_need(meta, "center_frequency", meta_path))
    signals = []
    for i, s in enumerate(_need(meta, "signals", meta_path)):
        where = f"signals[{i}]: "
        c, bw = float(_need(s, "center_frequency", meta_path, where)), float(_need(s, "bandwidth", meta_path, where))
        try:
            signals.append(Signal(c - bw / 2, c + bw / 2, str(_need(s, "modulation", meta_path, where)),
                                  float(_need(s, "power_db", meta_path, where)), float(_need(s, "snr_db", meta_path, where))))
        except DataError as e:
            raise DataError(f"{meta_path}: {where}{e}") from None
    _signals_check(signals, fs, centre, meta_path)
    pairs = _read_raw(data_path, np.dtype("<f8"), per_sample=2).reshape(-1, 2)
    iq = pairs[:, 0] + 1j * pairs[:, 1]
    _samples_check(iq, int(_need(meta, "num_samples", meta_path)), data_path)
    snr = meta.get("snr_db")
    return Capture(str(meta.get("id", folder.name)), iq.astype(np.complex64), fs, centre, tuple(signals),
                   float(_need(meta, "noise_power", meta_path)), None if snr is None else float(snr),
                   dict(meta.get("source") or {}) | {"file": str(folder)})


# --- SigMF ------------------------------------------------------------------------------------------


def _sigmf_paths(base: Path) -> tuple[Path, Path]:
    base = Path(base)
    stem = base.with_suffix("") if base.suffix in (".sigmf-meta", ".sigmf-data") else base
    return stem.with_name(stem.name + ".sigmf-meta"), stem.with_name(stem.name + ".sigmf-data")


def write_sigmf(capture: Capture, base: Path) -> Path:
    """Write BASE.sigmf-data (cf32_le) and BASE.sigmf-meta; returns the meta path."""
    meta_path, data_path = _sigmf_paths(base)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    data = capture.iq.astype("<c8").tobytes()
    data_path.write_bytes(data)
    meta = {
        "global": {
            "core:datatype": "cf32_le",
            "core:sample_rate": capture.sample_rate_hz,
            "core:version": SIGMF_VERSION,
            "core:sha512": hashlib.sha512(data).hexdigest(),
            "core:description": f"mobeval capture {capture.id}",
            "core:extensions": [{"name": "mobeval", "version": "1.0.0", "optional": True}],
            "mobeval:id": capture.id,
            "mobeval:num_samples": capture.num_samples,
            "mobeval:noise_power": capture.noise_power,
            "mobeval:snr_level_db": capture.snr_level_db,
            "mobeval:source": dict(capture.source),
        },
        "captures": [{"core:sample_start": 0, "core:frequency": capture.centre_freq_hz}],
        "annotations": [
            {"core:sample_start": 0, "core:sample_count": capture.num_samples,
             "core:freq_lower_edge": s.lower_edge_hz, "core:freq_upper_edge": s.upper_edge_hz,
             "core:label": s.modulation, "mobeval:power_db": s.power_db, "mobeval:snr_db": s.snr_db}
            for s in capture.signals
        ],
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta_path


def read_sigmf(base: Path) -> Capture:
    """Read a SigMF recording (BASE, BASE.sigmf-meta or BASE.sigmf-data)."""
    meta_path, data_path = _sigmf_paths(base)
    meta = load_json_object(meta_path)
    glob = _need(meta, "global", meta_path)
    datatype = _need(glob, "core:datatype", meta_path, "global: ")
    if datatype not in _SIGMF_DTYPES:
        raise DataError(f"{meta_path}: core:datatype {datatype!r} is not read here; use one of {', '.join(_SIGMF_DTYPES)}")
    fs = float(_need(glob, "core:sample_rate", meta_path, "global: "))
    segments = _need(meta, "captures", meta_path)
    if len(segments) != 1:
        raise DataError(f"{meta_path}: expected one capture segment, found {len(segments)}")
    centre = float(_need(segments[0], "core:frequency", meta_path, "captures[0]: "))
    raw = _read_raw(data_path, _SIGMF_DTYPES[datatype], per_sample=2 if datatype == "ci16_le" else 1)
    if "core:sha512" in glob and hashlib.sha512(raw.tobytes()).hexdigest() != glob["core:sha512"]:
        raise DataError(f"{data_path}: its SHA-512 does not match core:sha512 in {meta_path.name} (changed or truncated)")
    if datatype == "ci16_le":
        raw = raw.reshape(-1, 2).astype(np.float64)
        iq = (raw[:, 0] + 1j * raw[:, 1]) / 32768.0
    else:
        iq = raw
    _samples_check(iq, glob.get("mobeval:num_samples"), data_path)
    signals = []
    for i, a in enumerate(meta.get("annotations", [])):
        where = f"annotations[{i}]: "
        start, count = int(a.get("core:sample_start", 0)), a.get("core:sample_count")
        if count is not None and start + int(count) > iq.shape[0]:
            raise DataError(f"{meta_path}: {where}samples {start}+{count} run past the {iq.shape[0]} in {data_path.name}")
        try:
            signals.append(Signal(float(_need(a, "core:freq_lower_edge", meta_path, where)),
                                  float(_need(a, "core:freq_upper_edge", meta_path, where)),
                                  str(a.get("core:label", "unknown")), float(a.get("mobeval:power_db", np.nan)),
                                  float(a.get("mobeval:snr_db", np.nan))))
        except DataError as e:
            raise DataError(f"{meta_path}: {where}{e}") from None
    _signals_check(signals, fs, centre, meta_path)
    level = glob.get("mobeval:snr_level_db")
    return Capture(str(glob.get("mobeval:id", meta_path.stem)), iq.astype(np.complex64), fs, centre, tuple(signals),
                   float(glob.get("mobeval:noise_power", np.nan)), None if level is None else float(level),
                   dict(glob.get("mobeval:source") or {}) | {"file": str(meta_path)})


# --- datasets ---------------------------------------------------------------------------------------

MANIFEST = "spectrum-dataset.json"
FORMATS = ("paper", "sigmf")


def write_dataset(captures, folder: Path, fmt: str = "paper", description: dict | None = None) -> Path:
    """Write captures under `folder` (one subfolder per capture, or one SigMF pair) with a manifest."""
    if fmt not in FORMATS:
        raise DataError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for c in captures:
        (write_paper_capture(c, folder / c.id) if fmt == "paper" else write_sigmf(c, folder / c.id))
        ids.append(c.id)
    manifest = {"format": fmt, "captures": ids, "description": description or {}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return folder / MANIFEST


def read_dataset(folder: Path) -> list[Capture]:
    """Read every capture a manifest lists; a listed capture that is missing or broken is a DataError."""
    folder = Path(folder)
    manifest = load_json_object(folder / MANIFEST)
    fmt = _need(manifest, "format", folder / MANIFEST)
    if fmt not in FORMATS:
        raise DataError(f"{folder / MANIFEST}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    read = read_paper_capture if fmt == "paper" else read_sigmf
    return [read(folder / cid) for cid in _need(manifest, "captures", folder / MANIFEST)]
