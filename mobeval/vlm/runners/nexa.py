"""The `nexa` runner: NexaAI's SDK (`nexaai` on PyPI), which runs AutoNeural and other VLMs on the NPUs and
backends it supports (Qualcomm Hexagon through its QNN plugin, llama.cpp and MLX plugins elsewhere).

UNTESTED: written against the API of nexaai 1.0.44's Python sources (`VLM.from_`, `apply_chat_template`,
`generate` with `GenerationConfig(image_paths=...)`, `GenerateResult.profile_data`), not run. The SDK
downloads its native library from NexaAI's servers when it installs, which cannot happen where mobeval is
built, and its NPU path needs NexaAI's supported hardware. Where the SDK is missing the runner stops with
the install line.

What it records: the answer text (multiple choice is read from the text: the SDK gives no log-probabilities),
and the SDK's own profile: TTFT, prompt time (image encode inside it, not reported apart), decode time and
token counts. Preprocessing and encode are None.
"""

from __future__ import annotations

import time
from importlib import import_module

from mobeval.core.errors import RunnerError
from mobeval.vlm.models.manifest import VlmModelRef
from mobeval.vlm.runners.base import (
    IMAGE_MARKER,
    VlmAnswer,
    VlmInfo,
    VlmQuery,
    VlmTimings,
)

INSTALL = ("pip install nexaai  (NexaAI's SDK: its native library is downloaded from NexaAI at install time; "
           "see https://github.com/NexaAI/nexa-sdk for the NPUs and plugins it supports)")


class NexaRunner:
    def __init__(self, model: VlmModelRef | str, threads: int | None = None):
        try:
            self.sdk = import_module("nexaai")
        except ImportError as exc:
            raise RunnerError(f"--runner nexa needs NexaAI's SDK, which is not installed: {INSTALL}") from exc
        where = model.location if isinstance(model, VlmModelRef) else str(model)
        config = self.sdk.ModelConfig(**({"n_threads": threads, "n_threads_batch": threads} if threads else {}))
        try:
            self.vlm = import_module("nexaai.vlm").VLM.from_(model=where, config=config)
        except Exception as exc:  # the SDK raises its own NexaError family
            raise RunnerError(f"nexaai could not load {where}: {type(exc).__name__}: {exc}") from exc
        self.info = VlmInfo(
            name="nexa", backend_version=f"nexaai {getattr(self.sdk, '__version__', '?')}",
            model_files={"model": where}, settings={"threads": threads},
            notes=["UNTESTED runner (no nexaai install where mobeval was built)",
                   "timings are the SDK's profile_data; encode is inside its prompt time (None apart)",
                   "multiple choice is read from the text: the SDK returns no log-probabilities"],
        )

    def answer(self, query: VlmQuery) -> VlmAnswer:
        sdk = self.sdk
        pieces = query.prompt.split(IMAGE_MARKER)
        if len(pieces) - 1 != len(query.images):
            raise RunnerError(f"item {query.item_id}: the prompt has {len(pieces) - 1} {IMAGE_MARKER} marker(s) for "
                              f"{len(query.images)} image(s)")
        contents = []
        for i, text in enumerate(pieces):
            if text.strip("\n"):
                contents.append(sdk.VlmContent(type="text", text=text.strip("\n")))
            if i < len(query.images):
                contents.append(sdk.VlmContent(type="image", text=str(query.images[i])))
        self.vlm.reset()
        t0 = time.perf_counter()
        prompt = self.vlm.apply_chat_template([sdk.VlmChatMessage(role="user", contents=contents)])
        config = sdk.GenerationConfig(max_tokens=max(query.max_tokens, 1), image_paths=[str(p) for p in query.images],
                                      image_count=len(query.images),
                                      sampler_config=sdk.SamplerConfig(temperature=0.0, top_k=1, seed=0))
        try:
            result = self.vlm.generate(prompt, config=config)
        except Exception as exc:
            raise RunnerError(f"item {query.item_id}: nexaai failed: {type(exc).__name__}: {exc}") from exc
        wall_ms = (time.perf_counter() - t0) * 1000
        p = result.profile_data
        us = lambda v: float(v) / 1000 if v else None
        return VlmAnswer(
            text=result.text,
            timings=VlmTimings(preprocess_ms=None, encode_ms=None, prefill_ms=us(p.prompt_time),
                               ttft_ms=us(p.ttft) or wall_ms, decode_ms=us(p.decode_time),
                               prompt_tokens=int(p.prompt_tokens) or None, image_tokens=None,
                               decode_tokens=int(p.generated_tokens)),
        )

    def close(self) -> None:
        self.vlm = None
