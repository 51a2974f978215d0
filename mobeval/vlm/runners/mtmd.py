"""The `llama.cpp-mtmd` runner: llama.cpp's own multimodal path (libmtmd), a text GGUF + its mmproj GGUF.

Per query: each image file is decoded into a bitmap (`mtmd_helper_bitmap_init_from_file`), the prompt
(the user turn of the model's chat template, or the manifest's "prefix"/"suffix", around the query text
with llama.cpp's media marker where the images go) is split into text and image chunks by
`mtmd_tokenize`, which also resizes and normalises the images as the mmproj says. Text chunks are decoded
as token batches; each image chunk is encoded by the vision tower + projector (`mtmd_encode_chunk`, the
figure llama.cpp prints to stderr as "image encoded in N ms", here recorded per query) and its embeddings
decoded by `mtmd_helper_decode_image_chunk` (which handles M-RoPE positions and non-causal image attention
where the model needs them). The answer loop is the hybrid runner's (mobeval.vlm.runners.greedy).

Timings (wall clock, perf_counter): preprocess = image decode + mtmd_tokenize; encode = mtmd_encode_chunk;
prefill = every prompt chunk through llama_decode up to the last position's logits; TTFT from the start of
preprocessing to the first answer token; decode after it. Token counts are libmtmd's
(`mtmd_input_chunk_get_n_tokens`), image tokens included.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.vlm.models.manifest import MTMD_PARTS, VlmModelRef, resolve
from mobeval.vlm.runners.base import (
    IMAGE_MARKER,
    VlmAnswer,
    VlmInfo,
    VlmQuery,
    VlmTimings,
)
from mobeval.vlm.runners.chat_template import user_turn
from mobeval.vlm.runners.greedy import CandidateIds, answer_from
from mobeval.vlm.runners.llama_embd import LlamaEmbdLM

CONTEXT = 4096  # positions; real VLMs spend hundreds to thousands of tokens on one image
_LOG_SINK: list = []  # the ctypes log callback must outlive every call into the libraries


def quiet_logs(mtmd) -> None:
    """Drop llama.cpp's and libmtmd's log lines (clip.cpp prints every encode, mtmd every prompt)."""
    import llama_cpp

    if not _LOG_SINK:
        _LOG_SINK.append(llama_cpp.llama_log_callback(lambda level, text, user_data: None))
        llama_cpp.llama_log_set(_LOG_SINK[0], None)
        mtmd.mtmd_log_set(_LOG_SINK[0], None)
        mtmd.mtmd_helper_log_set(_LOG_SINK[0], None)


class MtmdRunner:
    def __init__(self, model: VlmModelRef | str, threads: int | None = None, n_ctx: int = CONTEXT,
                 n_batch: int = 512):
        ref = model if isinstance(model, VlmModelRef) else resolve(str(model), MTMD_PARTS)
        self.ref = ref
        self.lm = LlamaEmbdLM(ref.files["lm"], threads=threads, n_ctx=n_ctx, n_batch=n_batch,
                              lora=ref.files.get("lora"))
        try:
            import llama_cpp.mtmd_cpp as mtmd
        except (ImportError, OSError) as exc:
            self.lm.close()
            raise RunnerError(f"this llama-cpp-python has no libmtmd ({exc}); llama.cpp-mtmd needs "
                              "llama-cpp-python==0.3.36 built with its multimodal library") from exc
        self.mtmd = mtmd
        quiet_logs(mtmd)
        self._no_callback = mtmd.mtmd_helper_post_decode_callback()  # NULL: no per-batch callback
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = self.lm.threads
        # the vision tower attends as the language model's context does (libmtmd's default is "auto", which
        # turns flash attention on here and moves the image embeddings; llama.cpp's own servers pass the LM's)
        params.flash_attn_type = self.lm.llm.context_params.flash_attn_type
        self.ctx = mtmd.mtmd_init_from_file(str(ref.files["mmproj"]).encode(), self.lm.llm._model.model, params)
        if not self.ctx:
            self.lm.close()
            raise RunnerError(f"libmtmd could not load the mmproj {ref.files['mmproj']} with the language model "
                              f"{ref.files['lm']} (a projector for another model, or a newer projector type than "
                              f"this llama.cpp knows)")
        if not mtmd.mtmd_support_vision(self.ctx):
            self.close()
            raise RunnerError(f"{ref.files['mmproj']} has no vision encoder (an audio-only projector?)")
        self.marker = mtmd.mtmd_default_marker().decode()
        meta = self.lm.llm.metadata
        if isinstance(ref.extra.get("prefix"), str) and isinstance(ref.extra.get("suffix"), str):
            self.prefix, self.suffix, turn = ref.extra["prefix"], ref.extra["suffix"], "the manifest's prefix/suffix"
        else:
            bos = self.lm.detokenize([self.lm.llm.token_bos()]) if self.lm.llm.token_bos() >= 0 else ""
            eos = self.lm.detokenize([self.lm.llm.token_eos()]) if self.lm.llm.token_eos() >= 0 else ""
            self.prefix, self.suffix = user_turn(meta.get("tokenizer.chat_template"), bos, eos, str(ref.files["lm"]))
            turn = "the GGUF's chat template"
        self._candidates = CandidateIds(self.lm)
        self.info = VlmInfo(
            name="llama.cpp-mtmd",
            backend_version=f"llama-cpp-python {self.lm.version} (libmtmd)",
            model_files={part: str(path) for part, path in ref.files.items()},
            settings={"threads": self.lm.threads, "n_ctx": self.lm.n_ctx, "n_batch": n_batch, "chat_turn": turn,
                      "flash_attn_type": int(params.flash_attn_type),
                      "media_marker": self.marker,
                      **({} if self.lm.build.use_extra_bufts else {"extra_bufts": "off"})},
            notes=["timings: wall clock around each part in this process; encode is mtmd_encode_chunk (vision "
                   "tower + projector), the figure llama.cpp prints to stderr",
                   "decode_tokens counts the end-of-turn token when the model generates one (it is not in the text)"]
                  + ([] if self.lm.build.note is None else [self.lm.build.note]),
        )

    # -- one query ---------------------------------------------------------------------------------
    def _bitmaps(self, query: VlmQuery) -> list:
        out = []
        for path in query.images:
            bitmap = self.mtmd.mtmd_helper_bitmap_init_from_file(self.ctx, str(path).encode(), False)
            if not bitmap:
                for b in out:
                    self.mtmd.mtmd_bitmap_free(b)
                raise RunnerError(f"item {query.item_id}: libmtmd could not decode the image {path}")
            out.append(bitmap)
        return out

    def _tokenize(self, query: VlmQuery, bitmaps: list):
        markers = query.prompt.count(IMAGE_MARKER)
        if markers != len(bitmaps):
            raise RunnerError(f"item {query.item_id}: the prompt has {markers} {IMAGE_MARKER} marker(s) for "
                              f"{len(bitmaps)} image(s)")
        text = (self.prefix + query.prompt.replace(IMAGE_MARKER, self.marker) + self.suffix).encode("utf-8")
        inp = self.mtmd.mtmd_input_text()
        inp.text, inp.text_len, inp.add_special, inp.parse_special = text, len(text), True, True
        chunks = self.mtmd.mtmd_input_chunks_init()
        array = (self.mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
        rc = self.mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(inp), array, len(bitmaps))
        if rc != 0:
            self.mtmd.mtmd_input_chunks_free(chunks)
            raise RunnerError(f"item {query.item_id}: mtmd_tokenize failed (code {rc}: 1 = markers and images "
                              "differ in number, 2 = image preprocessing failed)")
        return chunks

    @contextmanager
    def _chunks(self, query: VlmQuery) -> Iterator:
        """The query's images decoded and its prompt tokenized into libmtmd input chunks, freed on exit."""
        bitmaps = self._bitmaps(query)
        try:
            chunks = self._tokenize(query, bitmaps)
        finally:
            for b in bitmaps:
                self.mtmd.mtmd_bitmap_free(b)
        try:
            yield chunks
        finally:
            self.mtmd.mtmd_input_chunks_free(chunks)

    def _text_tokens(self, chunk) -> list[int]:
        n = ctypes.c_size_t()
        ptr = self.mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
        return [int(ptr[j]) for j in range(n.value)]

    def answer(self, query: VlmQuery) -> VlmAnswer:
        if not query.images:
            raise RunnerError(f"item {query.item_id}: the llama.cpp-mtmd runner needs at least one image")
        cand_ids = self._candidates(query.candidates) if query.candidates else []
        self.lm.reset()
        t0 = time.perf_counter()
        with self._chunks(query) as chunks:
            t1 = time.perf_counter()
            encode_s, image_tokens, total_tokens = self._prefill(query, chunks)
        logits = self.lm.last_logits()
        t2 = time.perf_counter()
        gen = answer_from(self.lm, logits, cand_ids, query.max_tokens)
        ms = lambda a, b: (b - a) * 1000
        timings = VlmTimings(
            preprocess_ms=ms(t0, t1), encode_ms=encode_s * 1000, prefill_ms=ms(t1, t2) - encode_s * 1000,
            ttft_ms=ms(t0, gen.first_token_at), decode_ms=ms(gen.first_token_at, gen.done_at),
            prompt_tokens=total_tokens, image_tokens=image_tokens, decode_tokens=gen.tokens,
        )
        return VlmAnswer(text=gen.text, timings=timings, candidate_logprobs=gen.candidate_logprobs)

    def _prefill(self, query: VlmQuery, chunks) -> tuple[float, int, int]:
        """Every chunk into the context; (seconds encoding, image tokens, all tokens)."""
        m = self.mtmd
        n = m.mtmd_input_chunks_size(chunks)
        encode_s, image_tokens, total = 0.0, 0, 0
        for i in range(n):
            chunk = m.mtmd_input_chunks_get(chunks, i)
            last = i == n - 1
            if m.mtmd_input_chunk_get_type(chunk) == m.MTMD_INPUT_CHUNK_TYPE_TEXT:
                tokens = self._text_tokens(chunk)
                total += len(tokens)
                self.lm.feed_tokens(tokens, logits_last=last)
                continue
            if last:
                raise RunnerError(f"item {query.item_id}: the prompt ends in an image; the chat turn must follow it")
            n_tokens = int(m.mtmd_input_chunk_get_n_tokens(chunk))
            if self.lm.pos + n_tokens > self.lm.n_ctx:
                raise RunnerError(f"item {query.item_id}: {self.lm.pos + n_tokens}+ positions exceed the context "
                                  f"of {self.lm.n_ctx} (raise --n-ctx)")
            t = time.perf_counter()
            rc = m.mtmd_encode_chunk(self.ctx, chunk)
            encode_s += time.perf_counter() - t
            if rc != 0:
                raise RunnerError(f"item {query.item_id}: libmtmd failed to encode image chunk {i} (code {rc})")
            embd = m.mtmd_get_output_embd(self.ctx)
            new_pos = ctypes.c_int32(0)
            rc = m.mtmd_helper_decode_image_chunk(self.ctx, self.lm.ctx, chunk, embd, self.lm.pos, 0,
                                                  self.lm.n_batch, ctypes.byref(new_pos), self._no_callback, None)
            if rc != 0:
                raise RunnerError(f"item {query.item_id}: llama_decode of image chunk {i} failed (code {rc})")
            self.lm.pos = int(new_pos.value)
            image_tokens += n_tokens
            total += n_tokens
        return encode_s, image_tokens, total

    def image_embeddings(self, image) -> np.ndarray:
        """libmtmd's embeddings of one image file, (tokens, n_embd): for checks against another runtime."""
        q = VlmQuery(item_id="embeddings", images=(image,), prompt=IMAGE_MARKER + " ")
        m = self.mtmd
        with self._chunks(q) as chunks:
            for i in range(m.mtmd_input_chunks_size(chunks)):
                chunk = m.mtmd_input_chunks_get(chunks, i)
                if m.mtmd_input_chunk_get_type(chunk) != m.MTMD_INPUT_CHUNK_TYPE_TEXT:
                    n = int(m.mtmd_input_chunk_get_n_tokens(chunk))
                    if m.mtmd_encode_chunk(self.ctx, chunk) != 0:
                        raise RunnerError(f"libmtmd failed to encode {image}")
                    ptr = m.mtmd_get_output_embd(self.ctx)
                    return np.ctypeslib.as_array(ptr, shape=(n * self.lm.n_embd,)).reshape(n, self.lm.n_embd).copy()
        raise RunnerError(f"libmtmd made no image chunk of {image}")

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self.mtmd.mtmd_free(self.ctx)
            self.ctx = None
        lm = getattr(self, "lm", None)
        if lm is not None:
            lm.close()
            self.lm = None

