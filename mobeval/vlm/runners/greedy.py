"""The answer loop shared by the VLM runners that drive llama.cpp themselves (hybrid, llama.cpp-mtmd): the
candidates' log-probabilities as the first answer token, then greedy decoding to `max_tokens` or the end
of turn, timed. The prompt (text and image positions) is already in the language model's context."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.text.runners.llamacpp import _log_softmax as log_softmax
from mobeval.vlm.runners.llama_embd import LlamaEmbdLM


class CandidateIds:
    """Each candidate's first token id (e.g. the letters "A".."D"), cached per candidate tuple."""

    def __init__(self, lm: LlamaEmbdLM):
        self.lm = lm
        self._ids: dict[tuple[str, ...], list[int]] = {}

    def __call__(self, candidates: tuple[str, ...]) -> list[int]:
        if candidates not in self._ids:
            firsts = []
            for c in candidates:
                ids = self.lm.piece_ids(c)
                if not ids:
                    raise RunnerError(f"candidate {c!r} has no tokens")
                firsts.append(ids[0])
            if len(set(firsts)) != len(firsts):
                raise RunnerError(f"candidates {candidates} do not all begin with different tokens; they cannot "
                                  "be told apart by the first answer token")
            self._ids[candidates] = firsts
        return self._ids[candidates]


@dataclass(frozen=True)
class Generated:
    text: str
    tokens: int  # generated, the end-of-turn token included when generated
    candidate_logprobs: tuple[float, ...] | None
    first_token_at: float  # perf_counter when the first answer token was chosen
    done_at: float  # perf_counter after the last


def answer_from(lm: LlamaEmbdLM, logits: np.ndarray, candidate_ids: list[int], max_tokens: int) -> Generated:
    """Read the candidates from the prompt's last logits, then decode greedily."""
    logprobs = log_softmax(logits) if candidate_ids else None
    tokens = [int(np.argmax(logits))]
    first = time.perf_counter()
    while len(tokens) < max(max_tokens, 1) and not lm.is_eog(tokens[-1]):
        lm.feed_tokens([tokens[-1]], logits_last=True)
        tokens.append(lm.last_argmax())
    done = time.perf_counter()
    text = lm.detokenize([t for t in tokens if not lm.is_eog(t)])
    cand = tuple(float(logprobs[i]) for i in candidate_ids) if logprobs is not None else None
    return Generated(text, len(tokens), cand, first, done)
