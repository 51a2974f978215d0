"""Runner registry; implementations are imported only when chosen."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Literal, Mapping

from mobeval.errors import MobevalError
from mobeval.runners.base import Runner

# Run settings (config keys, each the name of a `mobeval run` flag) that only some runners take.
RUNNER_SETTINGS = ("threads", "n_ctx", "n_batch", "torch_dtype", "batch_tokens", "endpoint", "api_key",
                   "concurrency", "request_timeout", "provider", "graph_optimization", "channels_last")
# A setting's keyword in the runner constructors, where it differs from the config key.
KEYWORDS = {"threads": "n_threads"}
_SETTING_OF = {v: k for k, v in KEYWORDS.items()}


@dataclass(frozen=True)
class RunnerEntry:
    target: str  # "module:Class"
    # What --model names for this runner: "gguf" an alias or .gguf file resolved and hashed here;
    # "endpoint" a model served behind --endpoint (not on this machine); "folder-or-id" a local
    # folder or hub id the runtime itself loads, in this process; "gguf-folder-or-id" either: an alias
    # or .gguf file as "gguf", anything else (a folder, an owner/name hub id) as "folder-or-id".
    # "vision" a vision model (alias, .onnx/.tflite/PyTorch file, hub id) that the task kind resolves.
    # "none" no model file: the runner's parameters are built in, and --model is refused.
    # "spectrum" a trained spectrum net: a bundled alias or a NAME.pt with its card (runners.spectrum.net_model).
    # "vlm" a vision-language model: an alias (digits-vlm) or a JSON manifest of its parts (mobeval.models.vlm);
    # "vlm-mtmd" a text GGUF + mmproj GGUF pair (alias, manifest, or the .gguf with its mmproj beside it);
    # "vlm-folder-or-id" a VLM folder or hub id the runtime loads (or an alias this project writes as one).
    model: Literal["gguf", "endpoint", "folder-or-id", "gguf-folder-or-id", "vision", "none", "spectrum", "vlm",
                   "vlm-mtmd", "vlm-folder-or-id"]
    description: str
    # The RUNNER_SETTINGS it takes, each with its default (None: none, or the runtime decides, e.g. all
    # cores). tests/test_settings_validation.py checks these against the constructor's signature.
    settings: Mapping[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ("mcq",)  # the task kinds it serves (mobeval.tasks)
    # The same runner name serving another kind with another class (e.g. `openai` asked image questions):
    # kind -> that kind's entry. `entry(name, kind)` picks it.
    variants: Mapping[str, "RunnerEntry"] = field(default_factory=dict)

    @property
    def remote(self) -> bool:
        return self.model == "endpoint"


REGISTRY: dict[str, RunnerEntry] = {
    "llama.cpp": RunnerEntry("mobeval.runners.llamacpp:LlamaCppRunner", "gguf",
                             "in-process llama.cpp through llama-cpp-python (GGUF files)",
                             {"threads": None, "n_ctx": 2048, "n_batch": 512}),
    "openai": RunnerEntry("mobeval.runners.openai_http:OpenAIRunner", "endpoint",
                          "any OpenAI-compatible server (llama-server, llama-cpp-python, mlc_llm serve, Ollama)",
                          {"endpoint": None, "api_key": None, "concurrency": 1, "request_timeout": 60.0},
                          variants={"vlm": RunnerEntry(
                              "mobeval.runners.vlm.openai_images:OpenAIVlmRunner", "endpoint",
                              "image questions to an OpenAI-compatible server with a vision model (llama-server "
                              "--mmproj, vLLM, Ollama): images as image_url parts, client-side timings",
                              {"endpoint": None, "api_key": None, "request_timeout": 60.0}, kinds=("vlm",))}),
    "mlc": RunnerEntry("mobeval.runners.mlc:MLCRunner", "folder-or-id",
                       "in-process MLC LLM (mlc_llm.MLCEngine; wheels from https://mlc.ai/wheels)"),
    # --model smollm2-135m runs the llama.cpp runner's file (dequantized); a folder or hub id loads as is
    "transformers": RunnerEntry("mobeval.runners.transformers_hf:TransformersRunner", "gguf-folder-or-id",
                                "Hugging Face transformers on CPU/CUDA; GGUF via gguf_file= (dequantized)",
                                {"threads": None, "torch_dtype": "float32", "batch_tokens": 640},
                                variants={"vlm": RunnerEntry(
                                    "mobeval.runners.vlm.transformers_vlm:TransformersVlmRunner", "vlm-folder-or-id",
                                    "image-text-to-text models in transformers (LLaVA, SmolVLM, LFM2-VL, Qwen2.5-VL); "
                                    "the vision tower and projector timed by hooks",
                                    {"threads": None, "torch_dtype": "float32"}, kinds=("vlm",))}),
    "onnxruntime": RunnerEntry("mobeval.runners.vision.onnxruntime_classifier:OnnxRuntimeClassifier", "vision",
                               "ONNX Runtime: an execution provider by name (cpu, xnnpack, openvino, coreml, qnn, "
                               "...), a graph optimisation level; PyTorch models exported once, cached",
                               {"threads": None, "provider": "cpu", "graph_optimization": "all"},
                               kinds=("image-classification",)),
    "torch": RunnerEntry("mobeval.runners.vision.torch_classifier:TorchClassifier", "vision",
                         "PyTorch eager (inference_mode), optionally channels-last",
                         {"threads": None, "channels_last": False}, kinds=("image-classification",)),
    "litert": RunnerEntry("mobeval.runners.vision.litert_classifier:LiteRtClassifier", "vision",
                          "LiteRT (ai-edge-litert) interpreter with the XNNPACK delegate; .tflite files, or PyTorch "
                          "models converted once with litert-torch (cached)",
                          {"threads": None}, kinds=("image-classification",)),
    "energy-detector": RunnerEntry("mobeval.runners.spectrum.energy_runner:EnergyDetectorRunner", "none",
                                   "classical spectrum-occupancy baseline: thresholded, smoothed Welch PSD over "
                                   "an FCME noise floor (no model file, no training)",
                                   kinds=("spectrum-segmentation",)),
    "spectrum-torch": RunnerEntry("mobeval.runners.spectrum.torch_runner:TorchSegmenter", "spectrum",
                                  "a trained spectrum net (cmusenet-small, realnet-small, or a .pt from `mobeval "
                                  "train spectrum`) in PyTorch eager; the complex net on native complex tensors",
                                  {"threads": None}, kinds=("spectrum-segmentation",)),
    "spectrum-onnxruntime": RunnerEntry("mobeval.runners.spectrum.onnx_runner:OnnxRuntimeSegmenter", "spectrum",
                                        "a trained spectrum net exported to ONNX in real arithmetic (cached), "
                                        "ONNX Runtime on the CPU",
                                        {"threads": None}, kinds=("spectrum-segmentation",)),
    "hybrid": RunnerEntry("mobeval.runners.vlm.hybrid:HybridRunner", "vlm",
                          "AutoNeural's split: image encoder in ONNX Runtime (an execution provider by name; float or "
                          "integer-quantized), projector in numpy, language model in llama.cpp fed the image "
                          "embeddings; each part timed",
                          {"threads": None, "provider": "cpu", "n_batch": 512}, kinds=("vlm",)),
    "llama.cpp-mtmd": RunnerEntry("mobeval.runners.vlm.mtmd:MtmdRunner", "vlm-mtmd",
                                  "llama.cpp's own multimodal library (libmtmd): a text GGUF + its mmproj GGUF; "
                                  "image encode, prefill and decode timed apart",
                                  {"threads": None, "n_ctx": 4096, "n_batch": 512}, kinds=("vlm",)),
    "nexa": RunnerEntry("mobeval.runners.vlm.nexa:NexaRunner", "vlm-folder-or-id",
                        "NexaAI's SDK (nexaai; AutoNeural on its NPUs): UNTESTED, its native library cannot be "
                        "installed where mobeval is built", {"threads": None}, kinds=("vlm",)),
}


def entry(name: str, kind: str | None = None) -> RunnerEntry:
    """The runner `name`; for `kind`, its variant serving that kind where it has one."""
    if name not in REGISTRY:
        raise MobevalError(f"unknown runner {name!r}; known: {', '.join(REGISTRY)}")
    e = REGISTRY[name]
    return e.variants.get(kind, e) if kind is not None and kind not in e.kinds else e


def all_entries() -> list[tuple[str, RunnerEntry]]:
    """Every (name, entry), variants included."""
    return [(n, v) for n, e in REGISTRY.items() for v in (e, *e.variants.values())]


def kinds_served(name: str) -> tuple[str, ...]:
    e = entry(name)
    return (*e.kinds, *e.variants)


def _runner_class(name: str, kind: str | None = None):
    module, cls_name = entry(name, kind).target.split(":")
    return getattr(import_module(module), cls_name)


def check_kind(name: str, kind: str) -> None:
    """A runner asked for a task kind it does not serve is an error, before anything loads."""
    served = kinds_served(name)
    if kind not in served:
        serving = [n for n in REGISTRY if kind in kinds_served(n)]
        raise MobevalError(f"runner {name} does not serve {kind} tasks (it serves: {', '.join(served)}); "
                           f"for {kind} use --runner {' or '.join(serving) or '(none installed)'}")


def flag(key: str) -> str:
    """The `mobeval run` flag of a config key."""
    return "--" + key.replace("_", "-")


def runners_taking(key: str) -> list[str]:
    return list(dict.fromkeys(name for name, e in all_entries() if key in e.settings))


def check_settings(name: str, settings: Mapping[str, Any], kind: str | None = None) -> None:
    """A runner-specific setting given (not None) to a runner that does not take it is an error naming
    the flag, so `--n-ctx` with `--runner openai`, or `--torch-dtype` with llama.cpp, is never silently
    ignored. Keys are config keys or constructor keywords (`n_threads`). Imports nothing."""
    taken = entry(name, kind).settings
    unused = sorted({_SETTING_OF.get(k, k) for k, v in settings.items() if v is not None}
                    & set(RUNNER_SETTINGS) - set(taken))
    if unused:
        where = "; ".join(f"{flag(k)} is for --runner {' or '.join(runners_taking(k))}" for k in unused)
        raise MobevalError(f"runner {name} does not take: {', '.join(f'{k} ({flag(k)})' for k in unused)}; "
                           f"{where}")


def make_runner(name: str, model: Any, settings: Mapping[str, Any], kind: str | None = None) -> Runner:
    """Construct a runner (its variant for `kind`) with the settings its constructor takes (validated by
    mobeval.config before: here settings the runner does not take are dropped, so one dict serves every runner)."""
    cls = _runner_class(name, kind)
    accepted = set(inspect.signature(cls).parameters)
    kwargs = {KEYWORDS.get(k, k): v for k, v in settings.items() if v is not None}
    # the vision runners take `threads` as is; the text runners `n_threads` (KEYWORDS)
    kwargs = {(k if k in accepted else _SETTING_OF.get(k, k)): v for k, v in kwargs.items()}
    return cls(model, **{k: v for k, v in kwargs.items() if k in accepted})


__all__ = ["KEYWORDS", "REGISTRY", "RUNNER_SETTINGS", "Runner", "RunnerEntry", "all_entries", "check_kind",
           "check_settings", "entry", "flag", "kinds_served", "make_runner"]
