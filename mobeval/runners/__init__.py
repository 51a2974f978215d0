"""Runner registry; implementations are imported only when chosen."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

from mobeval.errors import MobevalError
from mobeval.runners.base import Runner


@dataclass(frozen=True)
class RunnerEntry:
    target: str  # "module:Class"
    # What --model names for this runner: "gguf" an alias or .gguf file resolved and hashed here;
    # "endpoint" a model served behind --endpoint (not on this machine); "folder-or-id" a local
    # folder or hub id the runtime itself loads, in this process; "gguf-folder-or-id" either: an alias
    # or .gguf file as "gguf", anything else (a folder, an owner/name hub id) as "folder-or-id".
    model: Literal["gguf", "endpoint", "folder-or-id", "gguf-folder-or-id"]
    description: str

    @property
    def remote(self) -> bool:
        return self.model == "endpoint"


REMOTE_SETTINGS = {"endpoint", "api_key", "concurrency", "request_timeout"}
# settings that mean something to some runners only: given to one that does not take them, an error
SPECIFIC_SETTINGS = REMOTE_SETTINGS | {"torch_dtype", "batch_tokens"}

REGISTRY: dict[str, RunnerEntry] = {
    "llama.cpp": RunnerEntry("mobeval.runners.llamacpp:LlamaCppRunner", "gguf",
                             "in-process llama.cpp through llama-cpp-python (GGUF files)"),
    "openai": RunnerEntry("mobeval.runners.openai_http:OpenAIRunner", "endpoint",
                          "any OpenAI-compatible server (llama-server, llama-cpp-python, mlc_llm serve, Ollama)"),
    "mlc": RunnerEntry("mobeval.runners.mlc:MLCRunner", "folder-or-id",
                       "in-process MLC LLM (mlc_llm.MLCEngine; wheels from https://mlc.ai/wheels)"),
    # --model smollm2-135m runs the llama.cpp runner's file (dequantized); a folder or hub id loads as is
    "transformers": RunnerEntry("mobeval.runners.transformers_hf:TransformersRunner", "gguf-folder-or-id",
                                "Hugging Face transformers on CPU/CUDA; GGUF via gguf_file= (dequantized)"),
}


def entry(name: str) -> RunnerEntry:
    if name not in REGISTRY:
        raise MobevalError(f"unknown runner {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def _runner_class(name: str):
    module, cls_name = entry(name).target.split(":")
    return getattr(import_module(module), cls_name)


def check_settings(name: str, settings: dict[str, Any]) -> None:
    """A runner-specific setting given (not None) to a runner that does not take it is an error, so
    `--endpoint` with an in-process runner, or `--torch-dtype` with llama.cpp, is not silently ignored.
    Imports the runner's module only (its runtime loads when the runner is made)."""
    accepted = set(inspect.signature(_runner_class(name)).parameters)
    unused = [k for k, v in settings.items() if v is not None and k not in accepted and k in SPECIFIC_SETTINGS]
    if unused:
        raise MobevalError(f"runner {name} does not take: {', '.join(sorted(unused))}")


def make_runner(name: str, model: Any, settings: dict[str, Any]) -> Runner:
    """Construct a runner with the settings its constructor takes (after `check_settings`)."""
    check_settings(name, settings)
    cls = _runner_class(name)
    accepted = set(inspect.signature(cls).parameters)
    return cls(model, **{k: v for k, v in settings.items() if k in accepted and v is not None})


__all__ = ["REGISTRY", "Runner", "RunnerEntry", "check_settings", "entry", "make_runner"]
