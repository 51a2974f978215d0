"""The check every tokenizing runner makes: each continuation is exactly one token after the prompt."""

from __future__ import annotations

from typing import Callable, Sequence

from mobeval.core.errors import RunnerError

Tokenize = Callable[[str], list[int]]


def single_token_ids(prompt: str, tokens: list[int], continuations: Sequence[str], whole: Tokenize,
                     piece: Tokenize | None = None) -> list[int]:
    """The token each continuation becomes right after `prompt` (already tokenized as `tokens`).

    Plain prompts: `whole(prompt + continuation)` must be `tokens` plus one token, so a letter that
    merges with the template's last characters is caught, not scored on the wrong id. After a chat
    template the reply starts a fresh span: pass `piece` to tokenize the continuation alone.
    """
    ids = []
    for c in continuations:
        full = whole(prompt + c) if piece is None else tokens + piece(c)
        if full[: len(tokens)] != tokens or len(full) != len(tokens) + 1:
            raise RunnerError(
                f"the continuation {c!r} does not tokenize as one token after the prompt "
                f"(prompt ends {prompt[-20:]!r}); choose a template whose letters stand alone"
            )
        ids.append(full[-1])
    return ids
