"""In-process llama.cpp through llama-cpp-python.

Work saved: each prompt is tokenized whole, then only the tokens after the longest common prefix
with what is already in the KV cache are evaluated. The orderings of one question share the
instruction and question; consecutive questions share the instruction header. Tokenizing whole
prompts (not pieces) keeps the token ids exactly those of scoring each prompt from scratch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.text.runners.continuations import single_token_ids
from mobeval.text.runners.llamacpp_build import check_build
from mobeval.text.runners.llamacpp_params import open_llama
from mobeval.text.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo


def _common_prefix(a: np.ndarray, b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.nonzero(a[:n] != np.asarray(b[:n], dtype=a.dtype))[0]
    return int(diff[0]) if len(diff) else n


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    m = x.max()
    return x - (m + np.log(np.exp(x - m).sum()))


class LlamaCppRunner:
    questions_per_call = 1
    def __init__(
        self,
        model_path: Path,
        n_threads: int | None = None,
        n_ctx: int = 2048,
        n_batch: int = 512,
        chat: bool = False,
        seed: int = 0,
    ):
        try:
            import llama_cpp
        except ImportError as exc:
            raise RunnerError(
                "the llama.cpp runner needs llama-cpp-python: pip install llama-cpp-python"
            ) from exc
        self._llama_cpp = llama_cpp
        n_threads = n_threads or os.cpu_count() or 1
        # before the model loads in this process: a build that dies on this CPU must not take us with it
        self.build = check_build(Path(model_path), n_threads)
        try:
            self.llm = open_llama(
                model_path, use_extra_bufts=self.build.use_extra_bufts, n_ctx=n_ctx, n_batch=n_batch,
                n_threads=n_threads, n_threads_batch=n_threads, logits_all=False, seed=seed,
            )
        except Exception as exc:  # llama-cpp-python raises ValueError for an unloadable file
            raise RunnerError(f"llama.cpp could not load {model_path}: {exc}") from exc
        self.chat = chat
        self._formatter = self._chat_formatter() if chat else None
        self.info = RunnerInfo(
            name="llama.cpp",
            backend_version=f"llama-cpp-python {llama_cpp.__version__}",
            settings={"n_threads": n_threads, "n_ctx": n_ctx, "n_batch": n_batch, "chat": chat,
                      **({} if self.build.use_extra_bufts else {"extra_bufts": "off"})},
            notes=() if self.build.note is None else (self.build.note,),
        )

    # -- prompts -----------------------------------------------------------------------------
    def _chat_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise RunnerError("--chat: this GGUF carries no chat template (tokenizer.chat_template)")
        vocab = self.llm
        return Jinja2ChatFormatter(
            template=template,
            eos_token=vocab.detokenize([vocab.token_eos()], special=True).decode("utf-8", "replace"),
            bos_token=vocab.detokenize([vocab.token_bos()], special=True).decode("utf-8", "replace"),
        )

    def _tokenize(self, prompt: str) -> list[int]:
        if self._formatter is None:
            return self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        result = self._formatter(messages=[{"role": "user", "content": prompt}])
        return self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def _continuation_ids(self, prompt: str, tokens: list[int], continuations: Sequence[str]) -> list[int]:
        piece = None if self._formatter is None else (
            lambda c: self.llm.tokenize(c.encode("utf-8"), add_bos=False, special=False))
        return single_token_ids(prompt, tokens, continuations, self._tokenize, piece)

    # -- evaluation ----------------------------------------------------------------------------
    def _eval_prompt(self, tokens: list[int]) -> int:
        """Bring the KV cache to exactly `tokens`; return how many tokens were evaluated."""
        # llama.cpp may give a larger context than asked (it rounds small ones up), but llama-cpp-python's
        # token buffer holds only what was asked: the smaller of the two is the limit
        limit = min(self.llm.n_ctx(), len(self.llm.input_ids))
        if len(tokens) > limit:
            raise RunnerError(f"prompt of {len(tokens)} tokens exceeds n_ctx={limit}: raise --n-ctx")
        keep = _common_prefix(self.llm.input_ids[: self.llm.n_tokens], tokens)
        keep = min(keep, len(tokens) - 1)  # the last token must run to produce logits
        self.llm.n_tokens = keep  # eval() drops the KV cells past n_tokens before decoding
        self.llm.eval(tokens[keep:])
        return len(tokens) - keep

    def _last_logits(self) -> np.ndarray:
        ptr = self.llm._ctx.get_logits()
        return np.ctypeslib.as_array(ptr, shape=(self.llm.n_vocab(),))

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        out = []
        for req in requests:
            t0 = time.perf_counter()
            tokens = self._tokenize(req.prompt)
            ids = self._continuation_ids(req.prompt, tokens, req.continuations)
            evaluated = self._eval_prompt(tokens)
            logprobs = _log_softmax(self._last_logits())
            out.append(
                ChoiceResponse(
                    logprobs=tuple(float(logprobs[i]) for i in ids),
                    prompt_tokens=len(tokens),
                    evaluated_tokens=evaluated,
                    latency_s=time.perf_counter() - t0,
                )
            )
        return out

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResponse]:
        out = []
        for req in requests:
            t0 = time.perf_counter()
            tokens = self._tokenize(req.prompt)
            evaluated = self._eval_prompt(tokens)
            new: list[int] = []
            ttft = 0.0
            for i in range(req.max_tokens):
                token = int(np.argmax(self._last_logits()))
                if not new:
                    ttft = time.perf_counter() - t0
                if self._llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token):
                    break
                new.append(token)
                if i + 1 < req.max_tokens:  # the last token's logits are never read
                    self.llm.eval([token])
                    evaluated += 1
            text = self.llm.detokenize(new, prev_tokens=tokens).decode("utf-8", "replace")
            out.append(
                GenerateResponse(
                    text=text, prompt_tokens=len(tokens), evaluated_tokens=evaluated,
                    generated_tokens=len(new), latency_s=time.perf_counter() - t0, ttft_s=ttft,
                )
            )
        return out

    # -- raw engine speed (mobeval perf) ------------------------------------------------------
    # llama.cpp books a decode's time into its counters at the next synchronize, so synchronize
    # before resetting them and before reading them.
    def _perf(self):
        self._llama_cpp.llama_synchronize(self.llm._ctx.ctx)
        return self._llama_cpp.llama_perf_context(self.llm._ctx.ctx)

    def _fresh(self) -> None:
        self.llm.n_tokens = 0  # the next eval() drops every KV cell first
        self._llama_cpp.llama_synchronize(self.llm._ctx.ctx)
        self._llama_cpp.llama_perf_context_reset(self.llm._ctx.ctx)

    def time_prompt(self, tokens: list[int]) -> tuple[float, float]:
        """Evaluate `tokens` from an empty cache, as one prompt; (wall seconds, llama.cpp's own
        decode seconds). The logits of the last position are read, as scoring does."""
        self._fresh()
        t0 = time.perf_counter()
        self.llm.eval(tokens)
        self._last_logits().argmax()
        wall = time.perf_counter() - t0
        return wall, self._engine_seconds()

    def _engine_seconds(self) -> float:
        # This llama.cpp books every decode outside its own sampler, single tokens included, as
        # prompt eval; the sum covers both counters whatever the version does.
        perf = self._perf()
        return (perf.t_p_eval_ms + perf.t_eval_ms) / 1000

    def time_generate(self, tokens: list[int]) -> tuple[float, float]:
        """Decode `tokens` one at a time from an empty cache (llama-bench's tg test); (wall seconds,
        llama.cpp's own decode seconds)."""
        self._fresh()
        t0 = time.perf_counter()
        for t in tokens:
            self.llm.eval([t])
        wall = time.perf_counter() - t0
        return wall, self._engine_seconds()

    def kv_cache_bytes(self) -> int:
        """KV cache allocated for n_ctx, from the model's shape: 2 (K, V) x n_ctx x layers x KV heads
        x head size x 2 bytes (llama.cpp's default f16 cache)."""
        m = self.llm._model.model
        lc = self._llama_cpp
        head_dim = lc.llama_model_n_embd(m) // lc.llama_model_n_head(m)
        return 2 * self.llm.n_ctx() * lc.llama_model_n_layer(m) * lc.llama_model_n_head_kv(m) * head_dim * 2

    @property
    def n_vocab(self) -> int:
        return self.llm.n_vocab()

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            llm.close()
