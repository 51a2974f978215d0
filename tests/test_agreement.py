"""Agreement between runners on 50 bundled questions: same model, same questions, same prompt.

llama.cpp in process is the reference; llama-cpp-python's server through the openai runner and
transformers on the dequantized GGUF must choose the same option on at least 95% of the questions.
"""

import json

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.text.task.agreement import agreement
from mobeval.results.store import RunDir

ARGS = ["--limit", "50", "--orderings", "original", "-q"]


def run(tmp_path, name, *extra) -> RunDir:
    out = tmp_path / name
    res = CliRunner().invoke(app, ["run", *ARGS, "--output-dir", str(out), *extra])
    assert res.exit_code == 0, res.output
    (d,) = out.iterdir()
    return RunDir(d)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run(tmp_path_factory.mktemp("ref"), "llama.cpp")


def test_openai_server_agrees_with_in_process_llama_cpp(reference, smollm2_path, tmp_path):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from tests.llama_server import KEY, free_port, start_server, stop

    port = free_port()
    proc = start_server(smollm2_path, port, tmp_path / "server.log")
    try:
        remote = run(tmp_path, "openai", "--runner", "openai", "--endpoint", f"http://127.0.0.1:{port}/v1",
                     "--api-key", KEY, "--model", "smollm2-135m")
    finally:
        stop(proc)
    g = agreement(reference.samples(), remote.samples())
    assert g.shared_questions == 50
    assert g.same_choice >= 0.95
    assert g.max_logprob_gap < 1e-3  # the same kernels: the scores match to float noise
    floored = json.loads((remote.path / "result.json").read_text())["runner"]["settings"]["letters_floored"]
    assert floored == 0


def test_transformers_on_the_dequantized_gguf_agrees(reference, tmp_path):
    pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[transformers]'")
    pytest.importorskip("transformers", reason="transformers is not installed: pip install -e '.[transformers]'")
    hf = run(tmp_path, "transformers", "--runner", "transformers")
    g = agreement(reference.samples(), hf.samples())
    assert g.shared_questions == 50
    assert g.same_choice >= 0.95
    # float32 on the dequantized weights against llama.cpp's Q4_1 kernels: close, not identical
    assert g.max_logprob_gap < 0.75
