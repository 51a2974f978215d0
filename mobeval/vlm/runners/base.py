"""The vision-language seam: images and a question in, an answer and its per-part timings out.

A VLM runner (registered in mobeval.core.runners.REGISTRY with kinds=("vlm",)) is constructed as
`Runner(model, **settings)` and has:

- `info: VlmInfo`, what the result records about the runtime and its parts;
- `answer(query: VlmQuery) -> VlmAnswer`: one question about one or more images. Where `query.candidates`
  is given (the option letters of a multiple-choice item, in the order shown), the runner also returns
  the log-probability of each candidate as the first answer token (`candidate_logprobs`), so the task can
  score without parsing text; it always returns the generated text too;
- `close()`.

Timings are measured by the runner around its own parts (wall clock, ms); a part the runtime does not
expose is None with the reason in `VlmInfo.notes`, never a guess. Token counts are the runtime's own
tokenizer counts, image tokens included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

IMAGE_MARKER = "<image>"  # where the images go in VlmQuery.prompt, in order; a runner maps it to its own


@dataclass(frozen=True)
class VlmQuery:
    item_id: str
    images: tuple[Path, ...]
    prompt: str  # the full user text, with one IMAGE_MARKER per image
    candidates: tuple[str, ...] = ()  # e.g. ("A", "B", "C", "D"): score these as the first answer token
    max_tokens: int = 16


@dataclass(frozen=True)
class VlmTimings:
    preprocess_ms: float | None  # image decode + resize + normalise, all images
    encode_ms: float | None  # vision encoder (+ projector), all images
    prefill_ms: float | None  # prompt evaluation in the language model, image embeddings included
    ttft_ms: float | None  # from the start of preprocessing to the first answer token
    decode_ms: float | None  # generating the answer after the first token
    prompt_tokens: int | None  # language-model positions of the prompt, image tokens included
    image_tokens: int | None  # of which image positions
    decode_tokens: int  # answer tokens generated

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Tokens after the first over the time after the first (None when under two tokens)."""
        if self.decode_ms is None or self.decode_tokens < 2 or self.decode_ms <= 0:
            return None
        return (self.decode_tokens - 1) / (self.decode_ms / 1000)


@dataclass(frozen=True)
class VlmAnswer:
    text: str
    timings: VlmTimings
    candidate_logprobs: tuple[float, ...] | None = None  # one per VlmQuery.candidates, in order


@dataclass(frozen=True)
class VlmInfo:
    name: str  # the runner's registry name
    backend_version: str
    model_files: dict[str, str] = field(default_factory=dict)  # part -> file ("encoder", "projector", "lm", ...)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class VlmRunner(Protocol):
    info: VlmInfo

    def answer(self, query: VlmQuery) -> VlmAnswer: ...

    def close(self) -> None: ...
