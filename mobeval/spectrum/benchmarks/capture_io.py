"""Capture files: the paper layout (data.dat + meta-data.json), in mobeval's schema or in the CMuSeNet
authors' own, and SigMF (.sigmf-meta + .sigmf-data). docs/spectrum-data.md describes each for users.

Paper layout: one folder per capture holding `data.dat`, the samples as interleaved little-endian
float64 I, Q, I, Q, ..., and `meta-data.json`, in one of two schemas, told apart by what the JSON holds:

- mobeval's (what `mobeval gen spectrum` writes): an object with sample_rate, center_frequency,
  num_samples, noise_power, snr_db (the capture's level, null for empty spectrum), and per signal
  center_frequency (absolute Hz), bandwidth (Hz), modulation, power_db, snr_db; plus id and source.
- the CMuSeNet authors' (their MATLAB generator, CMuSeNet_Synthetic_IQ_Generator/datagen.m, and the
  IEEE DataPort set made with it): `<root>/<snr>/<i>/`, the JSON being MATLAB's jsonencode of a struct
  array, one element per signal: fc (offset from the band centre, Hz), bw (Hz), mod (the modulation's
  name, a label), txPower (dB), noisePower (dB, the same in every element). One signal is encoded as
  an object, several as an array. The sample rate is the generator's constant 20 MS/s (so the band is
  +-10 MHz around 0 Hz); the capture's SNR level is its folder's parent's name (`<snr>`), or, where
  that is not a number, the weakest signal's txPower - noisePower (which is what the generator sets it to).

SigMF (v1.0.0): `NAME.sigmf-data` holds cf32_le samples (cf64_le and ci16_le are read too);
`NAME.sigmf-meta` carries core:sample_rate, core:sha512 of the data, one capture segment with
core:frequency, one annotation per signal with core:freq_lower_edge / core:freq_upper_edge (absolute Hz)
and core:label (the modulation), and the `mobeval` extension for what SigMF has no key for
(mobeval:num_samples, mobeval:noise_power, mobeval:snr_level_db, mobeval:power_db, mobeval:snr_db).

Readers take `samples`: how many leading samples to load (None: all). A runner reads only the start of
a capture (the first 16,384 samples), so a long recording is not held in memory: the file's size gives
its sample count, the SHA-512 is checked reading the file in blocks, and only the loaded samples are
checked for NaN.

Every defect is a DataError naming the file (and the field): a data file whose size is not a whole
number of samples (truncated), a sample count that disagrees with the metadata, NaN or infinite samples,
a checksum mismatch, missing keys, a value of the wrong type or not finite (NaN, Infinity), or a signal
that lies outside the captured band or overlaps another. A power, SNR or noise power that is not known
is null (NaN in the Capture).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import DataError
from mobeval.spectrum.task.items import Capture, Signal

PAPER_DATA = "data.dat"
PAPER_META = "meta-data.json"
SIGMF_VERSION = "1.0.0"
_SIGMF_DTYPES = {"cf32_le": np.dtype("<c8"), "cf64_le": np.dtype("<c16"), "ci16_le": np.dtype("<i2")}
CMUSENET = "cmusenet"  # the CMuSeNet authors' schema of the paper layout
CMUSENET_SAMPLE_RATE_HZ = 20e6  # datagenWideband.m: WideBandBW = 20e6, the combiner's output rate
CMUSENET_KEYS = ("fc", "bw", "mod", "txPower", "noisePower")


# --- shared checks ----------------------------------------------------------------------------------


def _samples_check(iq: np.ndarray, total: int, expected: int | None, path: Path) -> None:
    """`total`: the samples in the file; `iq`: those loaded (the first ones)."""
    if expected is not None and total != expected:
        raise DataError(f"{path}: holds {total} samples but its metadata says {expected}")
    if total == 0:
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


def _object(value: Any, path: Path, where: str) -> dict:
    """`value` (the part of the metadata at `where`, e.g. "signals[2]") must be a JSON object."""
    if not isinstance(value, dict):
        raise DataError(f"{path}: {where} is {_short(value)}, not a JSON object")
    return value


def _list(value: Any, path: Path, where: str) -> list:
    if not isinstance(value, list):
        raise DataError(f"{path}: {where} is {_short(value)}, not a JSON array")
    return value


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _need(meta: dict, key: str, path: Path, where: str = "", null_ok: bool = False) -> Any:
    if key not in meta or (meta[key] is None and not null_ok):
        raise DataError(f"{path}: {where}missing key {key!r}" if key not in meta else f"{path}: {where}{key} is null")
    return meta[key]


def _number(meta: dict, key: str, path: Path, where: str = "", *, positive: bool = False,
            null_ok: bool = False) -> float:
    """A finite JSON number (not a boolean, a string, NaN or Infinity); with null_ok, null is NaN (not known)."""
    value = _need(meta, key, path, where, null_ok)
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{path}: {where}{key} is {_short(value)}, not a number")
    if not math.isfinite(value):
        raise DataError(f"{path}: {where}{key} is {value}, not a finite number"
                        + (" (write null where it is not known)" if null_ok else ""))
    if positive and value <= 0:
        raise DataError(f"{path}: {where}{key} is {value}; it must be positive")
    return float(value)


def _count(meta: dict, key: str, path: Path, where: str = "", *, required: bool = False,
           default: int | None = None) -> int | None:
    """A whole number >= 0 (40000 or 40000.0); unless required, `default` where the key is absent or null."""
    if not required and meta.get(key) is None:
        return default
    value = _need(meta, key, path, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or value < 0:
        raise DataError(f"{path}: {where}{key} is {_short(value)}, not a whole number >= 0")
    return int(value)


def _text(meta: dict, key: str, path: Path, where: str = "") -> str:
    value = _need(meta, key, path, where)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}: {where}{key} is {_short(value)}, not a name")
    return value


def _signal(lower: float, upper: float, modulation: str, power_db: float, snr_db: float, path: Path,
            where: str) -> Signal:
    try:
        return Signal(lower, upper, modulation, power_db, snr_db)
    except DataError as e:  # Signal's own check names neither the file nor the signal's place in it
        raise DataError(f"{path}: {where}{e}") from None


def load_json(path: Path) -> Any:
    """A JSON file's value; DataError naming the file when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None


