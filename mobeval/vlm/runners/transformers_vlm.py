"""The `transformers` runner asked image questions: any image-text-to-text model transformers loads
(`AutoProcessor` + `AutoModelForImageTextToText`: LLaVA, SmolVLM/Idefics3, LFM2-VL, Qwen2.5-VL, ...),
from a folder or a hub id, on the CPU (CUDA where present).

Per query: the images are opened with PIL, the query's text (image markers replaced by the processor's
image entries) goes through the processor's chat template, and `generate` runs greedily with the first
step's logits kept (the candidates' log-probabilities) and a streamer marking the first answer token.
The vision tower and the projector are timed by forward hooks on the model's own modules, so the encode
is measured inside the same forward pass that uses it; prefill is the time to the first token less the
encode. Token counts are the processor's: prompt length, and the image token's occurrences in it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import RunnerError
from mobeval.vlm.models.manifest import VlmModelRef, folder_ref
from mobeval.text.runners.transformers_hf import import_backend
from mobeval.vlm.runners.base import (
    IMAGE_MARKER,
    VlmAnswer,
    VlmInfo,
    VlmQuery,
    VlmTimings,
)

VISION_MODULES = ("vision_tower", "visual", "vision_model")  # the first of these found is the encoder
PROJECTOR_MODULES = ("multi_modal_projector", "connector", "mm_projector", "merger")


def _shallowest(model, names: tuple[str, ...]):
    found = [(n.count("."), n, m) for n, m in model.named_modules() if n.rsplit(".", 1)[-1] in names]
    return min(found, key=lambda f: f[0])[1:] if found else (None, None)


class _Stopwatch:
    """Seconds spent inside some modules' forward passes (pre/post hooks), outermost calls only."""

    def __init__(self, modules: list):
        self.total, self._depth, self._t = 0.0, 0, 0.0
        self.handles = [h for m in modules for h in (m.register_forward_pre_hook(self._enter),
                                                      m.register_forward_hook(self._leave))]

    def _enter(self, *_: Any) -> None:
        if self._depth == 0:
            self._t = time.perf_counter()
        self._depth += 1

    def _leave(self, *_: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.total += time.perf_counter() - self._t


class _FirstToken:
    """A generate() streamer that notes when the first generated token arrives (the prompt comes first)."""

    def __init__(self):
        self.calls, self.at = 0, None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.at is None:
            self.at = time.perf_counter()

    def end(self) -> None:
        pass


class TransformersVlmRunner:
    def __init__(self, model: VlmModelRef | str, threads: int | None = None, torch_dtype: str = "float32"):
        torch, transformers = import_backend()
        ref = model if isinstance(model, VlmModelRef) else folder_ref(str(model))
        self.ref, self.torch = ref, torch
        if threads:
            torch.set_num_threads(threads)
        where = ref.location or ref.alias
        local = Path(where).is_dir()
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(where, local_files_only=local)
            self.model = transformers.AutoModelForImageTextToText.from_pretrained(
                where, dtype=getattr(torch, torch_dtype), local_files_only=local).eval()
        except (OSError, ValueError) as exc:
            reach = "" if local else " (a hub id needs the network, or the model in the Hugging Face cache)"
            if "torchaudio" in str(exc):  # transformers' processors import torchaudio where it is installed
                reach = (" (torchaudio is installed but its native library does not load with this torch; it comes "
                         "with torchsig: pip uninstall torchaudio, or keep TorchSig in its own environment)")
            raise RunnerError(f"transformers could not load the image-text-to-text model {where}{reach}: "
                              f"{str(exc).splitlines()[0]}") from exc
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        tok = getattr(self.processor, "tokenizer", None)
        if tok is None:
            raise RunnerError(f"{where}: its processor has no tokenizer")
        self.tokenizer = tok
        self.image_token_id = getattr(self.processor, "image_token_id", None) or getattr(
            self.model.config, "image_token_id", getattr(self.model.config, "image_token_index", None))
        vname, vision = _shallowest(self.model, VISION_MODULES)
        pname, projector = _shallowest(self.model, PROJECTOR_MODULES)
        self.encode_clock = _Stopwatch([m for m in (vision, projector) if m is not None]) if vision else None
        self._cand: dict[tuple[str, ...], list[int]] = {}
        self.info = VlmInfo(
            name="transformers",
            backend_version=f"transformers {transformers.__version__}; torch {torch.__version__}",
            model_files={k: str(v) for k, v in ref.files.items()} if local else {"hub": where},
            settings={"threads": torch.get_num_threads(), "torch_dtype": torch_dtype, "device": self.device,
                      "architecture": type(self.model).__name__, "encoder_modules": [n for n in (vname, pname) if n]},
            notes=["encode: the vision tower and projector forward passes (hooks), inside the prefill's pass; "
                   "prefill = time to the first token - preprocessing - encode",
                   "decode_tokens counts the end-of-turn token when the model generates one (it is not in the text)"]
                  + ([] if vision else ["no vision module found by name: encode is not measured (None)"]),
        )

    def _candidate_ids(self, candidates: tuple[str, ...]) -> list[int]:
        if candidates not in self._cand:
            ids = [self.tokenizer.encode(c, add_special_tokens=False) for c in candidates]
            if any(not i for i in ids) or len({i[0] for i in ids}) != len(ids):
                raise RunnerError(f"candidates {candidates} do not all begin with different tokens")
            self._cand[candidates] = [i[0] for i in ids]
        return self._cand[candidates]

    def _messages(self, query: VlmQuery) -> list[dict]:
        pieces = query.prompt.split(IMAGE_MARKER)
        if len(pieces) - 1 != len(query.images):
            raise RunnerError(f"item {query.item_id}: the prompt has {len(pieces) - 1} {IMAGE_MARKER} marker(s) "
                              f"for {len(query.images)} image(s)")
        content: list[dict] = []
        for i, text in enumerate(pieces):
            if text.strip("\n"):
                content.append({"type": "text", "text": text.strip("\n")})
            if i < len(query.images):
                content.append({"type": "image"})
        return [{"role": "user", "content": content}]

    def answer(self, query: VlmQuery) -> VlmAnswer:
        from PIL import Image

        torch = self.torch
        cand_ids = self._candidate_ids(query.candidates) if query.candidates else []
        t0 = time.perf_counter()
        images = []
        for p in query.images:
            try:
                with Image.open(p) as im:
                    images.append(im.convert("RGB"))
            except OSError as exc:
                raise RunnerError(f"item {query.item_id}: cannot open the image {p}: {exc}") from exc
        text = self.processor.apply_chat_template(self._messages(query), add_generation_prompt=True)
        inputs = self.processor(text=[text], images=images, return_tensors="pt").to(self.device)
        t1 = time.perf_counter()
        ids = inputs["input_ids"][0]
        image_tokens = int((ids == self.image_token_id).sum()) if self.image_token_id is not None else None
        streamer = _FirstToken()
        if self.encode_clock:
            self.encode_clock.total = 0.0
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max(query.max_tokens, 1), do_sample=False,
                                      output_logits=True, return_dict_in_generate=True, streamer=streamer)
        t3 = time.perf_counter()
        first = streamer.at or t3
        new = out.sequences[0, ids.shape[0]:].tolist()
        eos = set(np.atleast_1d(self.model.generation_config.eos_token_id or []).tolist())
        text_ids = [t for t in new if t not in eos]
        cand = None
        if cand_ids:
            logprobs = torch.log_softmax(out.logits[0][0].float(), dim=-1)
            cand = tuple(float(logprobs[i]) for i in cand_ids)
        encode_ms = None if self.encode_clock is None else self.encode_clock.total * 1000
        ms = lambda a, b: (b - a) * 1000
        return VlmAnswer(
            text=self.tokenizer.decode(text_ids, skip_special_tokens=True),
            timings=VlmTimings(
                preprocess_ms=ms(t0, t1), encode_ms=encode_ms,
                prefill_ms=ms(t1, first) - (encode_ms or 0.0), ttft_ms=ms(t0, first), decode_ms=ms(first, t3),
                prompt_tokens=int(ids.shape[0]), image_tokens=image_tokens, decode_tokens=len(new),
            ),
            candidate_logprobs=cand,
        )

    def close(self) -> None:
        if getattr(self, "encode_clock", None):
            for h in self.encode_clock.handles:
                h.remove()
        self.model = None
