"""The runner seam: every runtime (llama.cpp, an HTTP server, MLC, transformers, ...) implements it.

A runner knows nothing of benchmarks: it scores continuations after prompts and generates text.
Requests arrive in an order that puts prompts sharing a prefix next to each other; a runner that
can keep its cache between requests should.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from mobeval.text.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo


@runtime_checkable
class Runner(Protocol):
    info: RunnerInfo
    # How many questions' requests the engine sends per call (1 for an in-process runtime that
    # shares prefixes; more for a server that can take concurrent requests).
    questions_per_call: int

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        """Log-probability of each continuation as the next token after each prompt."""

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResponse]:
        """Greedy completions."""

    def close(self) -> None:
        """Free the runtime."""