def load_json_object(path: Path) -> dict:
    """A JSON file holding an object; DataError naming the file otherwise."""
    meta = load_json(path)
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object")
    return meta


def _read_raw(path: Path, dtype: np.dtype, per_sample: int = 1, samples: int | None = None) -> tuple[np.ndarray, int]:
    """The first `samples` samples of the file (all when None), as `per_sample` values of `dtype` each,
    and the number of samples the whole file holds. Only the bytes loaded are read."""
    step = dtype.itemsize * per_sample
    try:
        size = path.stat().st_size
        if size % step:
            raise DataError(f"{path}: {size} bytes is not a whole number of {step}-byte samples (truncated?)")
        total = size // step
        count = total if samples is None else max(0, min(total, int(samples)))
        with path.open("rb") as f:
            raw = np.fromfile(f, dtype=dtype, count=count * per_sample)
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    if raw.size != count * per_sample:
        raise DataError(f"{path}: ended after {raw.size // per_sample} of its {total} samples (changed while read?)")
    return raw, total


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the paper's layout -----------------------------------------------------------------------------


def _json_number(value: float) -> float | None:
    """null for a value that is not known (NaN): JSON has no NaN, and the readers refuse one."""
    return None if value is None or not math.isfinite(value) else value


def write_paper_capture(capture: Capture, folder: Path) -> Path:
    """Write `folder/data.dat` and `folder/meta-data.json` (mobeval's schema); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    iq = capture.iq.astype(np.complex128)
    np.stack([iq.real, iq.imag], axis=1).astype("<f8").tofile(folder / PAPER_DATA)
    meta = {
        "id": capture.id,
        "sample_rate": capture.sample_rate_hz,
        "center_frequency": capture.centre_freq_hz,
        "num_samples": capture.num_samples,
        "noise_power": _json_number(capture.noise_power),
        "snr_db": capture.snr_level_db,
        "signals": [
            {"center_frequency": s.centre_hz, "bandwidth": s.bandwidth_hz, "modulation": s.modulation,
             "power_db": _json_number(s.power_db), "snr_db": _json_number(s.snr_db)}
            for s in capture.signals
        ],
        "source": dict(capture.source),
    }
    (folder / PAPER_META).write_text(json.dumps(meta, indent=1))
    return folder


def paper_schema(meta: Any, path: Path) -> str:
    """"mobeval" or "cmusenet": which schema a meta-data.json follows (module docstring)."""
    if isinstance(meta, list) or isinstance(meta, dict) and "signals" not in meta and "sample_rate" not in meta \
            and any(k in meta for k in CMUSENET_KEYS):
        return CMUSENET
    if isinstance(meta, dict):
        return "mobeval"
    raise DataError(f"{path}: is {_short(meta)}: expected a JSON object (mobeval's schema: sample_rate, "
                    "center_frequency, signals, ...) or the CMuSeNet authors' signals (fc, bw, mod, txPower, "
                    "noisePower: an object or an array of them)")


def read_paper_capture(folder: Path, samples: int | None = None) -> Capture:
    """A capture folder (data.dat + meta-data.json) in either schema; `samples`: load only the first ones."""
    folder = Path(folder)
    meta_path, data_path = folder / PAPER_META, folder / PAPER_DATA
    meta = load_json(meta_path)
    if paper_schema(meta, meta_path) == CMUSENET:
        return _read_cmusenet(folder, meta, samples)
    fs = _number(meta, "sample_rate", meta_path, positive=True)
    centre = _number(meta, "center_frequency", meta_path)
    expected = _count(meta, "num_samples", meta_path, required=True)
    noise = _number(meta, "noise_power", meta_path, null_ok=True)
    level = meta.get("snr_db")
    level = None if level is None else _number(meta, "snr_db", meta_path)
    signals = []
    for i, s in enumerate(_list(_need(meta, "signals", meta_path), meta_path, "signals")):
        where = f"signals[{i}]: "
        s = _object(s, meta_path, f"signals[{i}]")
        c, bw = _number(s, "center_frequency", meta_path, where), _number(s, "bandwidth", meta_path, where)
        signals.append(_signal(c - bw / 2, c + bw / 2, _text(s, "modulation", meta_path, where),
                               _number(s, "power_db", meta_path, where, null_ok=True),
                               _number(s, "snr_db", meta_path, where, null_ok=True), meta_path, where))
    _signals_check(signals, fs, centre, meta_path)
    source = meta.get("source") or {}
    if not isinstance(source, dict):
        raise DataError(f"{meta_path}: source is {_short(source)}, not a JSON object")
    pairs, total = _read_raw(data_path, np.dtype("<f8"), per_sample=2, samples=samples)
    pairs = pairs.reshape(-1, 2)
    iq = pairs[:, 0] + 1j * pairs[:, 1]
    _samples_check(iq, total, expected, data_path)
    return Capture(str(meta.get("id", folder.name)), iq.astype(np.complex64), fs, centre, tuple(signals),
                   noise, level, source | {"file": str(folder)})


# --- the CMuSeNet authors' schema -------------------------------------------------------------------


def folder_snr_db(folder: Path) -> float | None:
    """The SNR level a capture folder's parent names (`<root>/<snr>/<i>`: "-20", "4"), None when it names none."""
    name = Path(folder).resolve().parent.name
    return float(name) if re.fullmatch(r"[+-]?\d+(\.\d+)?", name) else None


