"""Runner registry; implementations are imported only when chosen."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from mobeval.errors import MobevalError
from mobeval.runners.base import Runner

REGISTRY: dict[str, str] = {
    "llama.cpp": "mobeval.runners.llamacpp:LlamaCppRunner",
}


def make_runner(name: str, model_path: Path, settings: dict[str, Any]) -> Runner:
    if name not in REGISTRY:
        raise MobevalError(f"unknown runner {name!r}; known: {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name].split(":")
    return getattr(import_module(module), cls)(model_path, **settings)


__all__ = ["REGISTRY", "Runner", "make_runner"]
