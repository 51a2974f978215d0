"""Letter scoring through an OpenAI-style completions API, shared by the HTTP and MLC runners.

One request per prompt: `max_tokens=1` with the top-N log-probabilities of the next token. The
option letters are read from that list, whatever shape the engine returns it in:

- legacy completions (llama-cpp-python's server, MLC's completions): `choices[0].logprobs.top_logprobs[0]`,
  a dict token -> logprob, with the sampled token in `tokens[0]` / `token_logprobs[0]`;
- chat style (llama-server, OpenAI chat, MLC's chat, llama-cpp-python's chat):
  `choices[0].logprobs.content[0]` = {token, logprob, top_logprobs: [{token, logprob}, ...]}.

Matching a continuation ("A" or " A") to the returned tokens: an exact string match is used when there
is one. Only when there is none, a token equal to the continuation once leading whitespace is stripped
from both (" A" for "A", "A" or "\\nA" for " A") stands in for it, and is counted: servers differ in how
they render a token's leading space. Where several tokens match at the same level (a legacy dict
collapses tokens with equal text; a list may repeat one) the highest logprob is used.

A letter absent from the list gets the floor: FLOOR_MARGIN below the lowest logprob returned (an
absent token is at most that lowest value, so the floor keeps every returned letter ranked above it),
and is counted. OpenAI's sentinel -9999 ("very unlikely") counts as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from mobeval.core.errors import RunnerError
from mobeval.text.types import EngineTimings

FLOOR_MARGIN = 1.0  # nats below the lowest returned logprob
LOGIT_BIAS = 100.0  # equal on every letter: the reply is a letter, the letters' order is unchanged
SENTINEL = -9999.0


class NoLogprobsError(RunnerError):
    """The server answered without any logprobs: letter scoring is impossible there."""


@dataclass(frozen=True)
class LetterScores:
    logprobs: tuple[float, ...]
    floored: int  # letters absent from the returned list, given the floor
    whitespace_matched: int  # letters matched to a token differing only in leading whitespace


def letter_request(prompt: str, top_n: int, letter_ids: Sequence[int] | None = None, *, chat: bool = False,
                   temperature: float = 0.0, seed: int | None = None, model: str | None = None) -> dict[str, Any]:
    """The body of a completions (or, with chat, chat completions) request scoring the next token.

    With letter_ids, an equal +100 logit_bias makes the model emit a letter: without it a model whose
    top token is end-of-text gives an empty reply, and llama-cpp-python's server then returns no logprobs.
    """
    body: dict[str, Any] = {"max_tokens": 1, "temperature": temperature}
    if chat:
        body.update(messages=[{"role": "user", "content": prompt}], logprobs=True, top_logprobs=top_n)
    else:
        body.update(prompt=prompt, logprobs=top_n)
    if letter_ids:
        body["logit_bias"] = {int(i): LOGIT_BIAS for i in letter_ids}
    if seed is not None:
        body["seed"] = seed
    if model:
        body["model"] = model
    return body


def letter_token_ids(tokenized: Sequence[Sequence[int]], prefix: Sequence[int] = ()) -> list[int] | None:
    """One token id per continuation, or None where any is not a single distinct token.

    `prefix` is what the tokenizer puts before any text (a BOS token, say): it is dropped first.
    """
    ids = []
    for toks in tokenized:
        toks = list(toks)
        if prefix and toks[: len(prefix)] == list(prefix):
            toks = toks[len(prefix):]
        if len(toks) != 1:
            return None
        ids.append(toks[0])
    return ids if len(set(ids)) == len(ids) else None


def _choice(response: dict) -> dict:
    choices = response.get("choices") or []
    if not choices:
        raise RunnerError(f"the server's reply has no choices: {str(response)[:200]}")
    return choices[0]


def top_candidates(response: dict) -> list[tuple[str, float]] | None:
    """(token, logprob) pairs for the first generated position; None if the reply carries no logprobs."""
    lp = _choice(response).get("logprobs")
    if lp is None:
        return None
    pairs: list[tuple[str, Any]] = []
    sampled: tuple[Any, Any] = (None, None)
    if "content" in lp:
        content = lp["content"] or []
        if content:
            pairs = [(t["token"], t["logprob"]) for t in content[0].get("top_logprobs") or []]
            sampled = (content[0].get("token"), content[0].get("logprob"))
    elif "top_logprobs" in lp:
        tops = lp["top_logprobs"] or []
        pairs = list(tops[0].items()) if tops and tops[0] else []
        tokens, values = lp.get("tokens") or [], lp.get("token_logprobs") or []
        sampled = (tokens[0], values[0]) if tokens and values else sampled
    else:
        raise RunnerError(f"unrecognised logprobs shape in the server's reply: {str(lp)[:200]}")
    # the sampled token counts only where the list lacks it: the list is the unbiased one on every
    # engine we know, the sampled token's own value may not be
    if sampled[0] not in {t for t, _ in pairs}:
        pairs.append(sampled)
    return [(t, float(v)) for t, v in pairs if isinstance(t, str) and v is not None and float(v) > SENTINEL]


def _match(continuation: str, pairs: list[tuple[str, float]]) -> tuple[float | None, bool]:
    exact = [v for t, v in pairs if t == continuation]
    if exact:
        return max(exact), False
    bare = continuation.lstrip()
    loose = [v for t, v in pairs if bare and t.lstrip() == bare]
    return (max(loose), True) if loose else (None, False)


def parse_letters(response: dict, continuations: Sequence[str]) -> LetterScores:
    """Each continuation's logprob as the next token; raises where the reply gives nothing to read."""
    pairs = top_candidates(response)
    if pairs is None:
        raise NoLogprobsError("the server returned no logprobs")
    if not pairs:
        raise RunnerError(
            "the server returned an empty reply with no logprobs (the model's next token was probably "
            "end-of-text, and no logit bias on the letters was possible)"
        )
    floor = min(v for _, v in pairs) - FLOOR_MARGIN
    values, floored, loose = [], 0, 0
    for c in continuations:
        value, was_loose = _match(c, pairs)
        floored += value is None
        loose += was_loose
        values.append(floor if value is None else value)
    return LetterScores(tuple(values), floored, loose)


