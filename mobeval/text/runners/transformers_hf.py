"""Hugging Face transformers on CPU (CUDA where present).

A GGUF file loads through transformers' `gguf_file=`, which dequantizes it to `torch_dtype`, so
`--runner transformers --model smollm2-135m` runs the llama.cpp runner's weights. Prompts are
tokenized whole with the tokenizer transformers builds from the file; whether BOS comes first is
what llama.cpp does with that file (see `llama_cpp_adds_bos`), so the token ids are llama.cpp's.

Scoring: a call's prompts are grouped (`group_requests`: a question's orderings arrive adjacent) and
the groups packed into blocks of about `batch_tokens` tokens (`mobeval.text.runners.packing`). A block runs as
one forward pass over one row, the prompts' token trie: every distinct prefix once, with a 4D mask and
positions that give each token what it would see alone. The KV of the header the block's prompts share
stays cached for the next block. Logits are read at each prompt's last token only.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import time
from importlib import import_module
from pathlib import Path
from typing import Any, Sequence

from mobeval.core.errors import RunnerError
from mobeval.text.runners.continuations import single_token_ids
from mobeval.text.runners.packing import common_prefix, group_requests, pack_blocks, plan_block
from mobeval.text.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo

INSTALL = "pip install 'mobeval[transformers]' (or: pip install torch==2.13.0 transformers gguf accelerate)"


def import_backend() -> tuple[Any, Any]:
    """torch and transformers, or a RunnerError naming the install line."""
    # torchao, which transformers imports where it is installed, registers enums in a way torch 2.13 warns
    # about on every import; a deprecation between those two, not something a run can act on
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    try:
        return import_module("torch"), import_module("transformers")
    except ImportError as exc:
        raise RunnerError(f"the transformers runner needs torch and transformers ({exc.name} is missing): "
                          f"{INSTALL}") from exc


def _model_source(model: str | Path) -> tuple[str, dict[str, str]]:
    """(folder or hub id, extra from_pretrained arguments) for a GGUF file, a folder or a hub id."""
    text = str(model)
    if text.endswith(".gguf"):
        path = Path(text)
        if not path.is_file():
            raise RunnerError(f"no GGUF file at {path}")
        return str(path.resolve().parent), {"gguf_file": path.name}
    return text, {}


def llama_cpp_adds_bos(gguf: Path) -> bool | None:
    """Whether llama.cpp puts BOS before a prompt of this GGUF (its add_bos_token, or llama.cpp's
    default for the vocabulary type); None where llama.cpp cannot read the file. Transformers'
    GGUF tokenizers disagree across versions (4.57 adds BOS to SmolLM2, 5.24 does not)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), params)
    if not model:
        return None
    try:
        return bool(llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(model)))
    finally:
        llama_cpp.llama_model_free(model)


def dequantized_folder(gguf: Path, torch_dtype: str) -> Path:
    """Where a GGUF's dequantized weights are kept: keyed by the file's sha256, the dtype and the
    transformers version that wrote them (a folder written by transformers 5 does not load in 4.57)."""
    import transformers

    from mobeval.core.hashing import file_sha256
    from mobeval.core.paths import cache_dir

    return cache_dir() / "dequantized" / f"{file_sha256(gguf)[:16]}-{torch_dtype}-transformers{transformers.__version__}"