def cmusenet_meta(meta: Any, meta_path: Path, folder: Path) -> tuple[list[Signal], float, float | None, str]:
    """The signals, noise power (linear), SNR level and where the level came from ("folder", "metadata" or
    "none": empty spectrum) of the authors' meta-data.json; DataError naming the file and field."""
    elements = [meta] if isinstance(meta, dict) else _list(meta, meta_path, "the JSON")
    signals, noise_db = [], None
    for i, e in enumerate(elements):
        where = f"[{i}]: " if isinstance(meta, list) else ""
        e = _object(e, meta_path, f"element {i}")
        fc, bw = _number(e, "fc", meta_path, where), _number(e, "bw", meta_path, where, positive=True)
        tx, noise = _number(e, "txPower", meta_path, where), _number(e, "noisePower", meta_path, where)
        if noise_db is not None and noise != noise_db:
            raise DataError(f"{meta_path}: {where}noisePower is {noise:g} but {noise_db:g} in the first signal; "
                            "a capture has one noise power")
        noise_db = noise
        signals.append(_signal(fc - bw / 2, fc + bw / 2, _text(e, "mod", meta_path, where), tx, tx - noise,
                               meta_path, where))
    _signals_check(signals, CMUSENET_SAMPLE_RATE_HZ, 0.0, meta_path)
    if not signals:
        return signals, math.nan, None, "none"
    level = folder_snr_db(folder)
    if level is not None:
        return signals, 10 ** (noise_db / 10), level, "folder"
    return signals, 10 ** (noise_db / 10), min(s.snr_db for s in signals), "metadata"