def needs_generate(response: dict) -> bool:
    """True where the server gives no logprobs at all: only --method generate can score it."""
    return top_candidates(response) is None


def token_counts(response: dict) -> tuple[int, int]:
    """(prompt tokens, tokens the server actually evaluated): cached prompt tokens are not evaluated.

    llama-server reports `timings.prompt_n`; OpenAI-style servers `usage.prompt_tokens_details.cached_tokens`.
    """
    usage = response.get("usage") or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    timings = response.get("timings") or {}
    if timings.get("prompt_n") is not None:
        return prompt, int(timings["prompt_n"])
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return prompt, prompt - int(cached)


def engine_timings(response: dict) -> EngineTimings | None:
    """llama-server's own `timings` of a reply (prompt_n/prompt_ms, predicted_n/predicted_ms); None where
    the server reports none (llama-cpp-python's server, OpenAI, MLC, Ollama's OpenAI API)."""
    t = response.get("timings") or {}
    try:
        return EngineTimings(prompt_tokens=int(t["prompt_n"]), prompt_s=float(t["prompt_ms"]) / 1000,
                             decode_tokens=int(t["predicted_n"]), decode_s=float(t["predicted_ms"]) / 1000)
    except (KeyError, TypeError, ValueError):
        return None


def reply_text(response: dict) -> str:
    """The text of a completion, a chat reply or a streamed chunk of either."""
    choices = response.get("choices") or []
    if not choices:
        return ""
    c = choices[0]
    if c.get("text") is not None:
        return c["text"]
    return ((c.get("delta") or c.get("message") or {}).get("content")) or ""
