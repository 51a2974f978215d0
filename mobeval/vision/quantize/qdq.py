"""Static QDQ quantization of a float ONNX model with ONNX Runtime's own quantizer, cached.

The quantized file is cached under MOBEVAL_CACHE (or ~/.cache/mobeval) in `quantized/`, keyed by the
float model's sha256, the scheme and the sha256 of the calibration inputs (plus ONNX Runtime's
version, whose quantizer makes the file). After quantizing, the model is run once on each requested
execution provider: a scheme that provider cannot run is a MobevalError naming scheme, model,
provider and ONNX Runtime's own words (which name the operator).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import MobevalError, RunnerError
from mobeval.core.hashing import file_sha256, text_sha256
from mobeval.core.paths import cache_dir
from mobeval.vision.quantize.manifest import (
    CalibrationInfo,
    QuantManifest,
    read_manifest,
    write_manifest,
)
from mobeval.vision.quantize.mixed import KeptLayers, Layer, precision_map, quantizer_arguments, weighted_layers
from mobeval.vision.quantize.scheme import QuantScheme


@dataclass(frozen=True)
class QuantizedModel:
    path: Path
    manifest: QuantManifest
    cached: bool  # found in the cache, not made now

    @property
    def scheme(self) -> QuantScheme:
        return self.manifest.scheme


def quantized_cache_dir() -> Path:
    return cache_dir() / "quantized"


def ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def batched(inputs: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Each input with a batch axis of 1 added when it has none (a CHW image becomes 1xCxHxW)."""
    for x in inputs:
        x = np.asarray(x)
        yield x if x.ndim == 4 else x[None]


def inputs_sha256(inputs: Sequence[np.ndarray]) -> str:
    """sha256 over every input's dtype, shape and bytes, in order."""
    h = hashlib.sha256()
    for x in inputs:
        x = np.ascontiguousarray(x)
        h.update(f"{x.dtype.str}|{x.shape}|".encode())
        h.update(x.tobytes())
    return h.hexdigest()


def input_name(path: Path) -> str:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError for a truncated or foreign file, OSError, ...: one message
        raise MobevalError(f"{path}: not an ONNX model onnx can read ({type(exc).__name__}: {exc}); a truncated "
                           "download or another format?") from exc
    init = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in init]
    if len(names) != 1:
        raise MobevalError(f"{path}: quantization takes a model with one input; it has {len(names)} ({names})")
    return names[0]


