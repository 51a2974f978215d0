"""Hugging Face transformers on CPU (CUDA where present).

A GGUF file loads through transformers' `gguf_file=`, which dequantizes it to `torch_dtype`, so
`--runner transformers --model smollm2-135m` runs the llama.cpp runner's weights. Prompts are
tokenized whole with the tokenizer transformers builds from the file; whether BOS comes first is
what llama.cpp does with that file (see `llama_cpp_adds_bos`), so the token ids are llama.cpp's.

Scoring: consecutive requests are grouped (`group_requests`: a question's orderings arrive adjacent);
a group's shared token prefix runs once into a KV cache, which is repeated over the group's rows, and
the suffixes run as one left-padded batch with an attention mask and explicit positions. Logits are
read at the last position only.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import time
from importlib import import_module
from pathlib import Path
from typing import Any, Sequence

from mobeval.errors import RunnerError
from mobeval.runners.continuations import single_token_ids
from mobeval.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo

INSTALL = "pip install 'mobeval[transformers]' (or: pip install torch==2.13.0 transformers gguf accelerate)"


def import_backend() -> tuple[Any, Any]:
    """torch and transformers, or a RunnerError naming the install line."""
    try:
        return import_module("torch"), import_module("transformers")
    except ImportError as exc:
        raise RunnerError(f"the transformers runner needs torch and transformers ({exc.name} is missing): "
                          f"{INSTALL}") from exc


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all sequences share."""
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = seqs[0][i]
        if any(s[i] != t for s in seqs[1:]):
            return i
    return n


def group_requests(seqs: Sequence[Sequence[int]], max_size: int) -> list[range]:
    """Consecutive runs of sequences scored together around one shared prefix.

    n sequences sharing a prefix of P tokens run (n-1)*P tokens fewer than alone; a sequence joins a
    group of g (prefix P, left with P' once it joins) when the larger group saves more: g*P' > (g-1)*P.
    So one question's orderings group together, and consecutive questions join only where their
    common part (a long few-shot header) outweighs their questions.
    """
    groups: list[range] = []
    start, prefix = 0, 0
    for j in range(1, len(seqs)):
        size = j - start
        shared = common_prefix([seqs[start][:prefix] if size > 1 else seqs[start], seqs[j]])
        if size < max_size and shared > 0 and size * shared > (size - 1) * prefix:
            prefix = shared
        else:
            groups.append(range(start, j))
            start, prefix = j, 0
    if seqs:
        groups.append(range(start, len(seqs)))
    return groups


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
    """Where a GGUF's dequantized weights are kept: keyed by the file's sha256 and the dtype."""
    from mobeval.hashing import file_sha256
    from mobeval.models.registry import cache_dir

    return cache_dir() / "dequantized" / f"{file_sha256(gguf)[:16]}-{torch_dtype}"


def save_dequantized(model, tok, folder: Path) -> None:
    """Write model and tokenizer as a plain transformers folder, atomically (a killed write leaves no
    folder). Not `save_pretrained`: transformers refuses it for a GGUF-loaded model ("quantized with
    gguf"), though the weights it holds are plain tensors; the config is written without that mark."""
    import json
    import shutil
    import tempfile

    from safetensors.torch import save_model

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        save_model(model, str(tmp / "model.safetensors"))  # handles the tied embedding / lm_head
        model.generation_config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(folder)
    except (OSError, TypeError, ValueError):  # no space, another run got there first, an odd config
        shutil.rmtree(tmp, ignore_errors=True)


