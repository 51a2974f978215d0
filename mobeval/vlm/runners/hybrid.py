"""The `hybrid` runner: AutoNeural's deployment split on this machine, each part timed on its own.

- encoder: an ONNX file on an ONNX Runtime execution provider (`provider`, default cpu); float, or an
  integer-quantized (QDQ) copy, whose SQNR against the float encoder is recorded where its manifest says it;
- projector: appended to the encoder's ONNX graph and run in the same ONNX Runtime session
  (mobeval.vlm.runners.projector);
- language model: a GGUF in llama.cpp, fed the projected image embeddings directly as embedding batches
  between the prompt's token batches (mobeval.vlm.runners.llama_embd), KV cache cleared per query.

Per query: the candidates' log-probabilities as the first answer token come from the logits after the
prompt; the answer text is greedy, up to `max_tokens` tokens or the end of turn. Timings (wall clock,
perf_counter, around each part): preprocess (decode, resize, normalise), encode (ONNX Runtime + projector),
prefill (every prompt batch through llama_decode until the last position's logits are read), TTFT (from
the start of preprocessing to the first answer token chosen: tokenizing the text is in TTFT only), decode
(after the first token to the last). `last_engine` holds llama.cpp's own timers and ONNX Runtime's bare
run time of the same query, for the overhead check (bench/vlm_hybrid_overhead.py).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.vlm.models.manifest import VlmModelRef, resolve
from mobeval.text.runners.llamacpp_openmp import openmp_release_available, release_openmp_threads
from mobeval.vlm.runners import projector as projector_io
from mobeval.vlm.runners.base import VlmAnswer, VlmInfo, VlmQuery, VlmTimings
from mobeval.vlm.runners.greedy import CandidateIds, answer_from
from mobeval.vlm.runners.image_encoder import OrtEncoder
from mobeval.vlm.runners.llama_embd import LlamaEmbdLM
from mobeval.vlm.runners.prompt_layout import CHATML_USER, layout
from mobeval.vision.task.preprocess import PreprocessSpec

CONTEXT = 1024  # positions: one question with its images (4 per digits-vlm image) is far shorter


@dataclass(frozen=True)
class EngineTimes:
    """The same query's parts as the runtimes' own timers saw them (ms)."""

    encoder_run_ms: float  # ONNX Runtime session.run alone
    prefill_ms: float  # llama.cpp prompt eval + eval during the prefill
    decode_ms: float  # llama.cpp's time for the tokens after the first
    prefill_positions: int
    decode_positions: int


def _is_qdq(path: Path) -> bool:
    """Whether an ONNX file holds integer-quantized (QDQ or QOperator) nodes."""
    try:
        import onnx
    except ImportError:
        return False
    graph = onnx.load(str(path), load_external_data=False).graph
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul") for n in graph.node)


class HybridRunner:
    def __init__(self, model: VlmModelRef | str, provider: str = "cpu", threads: int | None = None,
                 n_batch: int = 512):
        ref = model if isinstance(model, VlmModelRef) else resolve(str(model))
        self.ref = ref
        self.projector = projector_io.load(ref.files["projector"])
        meta = self.projector.meta
        try:
            preprocess = PreprocessSpec(**meta["preprocess"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunnerError(f"{ref.files['projector']}: its meta gives no usable preprocessing ({exc})") from exc
        try:
            self.encoder = OrtEncoder(ref.files["encoder"], preprocess, provider=provider, threads=threads,
                                      head=self.projector)
        except RunnerError as exc:
            raise RunnerError(f"{exc} (projector: {ref.files['projector']})") from exc
        self.lm = LlamaEmbdLM(ref.files["lm"], threads=threads, n_ctx=CONTEXT, n_batch=n_batch,
                              lora=ref.files.get("lora"))
        if self.lm.n_embd != self.projector.n_embd:
            self.lm.close()
            raise RunnerError(
                f"the projector {ref.files['projector']} gives width {self.projector.n_embd} but the language model "
                f"{ref.files['lm']} takes {self.lm.n_embd}: parts of different models"
            )
        self.prefix = meta.get("prefix", CHATML_USER[0])
        self.suffix = meta.get("suffix", CHATML_USER[1])
        self._candidates = CandidateIds(self.lm)
        self.last_engine: EngineTimes | None = None
        quantized = _is_qdq(ref.files["encoder"])
        notes = [
            ("timings: wall clock around each part in this process; llama.cpp's and ONNX Runtime's own timers of "
             "the same parts are in bench/vlm_hybrid_overhead.py"),
            "decode_tokens counts the end-of-turn token when the model generates one (it is not in the text)",
        ]
        if openmp_release_available():
            notes.append("llama.cpp's idle OpenMP threads are ended after each answer (omp_pause_resource_all), so they "
                         "do not spin on the cores the next image's encode needs")
        if self.encoder.providers_used[0] != self.encoder.provider:
            notes.append(f"encoder ran on {self.encoder.providers_used[0]}, not {self.encoder.provider}")
        if meta.get("lm_sha256") and meta["lm_sha256"] != ref.part_sha256.get("lm"):
            notes.append(f"the projector was trained against the language model with sha256 {meta['lm_sha256']}; "
                         f"this one is {ref.part_sha256.get('lm')}")
        if quantized and ref.encoder_sqnr_db is None:
            notes.append("the encoder is integer-quantized but its manifest gives no SQNR (encoder_sqnr_db)")
        self.info = VlmInfo(
            name="hybrid",
            backend_version=f"onnxruntime {self.encoder.version}; llama-cpp-python {self.lm.version}",
            model_files={part: str(path) for part, path in ref.files.items()},
            settings={
                "provider": provider, "threads": self.lm.threads, "n_ctx": self.lm.n_ctx, "n_batch": n_batch,
                "encoder_provider": self.encoder.providers_used[0], "encoder_quantized": quantized,
                "encoder_sqnr_db": ref.encoder_sqnr_db, "image_tokens_per_image": self.encoder.tokens,
                "preprocess_sha256": preprocess.sha256(),
                **({} if self.lm.build.use_extra_bufts else {"extra_bufts": "off"}),
            },
            notes=notes + ([] if self.lm.build.note is None else [self.lm.build.note]),
        )

    def answer(self, query: VlmQuery) -> VlmAnswer:
        if not query.images:
            raise RunnerError(f"item {query.item_id}: the hybrid runner needs at least one image")
        cand_ids = self._candidates(query.candidates) if query.candidates else []
        self.lm.reset()
        t0 = time.perf_counter()
        pixels = self.encoder.pixels(query.images)
        t1 = time.perf_counter()
        embeddings = self.encoder.encode(pixels)  # (images, tokens, n_embd): encoder and projector in one session
        ort_ms = self.encoder.last_run_ms
        t2 = time.perf_counter()
        lay = layout(query.prompt, len(query.images), self.lm.tokenize, self.encoder.tokens, self.prefix, self.suffix,
                     query.item_id)
        t3 = time.perf_counter()
        for k, run in enumerate(lay.runs):
            last = k == len(lay.runs) - 1
            if isinstance(run, int):
                self.lm.feed_embeddings(embeddings[run], logits_last=last)
            else:
                self.lm.feed_tokens(run, logits_last=last)
        logits = self.lm.last_logits()
        t4 = time.perf_counter()
        prefill_engine = self.lm.engine()
        gen = answer_from(self.lm, logits, cand_ids, query.max_tokens)
        t5, t6 = gen.first_token_at, gen.done_at
        total_engine = self.lm.engine()
        # outside every timed part: llama.cpp's idle OpenMP threads would spin on the cores the next encode needs
        release_openmp_threads()
        self.last_engine = EngineTimes(
            encoder_run_ms=ort_ms, prefill_ms=prefill_engine.ms, decode_ms=total_engine.ms - prefill_engine.ms,
            prefill_positions=prefill_engine.positions,
            decode_positions=total_engine.positions - prefill_engine.positions,
        )
        ms = lambda a, b: (b - a) * 1000
        timings = VlmTimings(
            preprocess_ms=ms(t0, t1), encode_ms=ms(t1, t2), prefill_ms=ms(t3, t4), ttft_ms=ms(t0, t5),
            decode_ms=ms(t5, t6), prompt_tokens=lay.total_tokens, image_tokens=lay.image_tokens,
            decode_tokens=gen.tokens,
        )
        return VlmAnswer(text=gen.text, timings=timings, candidate_logprobs=gen.candidate_logprobs)

    def image_features(self, images: tuple[Path, ...]) -> np.ndarray:
        """The encoder's image-token features (before the projector), (N, tokens, features)."""
        return self.encoder.image_features(self.encoder.pixels(images))

    @contextmanager
    def encoder_swapped(self, path: Path):
        """The same runner with another encoder file (e.g. a quantized encoder's float model) for a while."""
        kept = self.encoder
        self.encoder = OrtEncoder(path, kept.preprocess, provider=kept.provider, threads=self.lm.threads,
                                  head=self.projector)
        try:
            if (self.encoder.tokens, self.encoder.features) != (kept.tokens, kept.features):
                raise RunnerError(f"{path} gives {self.encoder.tokens}x{self.encoder.features} image features, "
                                  f"the runner's encoder {kept.tokens}x{kept.features}")
            yield self
        finally:
            self.encoder = kept

    def close(self) -> None:
        lm = getattr(self, "lm", None)
        if lm is not None:
            lm.close()
            self.lm = None

    def describe(self) -> dict[str, Any]:
        """What a result records of the model's parts (hashes, origins, the projector's training)."""
        return {"model": self.ref.alias, "sha256": self.ref.sha256, "parts_sha256": self.ref.part_sha256,
                "origins": self.ref.origins, "projector_meta": self.projector.meta}
