"""The vlm modality's catalog: image questions for vision-language models: its benchmarks, its runners, and the vlm variants of the openai and transformers runners.

Data only: each entry names its code as "module:object" (mobeval.core.catalog reads this module).
"""

from __future__ import annotations

from mobeval.core.entries import BenchmarkEntry, KindEntry, RunnerEntry

KINDS: dict[str, KindEntry] = {
    "vlm": KindEntry(
        kind="mobeval.vlm.task.kind:VlmKind", plan="mobeval.vlm.task.plan:plan_vlm",
        description="image questions for vision-language models: multiple choice under orderings, or open answers",
        default_bench="vlm-digits", default_runner="hybrid", default_model="digits-clip",
        extra="vision", settings=("max_tokens", "orderings", "max_prompts"),
        own_data="--bench vlm-jsonl --data FILE.jsonl", headline="mobeval.vlm.task.headline:FIGURES"),
}

BENCHMARKS: dict[str, BenchmarkEntry] = {
    "vlm-digits": BenchmarkEntry(
        "mobeval.vlm.benchmarks.digits:load",
        "bundled, offline: 200 real handwritten digits (scikit-learn's UCI digits, images never trained on by "
        "the bundled models): 'Which digit is shown?', 160 with 4 options, 40 open",
        (), kind="vlm",
    ),
    "vlm-jsonl": BenchmarkEntry(
        "mobeval.vlm.benchmarks.jsonl:load",
        "any local JSONL of image questions (--data FILE.jsonl: id, images, question, options or none, answer)",
        ("data",), kind="vlm", needs=("data",),
    ),
    "mmbench-tsv": BenchmarkEntry(
        "mobeval.vlm.benchmarks.mmbench_tsv:load",
        "MMBench's TSV as OpenCompass/VLMEvalKit distribute it (--data FILE.tsv, base64 images)",
        ("data",), kind="vlm", needs=("data",),
    ),
    "mmbench": BenchmarkEntry(
        "mobeval.vlm.benchmarks.hub:load_mmbench",
        "lmms-lab/MMBench (en, dev) from the hub; offline: --bench mmbench-tsv --data FILE.tsv",
        (), kind="vlm",
    ),
    "scienceqa-img": BenchmarkEntry(
        "mobeval.vlm.benchmarks.hub:load_scienceqa_img",
        "lmms-lab/ScienceQA (ScienceQA-IMG, test) from the hub: science questions with an image",
        (), kind="vlm",
    ),
    "ai2d": BenchmarkEntry(
        "mobeval.vlm.benchmarks.hub:load_ai2d",
        "lmms-lab/ai2d (test) from the hub: 3,088 diagram questions",
        (), kind="vlm",
    ),
}

RUNNERS: dict[str, RunnerEntry] = {
    "hybrid": RunnerEntry("mobeval.vlm.runners.hybrid:HybridRunner", "vlm",
        "AutoNeural's split: image encoder in ONNX Runtime (an execution provider by name; float or "
        "integer-quantized), projector in the encoder's session, language model in llama.cpp fed the image "
        "embeddings; each part timed",
        {"threads": None, "provider": "cpu", "n_batch": 512}, kinds=("vlm",)),
    "llama.cpp-mtmd": RunnerEntry("mobeval.vlm.runners.mtmd:MtmdRunner", "vlm-mtmd",
        "llama.cpp's own multimodal library (libmtmd): a text GGUF + its mmproj GGUF; "
        "image encode, prefill and decode timed apart",
        {"threads": None, "n_ctx": 4096, "n_batch": 512}, kinds=("vlm",)),
    "nexa": RunnerEntry("mobeval.vlm.runners.nexa:NexaRunner", "vlm-folder-or-id",
        "NexaAI's SDK (nexaai; AutoNeural on its NPUs): UNTESTED, its native library cannot be "
        "installed where mobeval is built", {"threads": None}, kinds=("vlm",)),
}

VARIANTS: dict[str, RunnerEntry] = {
    "openai": RunnerEntry(
        "mobeval.vlm.runners.openai_images:OpenAIVlmRunner", "endpoint",
        "image questions to an OpenAI-compatible server with a vision model (llama-server "
        "--mmproj, vLLM, Ollama): images as image_url parts, client-side timings",
        {"endpoint": None, "api_key": None, "request_timeout": 60.0}, kinds=("vlm",)),
    "transformers": RunnerEntry(
        "mobeval.vlm.runners.transformers_vlm:TransformersVlmRunner", "vlm-folder-or-id",
        "image-text-to-text models in transformers (LLaVA, SmolVLM, LFM2-VL, Qwen2.5-VL); "
        "the vision tower and projector timed by hooks",
        {"threads": None, "torch_dtype": "float32"}, kinds=("vlm",)),
}
