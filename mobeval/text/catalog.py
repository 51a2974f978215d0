"""The text modality's catalog: multiple-choice questions (the mcq kind): its benchmarks, its runners and its default model.

Data only: each entry names its code as "module:object" (mobeval.core.catalog reads this module).
"""

from __future__ import annotations

from importlib.resources import files

import yaml

from mobeval.core.entries import BenchmarkEntry, KindEntry, ModelEntry, RunnerEntry

# fields of result.json's environment section
ENVIRONMENT = ("mobeval.text.runners.llamacpp_build:environment_fields",)
# `mobeval perf`: llama.cpp's own speed on this machine
COMMANDS = {"perf": "mobeval.text.commands.perf:perf"}

KINDS: dict[str, KindEntry] = {
    "mcq": KindEntry(
        kind="mobeval.text.task.kind:McqKind", plan="mobeval.text.task.plan:plan_mcq",
        description="multiple-choice questions, scored under several orderings of the options",
        default_bench="everyday-mobile", default_runner="llama.cpp", default_model="smollm2-135m",
        settings=("template", "method", "max_tokens", "chat", "orderings", "max_prompts", "log_texts"),
        own_data="--bench mcq --data FILE",
        legacy_results={"mobeval.result/1": "mobeval.text.task.result_v1:upgrade"},
        headline="mobeval.text.task.headline:FIGURES", page_plots="mobeval.text.task.page_plots:letters"),
}

BENCHMARKS: dict[str, BenchmarkEntry] = {
    "everyday-mobile": BenchmarkEntry(
        "mobeval.text.benchmarks.bundled:load",
        "bundled with mobeval: everyday mobile tasks, with an answer key (offline default)",
        ("answers",),
    ),
    "mobile-mmlu": BenchmarkEntry(
        "mobeval.text.benchmarks.mobile_mmlu:load_mobile_mmlu",
        "MBZUAI-LLM/Mobile-MMLU (16,186 questions, 80 fields); key held back, --answers supplies one",
        ("data", "answers"),
    ),
    "mobile-mmlu-pro": BenchmarkEntry(
        "mobeval.text.benchmarks.mobile_mmlu:load_mobile_mmlu_pro",
        "MBZUAI-LLM/Mobile-MMLU-Pro (9,497 questions); key held back, --answers supplies one",
        ("data", "answers"),
    ),
    "mmlu": BenchmarkEntry(
        "mobeval.text.benchmarks.mmlu:load",
        "MMLU: Hendrycks layout (--data DIR with test/ and dev/) or cais/mmlu from the hub",
        ("data", "shots", "subjects"),
    ),
    "mcq": BenchmarkEntry(
        "mobeval.text.benchmarks.mcq:load",
        "any local CSV / JSONL / parquet of multiple-choice questions (--data FILE, column mapping)",
        ("data", "columns", "answers"),
    ),
}

RUNNERS: dict[str, RunnerEntry] = {
    "llama.cpp": RunnerEntry("mobeval.text.runners.llamacpp:LlamaCppRunner", "gguf",
        "in-process llama.cpp through llama-cpp-python (GGUF files)",
        {"threads": None, "n_ctx": 2048, "n_batch": 512}),
    "openai": RunnerEntry("mobeval.text.runners.openai_http:OpenAIRunner", "endpoint",
        "any OpenAI-compatible server (llama-server, llama-cpp-python, mlc_llm serve, Ollama)",
        {"endpoint": None, "api_key": None, "concurrency": 1, "request_timeout": 60.0}),
    "mlc": RunnerEntry("mobeval.text.runners.mlc:MLCRunner", "folder-or-id",
        "in-process MLC LLM (mlc_llm.MLCEngine; wheels from https://mlc.ai/wheels)"),
    "transformers": RunnerEntry("mobeval.text.runners.transformers_hf:TransformersRunner", "gguf-folder-or-id",
        "Hugging Face transformers on CPU/CUDA; GGUF via gguf_file= (dequantized)",
        {"threads": None, "torch_dtype": "float32", "batch_tokens": 640}),
}


def _gguf_aliases() -> dict[str, ModelEntry]:
    """models/catalog.yaml's aliases (SmolLM2, Gemma 3, Qwen2.5 ...), where each GGUF comes from."""
    text = files("mobeval.text.models").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return {alias: ModelEntry(kind="mcq", spec=fields, description=fields.get("name", ""))
            for alias, fields in yaml.safe_load(text).items()}


MODELS: dict[str, ModelEntry] = _gguf_aliases()
