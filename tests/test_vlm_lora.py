"""digits-clip's stage-2 LoRA adapter (mobeval/vlm/models/lora.py): one GGUF file that llama.cpp applies at load and
transformers merges, so both runtimes compute the same tuned language model. Real file, real runtimes."""

from __future__ import annotations

import numpy as np
import pytest

from mobeval.vlm.models import lora as L


def test_rope_permutation_round_trips_and_matches_llama_cpps_layout():
    rows = np.arange(576 * 3, dtype=np.float32).reshape(576, 3)
    for heads in (9, 3):
        assert np.array_equal(L.rope_unpermute(L.rope_permute(rows, heads), heads), rows)
    # per head: the first and second halves interleaved (row 0, row 32, row 1, row 33, ... of a 64-row head)
    head = np.arange(64, dtype=np.float32)[:, None]
    assert L.rope_permute(head, 1)[:4, 0].tolist() == [0, 32, 1, 33]


def test_adapter_gguf_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for il in range(2):
        for gname, (out, inp) in {"attn_q": (576, 576), "attn_k": (192, 576), "ffn_down": (576, 1536)}.items():
            arrays[f"blk.{il}.{gname}.weight.lora_a"] = rng.standard_normal((8, inp)).astype(np.float32)
            arrays[f"blk.{il}.{gname}.weight.lora_b"] = rng.standard_normal((out, 8)).astype(np.float32)
    path = L.write_gguf(tmp_path / "a.gguf", arrays, 16.0, 9, 3, "test", dtype=np.float32)
    alpha, back = L.read_gguf(path, 9, 3)
    assert alpha == 16.0 and back.keys() == arrays.keys()
    for k in arrays:
        assert np.array_equal(back[k], arrays[k]), k


def test_read_refuses_a_model_that_is_not_an_adapter(tmp_path):
    import gguf

    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_tensor("x", np.zeros(4, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ValueError, match="not a LoRA adapter"):
        L.read_gguf(tmp_path / "m.gguf", 9, 3)


@pytest.fixture(scope="module")
def shipped():
    pytest.importorskip("transformers")
    pytest.importorskip("llama_cpp")
    from mobeval.text.models.registry import resolve
    from mobeval.vlm.models.llava import load_manifest

    files = load_manifest("digits-clip")
    assert files.lora is not None and files.lora.is_file()
    return files, resolve(files.lm_alias, fetch=False)[1]


def test_llama_cpp_with_the_adapter_matches_transformers_with_it_merged(shipped):
    """The same text prompt's next-token logits: llama.cpp (Q4_1 + the adapter at load) against transformers (the
    Q4_1 weights dequantized + the adapter merged). They agree where the adapter matters: a q/k permutation error
    or a wrong scale moves them apart (the adapter changes the logits far more than the runtimes differ)."""
    import llama_cpp
    import torch

    from mobeval.text.runners.llamacpp_params import open_guarded
    from mobeval.vlm.models.stage1 import load_lm, mcq_prompt
    from mobeval.vlm.runners.base import IMAGE_MARKER
    from mobeval.vlm.runners.prompt_layout import CHATML_USER

    files, gguf = shipped
    text = CHATML_USER[0] + mcq_prompt([3, 7, 1, 0]).replace(IMAGE_MARKER, "7") + CHATML_USER[1]

    def llama_logits(lora):
        llm = open_guarded(str(gguf), n_threads=2, n_ctx=256, **({"lora_path": str(lora)} if lora else {}))
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        llm.eval(ids)
        out = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                    shape=(llm.n_vocab(),)).astype(np.float64)
        llm.close()
        return ids, out

    ids, base = llama_logits(None)
    _, tuned = llama_logits(files.lora)
    lm = load_lm(gguf)
    assert L.merge_into(lm, files.lora) == 30 * len(L.TARGETS)
    with torch.no_grad():
        merged = lm(torch.tensor([ids])).logits[0, -1].double().numpy()
    runtimes = np.abs(tuned - merged).max()
    adapter = np.abs(tuned - base).max()
    assert runtimes < 0.25 * adapter, (runtimes, adapter)
    assert int(np.argmax(tuned)) == int(np.argmax(merged))
    top = np.argsort(-merged)[:20]
    assert np.corrcoef(tuned[top], merged[top])[0, 1] > 0.98