class TransformersRunner:
    """`cache_dequantized`: transformers dequantizes a GGUF in Python (about 30 s for SmolLM2-135M on
    2 cores); the result is kept as a transformers folder under the mobeval cache, keyed by the file's
    sha256 and dtype, and later runs load that (seconds). The token ids stay the GGUF's (BOS as
    llama.cpp puts it). Off: nothing is written."""

    def __init__(self, model_path: str | Path, n_threads: int | None = None, chat: bool = False, seed: int = 0,
                 torch_dtype: str = "float32", batch_size: int = 8, cache_dequantized: bool = True):
        torch, transformers = import_backend()
        self.torch = torch
        dtype = getattr(torch, torch_dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise RunnerError(f"torch_dtype {torch_dtype!r} is not a torch dtype (float32, bfloat16, float16)")
        if batch_size < 1:
            raise RunnerError("batch_size must be at least 1")
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
        self.chat, self.batch_size = chat, batch_size
        self.questions_per_call = max(1, batch_size // 4)  # four orderings a question, typically
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5
        self._keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
        self._pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id or 0
        eos = self.model.generation_config.eos_token_id
        self._eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [self.tok.eos_token_id])
        if chat and not self.tok.chat_template:
            raise RunnerError(f"--chat: {model_path} carries no chat template")
        self.info = RunnerInfo(
            name="transformers",
            backend_version=f"transformers {transformers.__version__}, torch {torch.__version__}",
            settings={"torch_dtype": torch_dtype, "n_threads": torch.get_num_threads(), "batch_size": batch_size,
                      "device": self.device, "chat": chat, "gguf_dequantized": is_gguf, "loaded_from": loaded_from,
                      "add_bos": self._add_bos,
                      "attention": getattr(self.model.config, "_attn_implementation", None)},
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
    def _forward(self, input_ids, attention_mask=None, position_ids=None, cache=None):
        """(float32 logits of the last position, the KV cache holding this input after `cache`)."""
        kwargs = {"attention_mask": attention_mask, "position_ids": position_ids, self._cache_kw: cache,
                  "use_cache": True}
        if self._keep_kw:  # the lm_head on the last position only, not on every token
            kwargs[self._keep_kw] = 1
        out = self.model(input_ids=input_ids, **kwargs)
        cache = getattr(out, "cache", None)
        return out.logits[:, -1, :].float(), cache if cache is not None else out.past_key_values

    def _last_logprobs(self, seqs: Sequence[list[int]]):
        """Log-softmax at the last position of each sequence: the shared prefix once, then the
        suffixes as one left-padded batch. Returns (B x vocab tensor, tokens run per sequence)."""
        torch = self.torch
        prefix = min(common_prefix(seqs), min(len(s) for s in seqs) - 1)  # every suffix keeps a token
        cache = None
        if prefix > 0:
            ids = torch.tensor([seqs[0][:prefix]], device=self.device)
            _, cache = self._forward(ids)
            cache.batch_repeat_interleave(len(seqs))
        suffixes = [s[prefix:] for s in seqs]
        width = max(len(s) for s in suffixes)
        ids = torch.tensor([[self._pad_id] * (width - len(s)) + s for s in suffixes], device=self.device)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in suffixes], device=self.device)
        positions = prefix + (mask.cumsum(1) - 1).clamp(min=0)
        full_mask = torch.cat([torch.ones(len(seqs), prefix, dtype=mask.dtype, device=self.device), mask], 1)
        logits, _ = self._forward(ids, full_mask, positions, cache)
        run = [len(s) for s in suffixes]
        run[0] += prefix
        return torch.log_softmax(logits.double(), dim=-1), run

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        """Per request: a group's forward time is shared equally among its requests (plus each one's
        own tokenizing); evaluated tokens count the shared prefix once, padding not at all."""
        out, prepared = [], []
        for req in requests:
            t0 = time.perf_counter()
            tokens = self._tokenize(req.prompt)
            prepared.append((tokens, self._continuation_ids(req.prompt, tokens, req.continuations),
                             time.perf_counter() - t0))
        with self.torch.inference_mode():
            for group in group_requests([p[0] for p in prepared], self.batch_size):
                t0 = time.perf_counter()
                members = [prepared[i] for i in group]
                logprobs, run = self._last_logprobs([m[0] for m in members])
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