def save_dequantized(model, tok, folder: Path) -> None:
    """Write model and tokenizer as a plain transformers folder, atomically (a killed write leaves no
    folder). Not `save_pretrained`: transformers refuses it for a GGUF-loaded model ("quantized with
    gguf"), though the weights it holds are plain tensors; the config is written without that mark."""
    import json
    import shutil
    import tempfile

    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        # transformers 4.57 loads only format "pt", and a tied lm_head only under the embedding's name
        save_file(_untied_state(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        model.generation_config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(folder)
    except (OSError, TypeError, ValueError):  # no space, another run got there first, an odd config
        shutil.rmtree(tmp, ignore_errors=True)


def _untied_state(model) -> dict:
    """The state dict with each shared tensor once (safetensors stores no aliases), under the name its
    first registered parameter has: for a tied lm_head, the input embedding's, which every transformers
    version ties from."""
    first = {p.data_ptr(): name for name, p in model.named_parameters()}  # named_parameters: first name wins
    state = {}
    for name, t in model.state_dict().items():
        if first.get(t.data_ptr(), name) == name:
            state[name] = t.contiguous()
    return state


def _crop(cache, keep: int) -> None:
    """Keep the first `keep` positions of a KV cache (a negative crop: what transformers 4.57 and 5 agree on)."""
    drop = cache.get_seq_length() - keep
    if drop > 0:
        cache.crop(-drop)


class TransformersRunner:
    """`cache_dequantized`: transformers dequantizes a GGUF in Python (about 30 s for SmolLM2-135M on
    2 cores); the result is kept as a transformers folder under the mobeval cache, keyed by the file's
    sha256 and dtype, and later runs load that (seconds). The token ids stay the GGUF's (BOS as
    llama.cpp puts it). Off: nothing is written."""

    def __init__(self, model_path: str | Path, n_threads: int | None = None, chat: bool = False, seed: int = 0,
                 torch_dtype: str = "float32", batch_tokens: int = 640, cache_dequantized: bool = True):
        torch, transformers = import_backend()
        self.torch = torch
        dtype = getattr(torch, torch_dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise RunnerError(f"torch_dtype {torch_dtype!r} is not a torch dtype (float32, bfloat16, float16)")
        if batch_tokens < 1:
            raise RunnerError("batch_tokens must be at least 1")
        if n_threads:
            torch.set_num_threads(n_threads)
        torch.manual_seed(seed)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        source, extra = _model_source(model_path)
        is_gguf = bool(extra)
        cached = dequantized_folder(Path(model_path), torch_dtype) if is_gguf and cache_dequantized else None
        loaded_from = "gguf (dequantized now)" if is_gguf else "folder or hub id"
        if cached is not None and cached.is_dir():
            source, extra, loaded_from = str(cached), {}, f"dequantized cache {cached}"
        try:  # transformers' GGUF loader draws its own tqdm bars: keep them off the run's terminal
            with contextlib.redirect_stderr(io.StringIO()):  # (llama.cpp's log goes through it too)
                self._add_bos = llama_cpp_adds_bos(Path(model_path)) if is_gguf else None
                self.tok = transformers.AutoTokenizer.from_pretrained(source, **extra)
                self.model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra)
        except Exception as exc:  # OSError (not found, offline), ImportError/ValueError (gguf, accelerate)
            raise RunnerError(f"transformers could not load {model_path}: {type(exc).__name__}: {exc} "
                              f"(GGUF files also need gguf and accelerate: {INSTALL})") from exc
        if cached is not None and extra:
            save_dequantized(self.model, self.tok, cached)
        self.model.to(self.device).eval()
        self.chat, self.batch_tokens = chat, batch_tokens
        self.max_group = 64  # prompts sharing one prefix in a block: all 24 orderings of 4 options fit
        self.questions_per_call = 8
        self._past = None  # (tokens, KV cache) of the last block's header
        self._attn = getattr(self.model.config, "_attn_implementation", None)
        self._window = getattr(self.model.config.get_text_config(), "sliding_window", None)
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5
        self._keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
        eos = self.model.generation_config.eos_token_id
        self._eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [self.tok.eos_token_id])
        if chat and not self.tok.chat_template:
            raise RunnerError(f"--chat: {model_path} carries no chat template")
        self.info = RunnerInfo(
            name="transformers",
            backend_version=f"transformers {transformers.__version__}, torch {torch.__version__}",
            settings={"torch_dtype": torch_dtype, "n_threads": torch.get_num_threads(), "batch_tokens": batch_tokens,
                      "device": self.device, "chat": chat, "gguf_dequantized": is_gguf, "loaded_from": loaded_from,
                      "add_bos": self._add_bos,
                      "attention": self._attn},
        )

    # -- prompts -----------------------------------------------------------------------------
    def _tokenize(self, prompt: str) -> list[int]:
        if not self.chat:
            if self._add_bos is None:  # not a GGUF: the tokenizer's own special tokens
                return self.tok(prompt)["input_ids"]
            ids = self.tok(prompt, add_special_tokens=False)["input_ids"]
            return [self.tok.bos_token_id] + ids if self._add_bos else ids
        text = self.tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                            add_generation_prompt=True)
        return self.tok(text, add_special_tokens=False)["input_ids"]  # the template holds its specials

    def _continuation_ids(self, prompt: str, tokens: list[int], continuations: Sequence[str]) -> list[int]:
        piece = (lambda c: self.tok(c, add_special_tokens=False)["input_ids"]) if self.chat else None
        return single_token_ids(prompt, tokens, continuations, self._tokenize, piece)

    # -- evaluation ----------------------------------------------------------------------------
    def _forward(self, input_ids, attention_mask=None, position_ids=None, cache=None, keep=1):
        """(float32 logits at the positions `keep` selects: the last `keep` or these indices, the KV cache
        holding this input after `cache`)."""
        kwargs = {"attention_mask": attention_mask, "position_ids": position_ids, self._cache_kw: cache,
                  "use_cache": True}
        if self._keep_kw:  # the lm_head where logits are read only, not on every token
            kwargs[self._keep_kw] = keep
        out = self.model(input_ids=input_ids, **kwargs)
        logits = out.logits if self._keep_kw else out.logits[:, -keep:] if isinstance(keep, int) else out.logits[:, keep]
        cache = getattr(out, "cache", None)
        return logits.float(), cache if cache is not None else out.past_key_values

    def _packable(self, seqs: Sequence[list[int]]) -> bool:
        """A packed row needs a 4D mask (eager or sdpa attention) and, for a model with a sliding window
        (Gemma), prompts inside the window: the one mask serves every layer."""
        return self._attn in ("sdpa", "eager") and (self._window is None or max(len(s) for s in seqs) <= self._window)

    def _reuse_header(self, header: list[int]) -> int:
        """Keep the KV cache's tokens shared with `header` (the last block's header, typically); return
        how many are kept."""
        if self._past is None:
            return 0
        tokens, cache = self._past
        keep = common_prefix([tokens, header])
        if keep == 0:
            self._past = None
        elif keep < len(tokens):
            _crop(cache, keep)
            self._past = (tokens[:keep], cache)
        return keep

    def _block_logprobs(self, seqs: Sequence[list[int]]):
        """Log-softmax at the last position of each sequence of a block (see mobeval.text.runners.packing): one
        forward pass over every token to run, no padding. Returns (B x vocab tensor, tokens run per
        sequence)."""
        torch, dev = self.torch, self.device
        if not self._packable(seqs):
            rows = [self._forward(torch.tensor([s], device=dev))[0][0] for s in seqs]
            return torch.log_softmax(torch.cat(rows).double(), dim=-1), [len(s) for s in seqs]
        block = plan_block(seqs)
        header = list(seqs[0][:block.header])
        cached = self._reuse_header(header)
        row = block.layout(cached)
        allowed = torch.from_numpy(row.allowed).to(dev)
        mask = torch.zeros(allowed.shape, dtype=self.model.dtype, device=dev)
        mask.masked_fill_(~allowed, torch.finfo(self.model.dtype).min)
        logits, cache = self._forward(torch.from_numpy(row.tokens)[None].to(dev), mask[None, None],
                                      torch.from_numpy(row.positions)[None].to(dev),
                                      self._past[1] if cached else None, torch.from_numpy(row.last).to(dev))
        self._past = None
        if header:
            try:  # keep the header's KV for the next block; a cache that cannot crop is dropped
                _crop(cache, len(header))
                self._past = (header, cache)
            except (AttributeError, NotImplementedError, ValueError):
                pass
        return torch.log_softmax(logits[0].double(), dim=-1), row.evaluated

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        """Per request: a block's forward time is shared equally among its requests (plus each one's
        own tokenizing); evaluated tokens count each shared prefix once, padding not at all."""
        out, prepared = [], []
        for req in requests:
            t0 = time.perf_counter()
            tokens = self._tokenize(req.prompt)
            prepared.append((tokens, self._continuation_ids(req.prompt, tokens, req.continuations),
                             time.perf_counter() - t0))
        seqs = [p[0] for p in prepared]
        with self.torch.inference_mode():
            for block in pack_blocks(seqs, group_requests(seqs, self.max_group), self.batch_tokens):
                t0 = time.perf_counter()
                first = block[0].start
                members = prepared[first:block[-1].stop]
                logprobs, run = self._block_logprobs([m[0] for m in members])
                rows = logprobs.cpu().numpy()
                share = (time.perf_counter() - t0) / len(members)
                for (tokens, ids, t_tok), row, n in zip(members, rows, run):
                    out.append(ChoiceResponse(logprobs=tuple(float(row[i]) for i in ids),
                                              prompt_tokens=len(tokens), evaluated_tokens=n,
                                              latency_s=t_tok + share))
        return out

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResponse]:
        """Greedy, one request at a time, decoding on the KV cache."""
        with self.torch.inference_mode():
            return [self._generate_one(req) for req in requests]

    def _generate_one(self, req: GenerateRequest) -> GenerateResponse:
        torch = self.torch
        t0 = time.perf_counter()
        tokens = self._tokenize(req.prompt)
        logits, cache = self._forward(torch.tensor([tokens], device=self.device))
        new: list[int] = []
        ttft, evaluated = 0.0, len(tokens)
        for i in range(req.max_tokens):
            token = int(logits[0].argmax())
            if not new:
                ttft = time.perf_counter() - t0
            if token in self._eos:
                break
            new.append(token)
            if i + 1 < req.max_tokens:  # the last token's logits are never read
                step = torch.tensor([[token]], device=self.device)
                logits, cache = self._forward(step, cache=cache)
                evaluated += 1
        # decode with the prompt before it, so a token's leading space or merged bytes come out right
        head = self.tok.decode(tokens)
        text = self.tok.decode(tokens + new)[len(head):] if new else ""
        return GenerateResponse(text=text, prompt_tokens=len(tokens), evaluated_tokens=evaluated,
                                generated_tokens=len(new), latency_s=time.perf_counter() - t0, ttft_s=ttft)

    def close(self) -> None:
        self.model = None