def _read_cmusenet(folder: Path, meta: Any, samples: int | None) -> Capture:
    meta_path, data_path = folder / PAPER_META, folder / PAPER_DATA
    signals, noise, level, level_from = cmusenet_meta(meta, meta_path, folder)
    pairs, total = _read_raw(data_path, np.dtype("<f8"), per_sample=2, samples=samples)
    pairs = pairs.reshape(-1, 2)
    iq = pairs[:, 0] + 1j * pairs[:, 1]
    _samples_check(iq, total, None, data_path)
    name = f"{folder.resolve().parent.name}/{folder.name}"
    return Capture(name, iq.astype(np.complex64), CMUSENET_SAMPLE_RATE_HZ, 0.0, tuple(signals), noise, level,
                   {"kind": CMUSENET, "snr_from": level_from, "file": str(folder)})


def read_cmusenet_capture(folder: Path, samples: int | None = None) -> Capture:
    """One capture folder of the CMuSeNet authors' generator (`<root>/<snr>/<i>/`)."""
    folder = Path(folder)
    meta = load_json(folder / PAPER_META)
    if paper_schema(meta, folder / PAPER_META) != CMUSENET:
        raise DataError(f"{folder / PAPER_META}: is in mobeval's schema, not the CMuSeNet authors' (fc, bw, mod, ...)")
    return _read_cmusenet(folder, meta, samples)


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
            "mobeval:noise_power": _json_number(capture.noise_power),
            "mobeval:snr_level_db": capture.snr_level_db,
            "mobeval:source": dict(capture.source),
        },
        "captures": [{"core:sample_start": 0, "core:frequency": capture.centre_freq_hz}],
        "annotations": [
            {"core:sample_start": 0, "core:sample_count": capture.num_samples,
             "core:freq_lower_edge": s.lower_edge_hz, "core:freq_upper_edge": s.upper_edge_hz,
             "core:label": s.modulation, "mobeval:power_db": _json_number(s.power_db),
             "mobeval:snr_db": _json_number(s.snr_db)}
            for s in capture.signals
        ],
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta_path


