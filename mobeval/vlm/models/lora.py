"""LoRA on a llama-architecture language model: trained in torch (transformers' module names), shipped as a
llama.cpp LoRA adapter GGUF, merged into transformers weights from that same file.

The adapter file is the one source of truth: llama.cpp applies it at load (`lora_path`, both llama.cpp VLM
runners), and `merge_into` adds the same low-rank products to a transformers model (the LLaVA folder), so every
runner reads identical numbers.

GGUF layout (llama.cpp's `llama_adapter_lora_init`): general.type "adapter", adapter.type "lora",
adapter.lora.alpha; per adapted matrix `blk.N.<name>.weight.lora_a` of numpy shape (rank, in) and
`...lora_b` of shape (out, rank); llama.cpp scales B @ A by alpha / rank. llama.cpp stores the query and key
rows of each head interleaved for its RoPE (convert_hf_to_gguf's `permute`), so B of q and k is permuted the
same way on write and back on merge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# transformers' module (parent attribute, name) -> llama.cpp's tensor name in block N
TARGETS = {
    ("self_attn", "q_proj"): "attn_q",
    ("self_attn", "k_proj"): "attn_k",
    ("self_attn", "v_proj"): "attn_v",
    ("self_attn", "o_proj"): "attn_output",
    ("mlp", "gate_proj"): "ffn_gate",
    ("mlp", "up_proj"): "ffn_up",
    ("mlp", "down_proj"): "ffn_down",
}


class _Cls:  # the torch module class, built lazily (torch is optional)
    lora = None


def _lora_class():
    import torch

    if _Cls.lora is None:
        class LoRALinear(torch.nn.Module):
            """base(x) + (x A^T B^T) * alpha / rank; B starts at zero, so training starts from the base model."""

            def __init__(self, base: torch.nn.Linear, rank: int, alpha: float, generator) -> None:
                super().__init__()
                self.base = base
                self.rank, self.alpha = rank, alpha
                self.lora_a = torch.nn.Parameter(
                    torch.randn(rank, base.in_features, generator=generator) / base.in_features ** 0.5)
                self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

            def forward(self, x):
                return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * (self.alpha / self.rank)

        _Cls.lora = LoRALinear
    return _Cls.lora


def attach(lm, rank: int, alpha: float, seed: int, last: int | None = None,
           names: tuple[str, ...] = ("q", "k", "v", "o", "gate", "up", "down")) -> list:
    """Wrap the named TARGETS linears ("q" for q_proj, ...) of the last `last` layers (None: all) of a
    transformers llama model; returns the new parameters."""
    import torch

    cls = _lora_class()
    g = torch.Generator().manual_seed(seed)
    params = []
    layers = lm.model.layers
    for layer in layers[len(layers) - (last or len(layers)):]:
        for (parent, name) in TARGETS:
            if name.removesuffix("_proj") not in names:
                continue
            holder = getattr(layer, parent)
            wrapped = cls(getattr(holder, name), rank, alpha, g)
            setattr(holder, name, wrapped)
            params += [wrapped.lora_a, wrapped.lora_b]
    return params


def adapter_arrays(lm) -> dict[str, np.ndarray]:
    """The attached adapters as float32 arrays under llama.cpp's names (B of q/k still in transformers' order)."""
    out = {}
    for il, layer in enumerate(lm.model.layers):
        for (parent, name), gname in TARGETS.items():
            mod = getattr(getattr(layer, parent), name)
            if not hasattr(mod, "lora_a"):
                continue
            out[f"blk.{il}.{gname}.weight.lora_a"] = mod.lora_a.detach().float().numpy()
            out[f"blk.{il}.{gname}.weight.lora_b"] = mod.lora_b.detach().float().numpy()
    return out


def rope_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf's permutation of a q/k matrix's rows (per head: halves interleaved)."""
    return rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def rope_unpermute(rows: np.ndarray, n_head: int) -> np.ndarray:
    return rows.reshape(n_head, rows.shape[0] // n_head // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _heads(name: str, n_head: int, n_head_kv: int) -> int | None:
    return n_head if ".attn_q." in name else n_head_kv if ".attn_k." in name else None


def write_gguf(path: Path, arrays: dict[str, np.ndarray], alpha: float, n_head: int, n_head_kv: int,
               name: str, dtype=np.float16) -> Path:
    """The adapter as llama.cpp reads it (architecture "llama"); matrices stored in `dtype`."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    w.add_name(name)
    for tname, a in arrays.items():
        heads = _heads(tname, n_head, n_head_kv)
        if heads and tname.endswith(".lora_b"):
            a = rope_permute(a, heads)
        w.add_tensor(tname, np.ascontiguousarray(a.astype(dtype)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def read_gguf(path: Path, n_head: int, n_head_kv: int) -> tuple[float, dict[str, np.ndarray]]:
    """(alpha, arrays in transformers' row order) from an adapter GGUF written by `write_gguf`."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    field = reader.get_field(gguf.Keys.Adapter.LORA_ALPHA)
    if field is None:
        raise ValueError(f"{path}: not a LoRA adapter GGUF (no {gguf.Keys.Adapter.LORA_ALPHA})")
    alpha = float(field.parts[field.data[0]][0])
    arrays = {}
    for t in reader.tensors:
        a = np.asarray(t.data, dtype=np.float32).reshape([int(n) for n in reversed(t.shape)])
        heads = _heads(t.name, n_head, n_head_kv)
        arrays[t.name] = rope_unpermute(a, heads) if heads and t.name.endswith(".lora_b") else a
    return alpha, arrays


def merge_into(text_model, path: Path) -> int:
    """Add the adapter's scaled B @ A to a transformers llama model's (LlamaModel or ...ForCausalLM) weights
    in place; returns the number of matrices changed."""
    import torch

    cfg = text_model.config
    alpha, arrays = read_gguf(path, cfg.num_attention_heads, cfg.num_key_value_heads)
    layers = text_model.layers if hasattr(text_model, "layers") else text_model.model.layers
    changed = 0
    with torch.no_grad():
        for il, layer in enumerate(layers):
            for (parent, name), gname in TARGETS.items():
                key = f"blk.{il}.{gname}.weight"
                if key + ".lora_a" not in arrays:
                    continue
                a, b = arrays[key + ".lora_a"], arrays[key + ".lora_b"]
                lin = getattr(getattr(layer, parent), name)
                lin.weight += torch.from_numpy((b @ a) * (alpha / a.shape[0])).to(lin.weight.dtype)
                changed += 1
    return changed
