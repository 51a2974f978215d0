"""The typed records that cross the seams: benchmark -> requests -> runner -> responses."""

from __future__ import annotations

from dataclasses import dataclass, field

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Question:
    """One multiple-choice item, options in their original order."""

    id: str
    question: str
    options: tuple[str, ...]
    answer: int | None = None  # index into options; None where the key is held back
    field: str = ""
    category: str = ""
    source: str = ""  # file (and row) it came from, for error messages


@dataclass(frozen=True)
class ChoiceRequest:
    """Score each continuation as the next token after the prompt."""

    prompt: str
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class EngineTimings:
    """Time the engine itself reports for one request (llama-server's `timings`): its own clock, so no
    network, queueing or HTTP in it."""

    prompt_tokens: int  # prompt tokens it evaluated (not those reused from its cache)
    prompt_s: float
    decode_tokens: int  # tokens it generated
    decode_s: float


@dataclass(frozen=True)
class ChoiceResponse:
    """Log-probabilities (natural log, full-vocabulary softmax) of each continuation."""

    logprobs: tuple[float, ...]
    prompt_tokens: int
    evaluated_tokens: int  # tokens actually run through the model (shared prefixes excluded)
    latency_s: float
    engine: EngineTimings | None = None  # where the engine reports its own timings


@dataclass(frozen=True)
class GenerateRequest:
    """Greedy generation of at most max_tokens new tokens."""

    prompt: str
    max_tokens: int = 5


@dataclass(frozen=True)
class GenerateResponse:
    text: str
    prompt_tokens: int
    evaluated_tokens: int
    generated_tokens: int
    latency_s: float
    ttft_s: float
    engine: EngineTimings | None = None


@dataclass(frozen=True)
class RunnerInfo:
    """What a result records about the runtime."""

    name: str
    backend_version: str
    settings: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what a reader of the result must know about how the runtime ran
