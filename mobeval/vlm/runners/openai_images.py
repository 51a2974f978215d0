"""The `openai` runner asked image questions: one streamed chat request per query, the images as
`image_url` content parts (base64 data URLs) where the prompt's markers are, against any OpenAI-compatible
server with a vision model (llama-server started with `--mmproj`, llama-cpp-python's server with a
multimodal chat handler, vLLM, Ollama's OpenAI API).

Multiple choice: the request asks for the first token's top log-probabilities; the candidates' values
come from them (letters.parse_letters) where the server returns them, else the letter is read from the
text. Timings are taken on this side of the wire (they include the network and the upload): TTFT from
sending the request to the first streamed text, decode after it. The server does the image
preprocessing and encoding, so those are None unless it reports them; llama-server's own `timings`
(prompt_ms: prompt evaluation with the image encode inside it; predicted_ms) are kept as prefill and
decode where present. Prompt tokens are the server's count (`usage.prompt_tokens`, image tokens
included); the server does not say how many of them are the image's.
"""

from __future__ import annotations

import base64
import mimetypes
import time
from pathlib import Path
from typing import Any

from mobeval.core.errors import RunnerError
from mobeval.vlm.models.manifest import VlmModelRef
from mobeval.core.redact import redact_url
from mobeval.text.runners.letters import parse_letters, reply_text
from mobeval.text.runners.openai_http import TOP_LOGPROBS, OpenAIRunner
from mobeval.vlm.runners.base import (
    IMAGE_MARKER,
    VlmAnswer,
    VlmInfo,
    VlmQuery,
    VlmTimings,
)


def data_url(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not kind.startswith("image/"):
        raise RunnerError(f"{path}: not an image file type ({kind})")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def content_parts(prompt: str, images: tuple[Path, ...], item_id: str) -> list[dict[str, Any]]:
    """The user message's content: text and image parts in the prompt's order."""
    pieces = prompt.split(IMAGE_MARKER)
    if len(pieces) - 1 != len(images):
        raise RunnerError(f"item {item_id}: the prompt has {len(pieces) - 1} {IMAGE_MARKER} marker(s) for "
                          f"{len(images)} image(s)")
    parts: list[dict[str, Any]] = []
    for i, text in enumerate(pieces):
        if text.strip("\n"):
            parts.append({"type": "text", "text": text.strip("\n")})
        if i < len(images):
            parts.append({"type": "image_url", "image_url": {"url": data_url(images[i])}})
    return parts


class OpenAIVlmRunner(OpenAIRunner):
    def __init__(self, model: VlmModelRef | str | None, endpoint: str, api_key: str | None = None,
                 request_timeout: float = 60.0, seed: int = 0):
        name = model.location if isinstance(model, VlmModelRef) else model
        super().__init__(name, endpoint, api_key=api_key, concurrency=1, request_timeout=request_timeout,
                         chat=True, seed=seed)
        self.info = VlmInfo(
            name="openai",
            backend_version=self.info.backend_version,
            model_files={},
            settings={"endpoint": self._where, "served_model": self.model, "request_timeout": request_timeout,
                      "top_logprobs": TOP_LOGPROBS, "server_logprobs": None, "server_timings": None},
            notes=["TTFT and decode are measured by this client: they include the network and the image upload",
                   "image preprocessing and encoding run on the server: not reported apart (None)",
                   "prompt tokens are the server's usage.prompt_tokens, image tokens included"],
        )

    def _body(self, query: VlmQuery) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": content_parts(query.prompt, query.images, query.item_id)}],
            "max_tokens": max(query.max_tokens, 1), "temperature": 0.0, "seed": self.seed, "stream": True,
            "stream_options": {"include_usage": True},
        }
        if query.candidates:
            body.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        if self.model:
            body["model"] = self.model
        return body

    def _stream(self, body: dict) -> dict[str, Any]:
        t0 = time.perf_counter()
        texts: list[str] = []
        first_at = None
        first_logprobs: dict | None = None
        final: dict = {}
        for chunk in self._events(f"{self.endpoint}/chat/completions", body):
            choices = chunk.get("choices") or []
            if first_logprobs is None and choices and (choices[0].get("logprobs") or {}).get("content"):
                first_logprobs = chunk
            if text := reply_text(chunk):
                first_at = first_at or time.perf_counter()
                texts.append(text)
            if chunk.get("usage") or chunk.get("timings"):
                final = chunk
        end = time.perf_counter()
        return {"text": "".join(texts), "chunks": len(texts), "t0": t0, "first": first_at or end, "end": end,
                "logprobs": first_logprobs, "final": final}

    def answer(self, query: VlmQuery) -> VlmAnswer:
        url = redact_url(f"{self.endpoint}/chat/completions")
        out = self._retrying(lambda: self._stream(self._body(query)), f"POST {url} (item {query.item_id})")
        cand = None
        if query.candidates:
            self.info.settings["server_logprobs"] = out["logprobs"] is not None
            if out["logprobs"] is not None:
                cand = parse_letters(out["logprobs"], query.candidates).logprobs
        usage = out["final"].get("usage") or {}
        timings = out["final"].get("timings") or {}
        self.info.settings["server_timings"] = bool(timings)
        ms = lambda a, b: (b - a) * 1000
        decode_tokens = int(usage.get("completion_tokens") or out["chunks"])
        return VlmAnswer(
            text=out["text"],
            timings=VlmTimings(
                preprocess_ms=None, encode_ms=None,
                prefill_ms=float(timings["prompt_ms"]) if "prompt_ms" in timings else None,
                ttft_ms=ms(out["t0"], out["first"]), decode_ms=ms(out["first"], out["end"]),
                prompt_tokens=int(usage["prompt_tokens"]) if usage.get("prompt_tokens") else None,
                image_tokens=None, decode_tokens=decode_tokens,
            ),
            candidate_logprobs=cand,
        )