@contextlib.contextmanager
def quiet_ort() -> Iterator[None]:
    """ONNX Runtime's C++ warnings (unused initializers removed, ...) off while the quantizer runs."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    logging.disable(logging.WARNING)  # the quantizer's advice (pre-process first, opset raised) on the root logger
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        ort.set_default_logger_severity(2)


def quantize_onnx(
    float_path: str | Path,
    scheme: QuantScheme,
    calibration: Iterable[np.ndarray],
    *,
    calibration_info: dict[str, Any] | None = None,
    providers: Sequence[str] = ("cpu",),
    source_model: dict[str, Any] | None = None,
    out_dir: Path | None = None,
    kept: KeptLayers | None = None,
    layers: list[Layer] | None = None,
    validation_info: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
) -> QuantizedModel:
    """The QDQ model of `float_path` under `scheme`, calibrated on `calibration` (preprocessed inputs,
    with or without a batch axis): from the cache, or made now. `calibration_info` adds CalibrationInfo
    fields (ids, bench, ...) to the manifest; `providers` (short names: cpu, qnn, ...) must run it.
    `kept` layers stay at a higher precision (`layers`: the model's quantized layers, found when not
    given); `validation_info` and `search` record the mixed-precision search that chose them."""
    from mobeval.results.store import utc_now

    float_path = Path(float_path)
    if not float_path.is_file():
        raise MobevalError(f"{float_path}: no such ONNX model")
    inputs = list(batched(calibration))
    if not inputs:
        raise MobevalError(f"quantizing {float_path.name}: the calibration set is empty")
    float_sha = file_sha256(float_path)
    calib_sha = inputs_sha256(inputs)
    version = ort_version()
    if kept is not None and not kept.layers:
        kept = None
    parts = [float_sha, scheme.key(), calib_sha, f"onnxruntime{version}"]
    if kept is not None:
        parts.append(kept.key())
    if validation_info:
        parts.append(text_sha256(repr(sorted(validation_info.get("item_sha256", [])))))
    key = text_sha256("|".join(parts))
    folder = out_dir or quantized_cache_dir()
    mixed = f"-mixed{len(kept.layers)}" if kept else ""
    target = folder / f"{float_path.stem}-{scheme.name}{mixed}-{key[:16]}.onnx"
    wanted = [_provider(p) for p in providers]
    _check_available(scheme, wanted)
    if target.is_file():
        manifest = read_manifest(target)
        if manifest is not None:
            missing = [p for p in wanted if p not in manifest.providers_checked]
            if missing:
                _check_runs(target, scheme, float_path, inputs[0], missing)
                manifest = manifest.model_copy(update={"providers_checked": [*manifest.providers_checked, *missing]})
                write_manifest(target, manifest)
            return QuantizedModel(target, manifest, cached=True)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.onnx")
    cache = calibration_cache(float_sha, scheme, calib_sha)
    try:
        if kept is not None and layers is None:
            layers = baseline_layers(float_path, scheme, inputs, cache)
        _quantize(float_path, tmp, scheme, inputs, kept, layers, cache)
        _check_runs(tmp, scheme, float_path, inputs[0], wanted)
        precision = precision_map(scheme, kept, layers or weighted_layers(float_path, tmp))
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    manifest = QuantManifest(
        file=target.name, sha256=file_sha256(target), size_bytes=target.stat().st_size,
        float_model_path=str(float_path.resolve()), float_model_sha256=float_sha,
        float_model_size_bytes=float_path.stat().st_size, scheme=scheme,
        calibration=image_set(calibration_info, len(inputs), calib_sha),
        onnxruntime_version=version, providers_checked=wanted, created_at=utc_now(),
        source_model=source_model or {}, precision=precision, kept=kept,
        validation=image_set(validation_info, len(validation_info.get("ids", [])), "") if validation_info else None,
        search=search or {},
    )
    write_manifest(target, manifest)
    return QuantizedModel(target, manifest, cached=False)


def image_set(info: dict[str, Any] | None, n: int, inputs_sha: str) -> CalibrationInfo:
    """A CalibrationInfo from what the caller knows (ids, item_sha256, bench, ...)."""
    info = dict(info or {})
    ids = [str(i) for i in info.pop("ids", [])]
    return CalibrationInfo(n=n, inputs_sha256=inputs_sha, ids=ids,
                           ids_sha256=text_sha256("\n".join(ids)) if ids else "", **info)


def calibration_cache(float_sha: str, scheme: QuantScheme, calib_sha: str) -> Path:
    """Where ONNX Runtime's calibration ranges for this model, method and images are kept: every
    quantization of a mixed-precision search reuses them instead of calibrating again."""
    key = text_sha256("|".join([float_sha, scheme.calibration_method, str(scheme.activation_symmetric), calib_sha,
                                f"onnxruntime{ort_version()}"]))
    return quantized_cache_dir() / "calibration" / f"{key[:24]}.json"


def baseline_layers(float_path: Path, scheme: QuantScheme, inputs: list[np.ndarray], cache: Path) -> list[Layer]:
    """The quantized layers of `float_path` under `scheme` (every layer at the scheme's precision)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mobeval-quant-") as tmp:
        dest = Path(tmp) / "baseline.onnx"
        _quantize(float_path, dest, scheme, inputs, cache=cache)
        return weighted_layers(float_path, dest)


def quantize_to(float_path: Path, dest: Path, scheme: QuantScheme, inputs: Sequence[np.ndarray],
                kept: KeptLayers | None, layers: list[Layer] | None, cache: Path) -> None:
    """One quantized file at `dest`, no cache entry and no manifest (a mixed-precision search's trial)."""
    _quantize(float_path, dest, scheme, list(batched(inputs)), kept, layers, cache)


def _provider(name: str) -> str:
    from mobeval.vision.runners.onnxruntime_classifier import provider_name

    try:
        return provider_name(name)
    except RunnerError as exc:
        raise MobevalError(str(exc)) from exc


def _check_available(scheme: QuantScheme, providers: list[str]) -> None:
    import onnxruntime as ort

    available = ort.get_available_providers()
    for p in providers:
        if p not in available:
            raise MobevalError(f"scheme {scheme.name}: provider {p} is not in this onnxruntime build "
                               f"(available: {', '.join(available)}); the quantized model cannot be checked on it")


def _quantize(float_path: Path, dest: Path, scheme: QuantScheme, inputs: list[np.ndarray],
              kept: KeptLayers | None = None, layers: list[Layer] | None = None, cache: Path | None = None) -> None:
    """`kept` of the model's quantized `layers` stay at a higher precision (mixed.quantizer_arguments);
    `cache`: ONNX Runtime's calibration cache file (read when it exists, written when not)."""
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    name = input_name(float_path)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {name: x}

    arguments = scheme.ort_arguments()
    mixed = quantizer_arguments(kept, layers) if kept is not None and kept.layers and layers else {}
    if "tensor_quant_overrides" in mixed:
        arguments["extra_options"] = {**arguments["extra_options"],
                                      "TensorQuantOverrides": mixed.pop("tensor_quant_overrides")}
    writing = None
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        # written under another name and moved in whole: a killed run leaves no half-written cache
        writing = None if cache.is_file() else cache.with_name(f".{cache.stem}.{os.getpid()}.json")
        arguments["calibration_cache_path"] = str(writing or cache)
    try:
        with quiet_ort():
            quantize_static(str(float_path), str(dest), Reader(), **arguments, **mixed)
        if writing is not None and writing.is_file():
            writing.replace(cache)
    except Exception as exc:  # the quantizer raises ValueError, RuntimeError, onnx errors: all one message
        raise MobevalError(f"scheme {scheme.name}: ONNX Runtime {ort_version()} cannot quantize {float_path.name} "
                           f"({type(exc).__name__}: {exc})") from exc
    finally:
        if writing is not None:
            writing.unlink(missing_ok=True)
    _drop_unused_initializers(dest)


def _drop_unused_initializers(path: Path) -> None:
    """The quantizer leaves constants it folded (a Clip's bounds) as initializers no node reads; every
    session then warns about each one. They are removed; nothing that runs changes."""
    import onnx

    model = onnx.load(str(path))
    used = {o.name for o in model.graph.output}

    def walk(graph) -> None:
        for node in graph.node:
            used.update(node.input)
            for attr in node.attribute:
                for sub in [attr.g, *attr.graphs] if attr.type in (attr.GRAPH, attr.GRAPHS) else []:
                    walk(sub)

    walk(model.graph)
    keep = [i for i in model.graph.initializer if i.name in used]
    if len(keep) < len(model.graph.initializer):
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)
        onnx.save(model, str(path))


def _check_runs(path: Path, scheme: QuantScheme, float_path: Path, x: np.ndarray, providers: list[str]) -> None:
    """Run the quantized model once on each provider (alone: no CPU fallback, so an operator the
    provider lacks is found here, not silently run elsewhere)."""
    import onnxruntime as ort

    _check_available(scheme, providers)
    name = input_name(path)
    for p in providers:
        try:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if p != "CPUExecutionProvider":
                options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
            ort.InferenceSession(str(path), sess_options=options, providers=[p]).run(None, {name: x})
        except Exception as exc:  # NOT_IMPLEMENTED, INVALID_GRAPH, ...: ORT's message names the operator
            raise MobevalError(f"scheme {scheme.name} ({scheme.label}): model {float_path.name} quantized, but "
                               f"{p} cannot run it: {exc}") from exc
