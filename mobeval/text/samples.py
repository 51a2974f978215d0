"""One record per (question, ordering): what was asked, what the runner said, what was chosen."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from mobeval.text.types import LETTERS


@dataclass(frozen=True)
class Sample:
    question_id: str
    ordering: int  # index into the question's orderings; 0 is the original order
    order: tuple[int, ...]  # order[position] = original option index
    choice: int | None  # position chosen; None = no valid answer (generate could not be parsed)
    answer: int | None  # original index of the correct option, None without a key
    field: str
    category: str
    prompt_sha256: str
    logprobs: tuple[float, ...] | None  # per position; None for generate
    text: str | None  # generated text; None for logprob scoring
    prompt_tokens: int
    evaluated_tokens: int
    latency_s: float
    ttft_s: float | None = None  # generate only: time to the first new token
    generated_tokens: int | None = None  # generate only
    warmup: bool = False  # the first question of a run segment: excluded from latency statistics
    engine_timings: dict | None = None  # the engine's own timings (types.EngineTimings), where it reports them
    # --log-texts: the question and its options in their original order (else only the prompt's sha256)
    question_text: str | None = None
    options_text: tuple[str, ...] | None = None

    @property
    def item_id(self) -> str:
        return self.question_id

    @property
    def chosen_option(self) -> int | None:
        return None if self.choice is None else self.order[self.choice]

    @property
    def correct(self) -> bool:
        return self.answer is not None and self.chosen_option == self.answer

    def to_json(self) -> dict:
        d = asdict(self)
        for key in ("question_text", "options_text"):  # kept only under --log-texts: lines stay as before
            if d[key] is None:
                del d[key]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Sample":
        d = dict(d)
        d["order"] = tuple(d["order"])
        if d.get("logprobs") is not None:
            d["logprobs"] = tuple(d["logprobs"])
        if d.get("options_text") is not None:
            d["options_text"] = tuple(d["options_text"])
        return cls(**d)


def bad_logprobs(logprobs) -> str:
    """Why log-probabilities from a runner cannot be scored ('' when they can): NaN, or above 0 (+inf included);
    -inf is a probability of zero and is kept."""
    if any(math.isnan(x) for x in logprobs):
        return f"NaN among its log-probabilities {tuple(logprobs)}"
    if any(x > 1e-6 for x in logprobs):
        return f"a log-probability above 0 among {tuple(logprobs)}"
    return ""


def choose_by_logprob(logprobs: tuple[float, ...]) -> int:
    """Position with the highest log-probability (the first on a tie)."""
    return max(range(len(logprobs)), key=lambda i: (logprobs[i], -i))


def parse_letter(text: str, n_options: int) -> int | None:
    """The answer position in generated text, or None when no valid letter can be read.

    Accepts a bare letter, optionally wrapped or followed by punctuation ("B", "(B)", "B.", "B) text",
    "Answer: B"); a letter outside the options or a reply that starts with prose is invalid.
    """
    valid = LETTERS[:n_options]
    s = text.strip()
    s = re.sub(r"^(?:the\s+)?(?:correct\s+)?answer\s*(?:is)?\s*[:：]?\s*", "", s, flags=re.IGNORECASE)
    m = re.match(r"^[\(\[]?([A-J])(?:[\)\]\.:,]|\s|$)", s)
    if m and m.group(1) in valid:
        return valid.index(m.group(1))
    return None


def log_softmax(values: tuple[float, ...]) -> list[float]:
    m = max(values)
    z = m + math.log(sum(math.exp(v - m) for v in values))
    return [v - z for v in values]
