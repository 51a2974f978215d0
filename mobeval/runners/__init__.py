"""Runner registry; implementations are imported only when chosen."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from mobeval.errors import MobevalError
from mobeval.runners.base import Runner


@dataclass(frozen=True)
class RunnerEntry:
    target: str  # "module:Class"
    local_model: bool  # loads a model file on this machine (else the model lives behind an endpoint)
    description: str


REMOTE_SETTINGS = {"endpoint", "api_key", "concurrency", "request_timeout"}

REGISTRY: dict[str, RunnerEntry] = {
    "llama.cpp": RunnerEntry("mobeval.runners.llamacpp:LlamaCppRunner", True,
                             "in-process llama.cpp through llama-cpp-python (GGUF files)"),
}


def entry(name: str) -> RunnerEntry:
    if name not in REGISTRY:
        raise MobevalError(f"unknown runner {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def make_runner(name: str, model: Any, settings: dict[str, Any]) -> Runner:
    """Construct a runner with the settings its constructor takes.

    A remote-only setting given (not None) to a runner that does not take it is an error, so
    `--endpoint` with an in-process runner is not silently ignored.
    """
    module, cls_name = entry(name).target.split(":")
    cls = getattr(import_module(module), cls_name)
    accepted = set(inspect.signature(cls).parameters)
    unused = [k for k, v in settings.items() if v is not None and k not in accepted and k in REMOTE_SETTINGS]
    if unused:
        raise MobevalError(f"runner {name} does not take: {', '.join(sorted(unused))}")
    return cls(model, **{k: v for k, v in settings.items() if k in accepted and v is not None})


__all__ = ["REGISTRY", "Runner", "RunnerEntry", "entry", "make_runner"]