def read_sigmf(base: Path, samples: int | None = None) -> Capture:
    """Read a SigMF recording (BASE, BASE.sigmf-meta or BASE.sigmf-data); `samples`: load only the first ones."""
    meta_path, data_path = _sigmf_paths(base)
    meta = load_json_object(meta_path)
    glob = _object(_need(meta, "global", meta_path), meta_path, "global")
    datatype = _need(glob, "core:datatype", meta_path, "global: ")
    if datatype not in _SIGMF_DTYPES:
        raise DataError(f"{meta_path}: core:datatype {_short(datatype)} is not read here; use one of "
                        f"{', '.join(_SIGMF_DTYPES)}")
    fs = _number(glob, "core:sample_rate", meta_path, "global: ", positive=True)
    segments = _list(_need(meta, "captures", meta_path), meta_path, "captures")
    if len(segments) != 1:
        raise DataError(f"{meta_path}: expected one capture segment, found {len(segments)}")
    centre = _number(_object(segments[0], meta_path, "captures[0]"), "core:frequency", meta_path, "captures[0]: ")
    expected = _count(glob, "mobeval:num_samples", meta_path, "global: ")
    noise = _number(glob, "mobeval:noise_power", meta_path, "global: ", null_ok=True) \
        if "mobeval:noise_power" in glob else math.nan
    level = glob.get("mobeval:snr_level_db")
    level = None if level is None else _number(glob, "mobeval:snr_level_db", meta_path, "global: ")
    sha = glob.get("core:sha512")
    if sha is not None and not isinstance(sha, str):
        raise DataError(f"{meta_path}: global: core:sha512 is {_short(sha)}, not a hex string")
    annotations = _list(meta.get("annotations", []), meta_path, "annotations")
    raw, total = _read_raw(data_path, _SIGMF_DTYPES[datatype], per_sample=2 if datatype == "ci16_le" else 1,
                           samples=samples)
    if sha is not None and _sha512(data_path) != sha.lower():
        raise DataError(f"{data_path}: its SHA-512 does not match core:sha512 in {meta_path.name} (changed or truncated)")
    if datatype == "ci16_le":
        raw = raw.reshape(-1, 2).astype(np.float64)
        iq = (raw[:, 0] + 1j * raw[:, 1]) / 32768.0
    else:
        iq = raw
    _samples_check(iq, total, expected, data_path)
    signals = []
    for i, a in enumerate(annotations):
        where = f"annotations[{i}]: "
        a = _object(a, meta_path, f"annotations[{i}]")
        start, count = _count(a, "core:sample_start", meta_path, where, default=0), _count(a, "core:sample_count", meta_path, where)
        if count is not None and start + count > total:
            raise DataError(f"{meta_path}: {where}samples {start}+{count} run past the {total} in {data_path.name}")
        label = a.get("core:label", "unknown")
        if not isinstance(label, str):
            raise DataError(f"{meta_path}: {where}core:label is {_short(label)}, not a name")
        signals.append(_signal(_number(a, "core:freq_lower_edge", meta_path, where),
                               _number(a, "core:freq_upper_edge", meta_path, where), label,
                               _number(a, "mobeval:power_db", meta_path, where, null_ok=True)
                               if "mobeval:power_db" in a else math.nan,
                               _number(a, "mobeval:snr_db", meta_path, where, null_ok=True)
                               if "mobeval:snr_db" in a else math.nan, meta_path, where))
    _signals_check(signals, fs, centre, meta_path)
    source = glob.get("mobeval:source") or {}
    if not isinstance(source, dict):
        raise DataError(f"{meta_path}: global: mobeval:source is {_short(source)}, not a JSON object")
    return Capture(str(glob.get("mobeval:id", meta_path.stem)), iq.astype(np.complex64), fs, centre, tuple(signals),
                   noise, level, source | {"file": str(meta_path)})


# --- datasets ---------------------------------------------------------------------------------------


def check_out_folder(path: Path, flag: str = "--out") -> None:
    """A folder a command may write into: it (or the first of its parents that exists) must be a folder.
    MobevalError naming the flag otherwise (a usage error, not a data error)."""
    from mobeval.core.errors import MobevalError

    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                raise MobevalError(f"{flag} {path}: {'is' if p == path else f'{p} is'} a file, not a folder; "
                                   "name a folder to write into")
            return


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
    names = _list(_need(manifest, "captures", folder / MANIFEST), folder / MANIFEST, "captures")
    return [read(folder / str(cid)) for cid in names]
