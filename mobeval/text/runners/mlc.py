"""In-process MLC LLM (`mlc_llm.MLCEngine`), letters scored through its OpenAI-style completions API.

The request and the parsing are letters.py's, as for the HTTP runner. MLC specifics, from its source
(python/mlc_llm/protocol/openai_api_protocol.py, cpp/serve/logit_processor.cc):

- completions accept `logprobs` <= 5 (COMPLETION_MAX_TOP_LOGPROBS), chat completions `top_logprobs` <= 20;
- logit_bias is added to the logits before the softmax whose logprobs MLC reports, so under the equal bias
  on the letters the reported values are normalised over the letters (log p(letter) - log sum p(letters)):
  the chosen letter and the debiased figures are those of full-vocabulary logprobs, the raw values are not
  (info.settings says so). With the bias every letter is in the top 4, so none needs the floor;
- at temperature 0 the reported logprobs are degenerate (0 for the top token, one value for all the
  others: mlc-ai/mlc-llm#3142), so letters are scored at temperature 1; with max_tokens=1 the sampled
  token itself is never used.
"""

from __future__ import annotations

import time
from importlib import import_module
from pathlib import Path
from typing import Any, Sequence

from mobeval.core.errors import RunnerError
from mobeval.text.runners.letters import LetterScores, letter_request, letter_token_ids, parse_letters, reply_text, token_counts
from mobeval.text.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo

INSTALL = "pip install --pre -f https://mlc.ai/wheels mlc-llm-nightly-cpu mlc-ai-nightly-cpu"
COMPLETION_MAX_LOGPROBS = 5
CHAT_MAX_TOP_LOGPROBS = 20
SCORING_TEMPERATURE = 1.0


def import_mlc() -> Any:
    try:
        return import_module("mlc_llm")
    except ImportError as exc:
        raise RunnerError(f"the mlc runner needs MLC LLM, whose wheels are not on PyPI: {INSTALL} "
                          "(pick the -cu122 / -rocm / -metal / -vulkan builds for a GPU)") from exc


def mlc_letter_request(prompt: str, letter_ids: Sequence[int] | None, chat: bool, seed: int) -> dict[str, Any]:
    """Keyword arguments for MLCEngine's completions.create (or chat.completions.create with chat)."""
    top_n = CHAT_MAX_TOP_LOGPROBS if chat else COMPLETION_MAX_LOGPROBS
    return letter_request(prompt, top_n, letter_ids, chat=chat, temperature=SCORING_TEMPERATURE, seed=seed)


def mlc_letter_scores(response: Any, continuations: Sequence[str]) -> tuple[LetterScores, int, int]:
    """Letter scores and (prompt, evaluated) tokens from MLC's response object (or its dict)."""
    data = response.model_dump() if hasattr(response, "model_dump") else response
    return (parse_letters(data, continuations), *token_counts(data))


class MLCRunner:
    questions_per_call = 1

    def __init__(self, model: str | Path, model_lib: str | None = None, device: str = "auto", chat: bool = False,
                 seed: int = 0):
        mlc_llm = import_mlc()
        if str(model).endswith(".gguf"):
            raise RunnerError(f"--runner mlc needs an MLC-compiled model (a folder, its mlc-chat-config.json, or "
                              f"HF://mlc-ai/...), not the GGUF file {model}")
        try:
            self.engine = mlc_llm.MLCEngine(str(model), device=device, model_lib=model_lib, mode="local")
        except Exception as exc:  # MLC raises ValueError, FileNotFoundError, TVM errors
            raise RunnerError(f"MLC could not load {model}: {type(exc).__name__}: {exc}") from exc
        self.chat, self.seed = chat, seed
        self._letter_ids: dict[tuple[str, ...], list[int] | None] = {}
        self.info = RunnerInfo(
            name="mlc", backend_version=f"mlc-llm {getattr(mlc_llm, '__version__', '?')}",
            settings={"model_lib": model_lib, "device": device, "chat": chat,
                      "top_logprobs": CHAT_MAX_TOP_LOGPROBS if chat else COMPLETION_MAX_LOGPROBS,
                      "logit_bias": "not used yet", "letters_floored": 0, "letters_whitespace_matched": 0},
        )

    def _ids_for(self, continuations: tuple[str, ...]) -> list[int] | None:
        if continuations not in self._letter_ids:
            encode = self.engine.tokenizer.encode
            ids = letter_token_ids([encode(c) for c in continuations], encode(""))
            self._letter_ids[continuations] = ids
            self.info.settings["logit_bias"] = (
                "+100 on the letters: logprobs are normalised over the letters" if ids else
                "none: a letter is not one token")
        return self._letter_ids[continuations]

    def _create(self, kwargs: dict[str, Any]) -> Any:
        api = self.engine.chat.completions if self.chat else self.engine.completions
        return api.create(**kwargs)

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        out = []
        for req in requests:
            kwargs = mlc_letter_request(req.prompt, self._ids_for(tuple(req.continuations)), self.chat, self.seed)
            t0 = time.perf_counter()
            response = self._create(kwargs)
            latency = time.perf_counter() - t0
            scores, prompt, evaluated = mlc_letter_scores(response, req.continuations)
            self.info.settings["letters_floored"] += scores.floored
            self.info.settings["letters_whitespace_matched"] += scores.whitespace_matched
            out.append(ChoiceResponse(scores.logprobs, prompt, evaluated, latency))
        return out

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResponse]:
        out = []
        for req in requests:
            kwargs: dict[str, Any] = {"max_tokens": req.max_tokens, "temperature": 0.0, "seed": self.seed,
                                      "stream": True, "stream_options": {"include_usage": True}}
            kwargs.update({"messages": [{"role": "user", "content": req.prompt}]} if self.chat else {"prompt": req.prompt})
            t0 = time.perf_counter()
            parts, ttft, last = [], None, {}
            for chunk in self._create(kwargs):
                data = chunk.model_dump() if hasattr(chunk, "model_dump") else chunk
                if text := reply_text(data):
                    ttft = ttft or time.perf_counter() - t0
                    parts.append(text)
                if data.get("usage"):
                    last = data
            latency = time.perf_counter() - t0
            prompt, evaluated = token_counts(last)
            generated = int((last.get("usage") or {}).get("completion_tokens") or len(parts))
            out.append(GenerateResponse(text="".join(parts), prompt_tokens=prompt,
                                        evaluated_tokens=evaluated + max(generated - 1, 0),
                                        generated_tokens=generated, latency_s=latency, ttft_s=ttft or latency))
        return out

    def close(self) -> None:
        engine, self.engine = getattr(self, "engine", None), None
        if engine is not None:
            engine.terminate()
