"""The digits-clip mmproj and its text GGUF in libmtmd, driven as the llama.cpp-mtmd runner drives them: for the
training script's evaluation (scripts/train_digits_clip_vlm.py) and the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mobeval.core.errors import ModelNotAvailable
from mobeval.vlm.runners.llama_embd import LlamaEmbdLM
from mobeval.vlm.runners.mtmd import quiet_logs


class MtmdProbe:
    """The mmproj + the text GGUF in libmtmd, as a runner drives them: embeddings of one image and the
    greedy answer to a ChatML user turn with one image (for the training script's evaluation and tests)."""

    def __init__(self, mmproj: Path, lm_gguf: Path, threads: int = 1, lora: Path | None = None):
        import ctypes

        import llama_cpp.mtmd_cpp as mtmd

        self.ctypes, self.m = ctypes, mtmd
        quiet_logs(mtmd)
        self.lm = LlamaEmbdLM(lm_gguf, threads=threads, n_ctx=512, n_batch=512, lora=lora)
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = threads
        params.warmup = False
        self.ctx = mtmd.mtmd_init_from_file(str(mmproj).encode(), self.lm.llm._model.model, params)
        if not self.ctx:
            self.lm.close()
            raise ModelNotAvailable(f"libmtmd could not load {mmproj} with {lm_gguf}")
        self.marker = mtmd.mtmd_default_marker().decode()

    def _chunks(self, text: str, image):
        """mtmd_tokenize of `text` (the marker where the image goes) with one RGB bitmap."""
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        h, w = rgb.shape[:2]
        buf = (self.ctypes.c_uint8 * rgb.size).from_buffer_copy(rgb.tobytes())
        bitmap = self.m.mtmd_bitmap_init(w, h, buf)
        data = text.encode("utf-8")
        inp = self.m.mtmd_input_text()
        inp.text, inp.text_len, inp.add_special, inp.parse_special = data, len(data), True, True
        chunks = self.m.mtmd_input_chunks_init()
        arr = (self.m.mtmd_bitmap_p_ctypes * 1)(bitmap)
        rc = self.m.mtmd_tokenize(self.ctx, chunks, self.ctypes.byref(inp), arr, 1)
        self.m.mtmd_bitmap_free(bitmap)
        if rc != 0:
            self.m.mtmd_input_chunks_free(chunks)
            raise ModelNotAvailable(f"mtmd_tokenize failed (code {rc})")
        return chunks

    def layout(self, text: str, image) -> list[list[int] | int]:
        """The chunks as runs: text token ids, or the image chunk's token count."""
        chunks = self._chunks(text, image)
        try:
            return [self._text_tokens(c) if self._is_text(c) else int(self.m.mtmd_input_chunk_get_n_tokens(c))
                    for c in self._iter(chunks)]
        finally:
            self.m.mtmd_input_chunks_free(chunks)

    def _iter(self, chunks):
        return [self.m.mtmd_input_chunks_get(chunks, i) for i in range(self.m.mtmd_input_chunks_size(chunks))]

    def _is_text(self, chunk) -> bool:
        return self.m.mtmd_input_chunk_get_type(chunk) == self.m.MTMD_INPUT_CHUNK_TYPE_TEXT

    def _text_tokens(self, chunk) -> list[int]:
        n = self.ctypes.c_size_t()
        ptr = self.m.mtmd_input_chunk_get_tokens_text(chunk, self.ctypes.byref(n))
        return [int(ptr[j]) for j in range(n.value)]

    def _encode(self, chunk) -> np.ndarray:
        n = int(self.m.mtmd_input_chunk_get_n_tokens(chunk))
        if self.m.mtmd_encode_chunk(self.ctx, chunk) != 0:
            raise ModelNotAvailable("mtmd_encode_chunk failed")
        ptr = self.m.mtmd_get_output_embd(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n * self.lm.n_embd,)).reshape(n, self.lm.n_embd).copy()

    def image_embeddings(self, image) -> np.ndarray:
        chunks = self._chunks(self.marker, image)
        try:
            return next(self._encode(c) for c in self._iter(chunks) if not self._is_text(c))
        finally:
            self.m.mtmd_input_chunks_free(chunks)

    def logits(self, text: str, image) -> np.ndarray:
        """The last position's logits after the whole prompt (text chunks as tokens, the image chunk as its
        embeddings at the next positions); the context then holds the prompt for `greedy`."""
        self.lm.reset()
        chunks = self._chunks(text, image)
        try:
            items = self._iter(chunks)
            for i, c in enumerate(items):
                last = i == len(items) - 1
                if self._is_text(c):
                    self.lm.feed_tokens(self._text_tokens(c), logits_last=last)
                else:
                    self.lm.feed_embeddings(self._encode(c), logits_last=last)
        finally:
            self.m.mtmd_input_chunks_free(chunks)
        return self.lm.last_logits()

    def greedy(self, logits: np.ndarray, max_tokens: int) -> str:
        tokens = [int(np.argmax(logits))]
        while len(tokens) < max_tokens and not self.lm.is_eog(tokens[-1]):
            self.lm.feed_tokens([tokens[-1]], logits_last=True)
            tokens.append(int(np.argmax(self.lm.last_logits())))
        return self.lm.detokenize([t for t in tokens if not self.lm.is_eog(t)])

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self.m.mtmd_free(self.ctx)
            self.ctx = None
        self.lm.close()
