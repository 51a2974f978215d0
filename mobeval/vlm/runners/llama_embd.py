"""A GGUF language model in llama.cpp fed a prompt of token runs and embedding runs (llama-cpp-python's low-level API).

Text runs go in as token batches; image runs as embedding batches (`llama_batch_init(n, n_embd, 1)` with
`batch.embd` filled), so the projector's vectors take the place of token embeddings, as llama.cpp's own
multimodal path does. Every query starts from an empty KV cache (`llama_memory_clear`). Only the prompt's
last position asks for logits.

llama.cpp's own timers (`llama_perf_context`: prompt eval and eval ms) are read around the prefill and the
decode, so a caller can set the wall time it measures beside the engine's.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.text.runners.llamacpp_build import check_build
from mobeval.text.runners.llamacpp_params import open_llama


@dataclass(frozen=True)
class EngineMs:
    """llama.cpp's own compute time (prompt eval + eval ms) and the positions it counted."""

    ms: float
    positions: int


class LlamaEmbdLM:
    def __init__(self, path: Path, threads: int | None = None, n_ctx: int = 512, n_batch: int = 512,
                 lora: Path | None = None):
        try:
            import llama_cpp
        except ImportError as exc:
            raise RunnerError("the hybrid runner's language model needs llama-cpp-python: pip install "
                              "llama-cpp-python==0.3.36") from exc
        self.lib = llama_cpp
        self.threads = threads or os.cpu_count() or 1
        self.build = check_build(Path(path), self.threads)
        try:
            self.llm = open_llama(path, use_extra_bufts=self.build.use_extra_bufts, n_ctx=n_ctx, n_batch=n_batch,
                                  n_ubatch=n_batch, n_threads=self.threads, n_threads_batch=self.threads,
                                  logits_all=False, **({"lora_path": str(lora)} if lora else {}))
        except Exception as exc:  # llama-cpp-python raises ValueError for an unloadable file
            with_lora = f" with the LoRA adapter {lora}" if lora else ""
            raise RunnerError(f"llama.cpp could not load {path}{with_lora}: {exc}") from exc
        self.ctx = self.llm._ctx.ctx
        self.vocab = self.llm._model.vocab
        self.n_embd = int(llama_cpp.llama_model_n_embd(self.llm._model.model))
        self.n_vocab = self.llm.n_vocab()
        self.n_ctx = self.llm.n_ctx()
        self.n_batch = n_batch
        self._tokens = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._embd = llama_cpp.llama_batch_init(n_batch, self.n_embd, 1)
        self.pos = 0
        self.version = llama_cpp.__version__

    # -- text ------------------------------------------------------------------------------------
    def tokenize(self, text: str, first: bool) -> list[int]:
        """Special tokens parsed (the chat markers); `first`: the model's BOS, where it wants one."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=first, special=True)

    def piece_ids(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.llm.detokenize(list(tokens)).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    # -- evaluation ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty KV cache, position 0, llama.cpp's timers at zero."""
        self.lib.llama_synchronize(self.ctx)
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx), True)
        self.lib.llama_perf_context_reset(self.ctx)
        self.pos = 0

    def _check_room(self, n: int) -> None:
        if self.pos + n > self.n_ctx:
            raise RunnerError(f"prompt of {self.pos + n}+ positions exceeds the context of {self.n_ctx}")

    def feed_tokens(self, tokens: Sequence[int], logits_last: bool) -> None:
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start:start + self.n_batch]
            self._check_room(len(chunk))
            b = self._tokens
            b.n_tokens = len(chunk)
            for j, t in enumerate(chunk):
                b.token[j] = t
                b.pos[j] = self.pos + j
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = 0
                b.logits[j] = logits_last and start + j == len(tokens) - 1
            self._decode(b)
            self.pos += len(chunk)

    def feed_embeddings(self, embd: np.ndarray, logits_last: bool) -> None:
        """(n, n_embd) float32 vectors at the next n positions."""
        embd = np.ascontiguousarray(embd, dtype=np.float32)
        if embd.ndim != 2 or embd.shape[1] != self.n_embd:
            raise RunnerError(f"image embeddings of shape {embd.shape}; this language model takes width {self.n_embd}")
        for start in range(0, len(embd), self.n_batch):
            chunk = embd[start:start + self.n_batch]
            self._check_room(len(chunk))
            b = self._embd
            b.n_tokens = len(chunk)
            ctypes.memmove(b.embd, chunk.ctypes.data, chunk.nbytes)
            for j in range(len(chunk)):
                b.pos[j] = self.pos + j
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = 0
                b.logits[j] = logits_last and start + j == len(embd) - 1
            self._decode(b)
            self.pos += len(chunk)

    def _decode(self, batch) -> None:
        rc = self.lib.llama_decode(self.ctx, batch)
        if rc != 0:
            raise RunnerError(f"llama_decode failed (code {rc}) at position {self.pos}")

    def _logits_view(self) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx, -1)
        if not ptr:
            raise RunnerError("llama.cpp returned no logits for the prompt's last position")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def last_logits(self) -> np.ndarray:
        """The logits of the last position that asked for them (waits for the computation), a copy."""
        return self._logits_view().copy()

    def last_argmax(self) -> int:
        """The most likely next token after the last position, read in place (no copy of the logits: this is
        per generated token, inside the decode time compared with llama.cpp's own)."""
        return int(np.argmax(self._logits_view()))

    def engine(self) -> EngineMs:
        """llama.cpp's own decode time since the last reset (synchronized first: it books at sync)."""
        self.lib.llama_synchronize(self.ctx)
        p = self.lib.llama_perf_context(self.ctx)
        return EngineMs(ms=float(p.t_p_eval_ms + p.t_eval_ms), positions=int(p.n_p_eval + p.n_eval))

    def close(self) -> None:
        if getattr(self, "_tokens", None) is not None:
            self.lib.llama_batch_free(self._tokens)
            self.lib.llama_batch_free(self._embd)
            self._tokens = self._embd = None
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            llm.close()
