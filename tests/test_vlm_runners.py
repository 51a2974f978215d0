"""The llama.cpp-mtmd, openai (image parts) and transformers VLM runners, end to end on digits-clip: a toy VLM
this project trains and ships in llama.cpp's format (mmproj GGUF + the bundled SmolLM2 GGUF) and in
transformers' LLaVA format with the same weights (mobeval/vlm/models/llava.py), asked about held-out digits
(dataset index % 5 == 0, never trained on). Real libmtmd, a real llama-cpp-python server on loopback, real
transformers."""

from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("llama_cpp")

from mobeval.vlm.benchmarks.digits import OPEN_QUESTION, is_eval_index, render_digit  # noqa: E402
from mobeval.vlm.models.manifest import MTMD_PARTS, resolve  # noqa: E402
from mobeval.vlm.runners.base import IMAGE_MARKER, VlmQuery  # noqa: E402

DIGITS = tuple(str(d) for d in range(10))
N_IMAGES = 8


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pool = [i for i in range(len(digits.target)) if is_eval_index(i)]
    chosen = np.random.default_rng(1).choice(pool, N_IMAGES, replace=False)
    out = tmp_path_factory.mktemp("digits")
    items = []
    for i in chosen:
        path = out / f"digit-{i}.png"
        render_digit(digits.images[i]).save(path)
        items.append((path, int(digits.target[i])))
    return items


def ask(runner, path, item_id="q"):
    return runner.answer(VlmQuery(item_id, (path,), f"{IMAGE_MARKER}\n{OPEN_QUESTION}", DIGITS, max_tokens=3))


@pytest.fixture(scope="module")
def mtmd():
    from mobeval.vlm.runners.mtmd import MtmdRunner

    r = MtmdRunner(resolve("digits-clip", MTMD_PARTS), threads=2)
    yield r
    r.close()


@pytest.fixture(scope="module")
def mtmd_answers(mtmd, held_out):
    return [ask(mtmd, p, p.stem) for p, _ in held_out]


def test_mtmd_answers_held_out_digits_and_times_its_parts(mtmd, held_out, mtmd_answers):
    from mobeval.vlm.models.llava import load_manifest

    tokens = load_manifest("digits-clip").config.tokens  # (image size / patch)^2
    right = 0
    for (path, digit), a in zip(held_out, mtmd_answers):
        t = a.timings
        assert t.image_tokens == tokens and t.prompt_tokens > tokens
        assert t.encode_ms > 0 and t.prefill_ms > 0 and t.preprocess_ms > 0
        assert t.ttft_ms >= t.encode_ms + t.prefill_ms  # preprocessing, encode and prefill all come first
        assert len(a.candidate_logprobs) == 10 and all(lp <= 0 for lp in a.candidate_logprobs)
        right += int(np.argmax(a.candidate_logprobs)) == digit
    # the card: 47% on the 360 held-out images through libmtmd; chance is 1/10: P(>= 3 of 8 by chance) = 0.038
    assert right >= 3, f"{right}/{N_IMAGES} right"
    assert mtmd.info.name == "llama.cpp-mtmd" and mtmd.info.settings["media_marker"]


def test_a_missing_image_and_a_marker_mismatch_are_errors_naming_the_item(mtmd, held_out, tmp_path):
    from mobeval.core.errors import RunnerError

    with pytest.raises(RunnerError, match="item q1: libmtmd could not decode the image"):
        ask(mtmd, tmp_path / "absent.png", "q1")
    with pytest.raises(RunnerError, match=r"item q2: the prompt has 2 <image> marker\(s\) for 1 image"):
        mtmd.answer(VlmQuery("q2", (held_out[0][0],), f"{IMAGE_MARKER}{IMAGE_MARKER} which?", DIGITS))


def test_openai_runner_against_llama_cpp_server_with_the_mmproj(held_out, tmp_path):
    """llama-cpp-python's server with digits-clip's mmproj (its libmtmd chat handler). Its handler hands the
    chat template the message's content as a list of parts, which SmolLM2's own template cannot render: the
    server answers 200 and drops the stream, and the runner says so. With the GGUF's template replaced by one
    that renders parts (gguf's own metadata tool; the ChatML user turn digits-clip was trained with), the
    server's answers and letter log-probabilities are the in-process mtmd runner's."""
    import subprocess
    import sys

    from mobeval.core.errors import RunnerError
    from mobeval.text.runners.local_server import start_server
    from mobeval.vlm.models.llava import CHAT_TEMPLATE
    from mobeval.vlm.runners.openai_images import OpenAIVlmRunner

    from mobeval.vlm.runners.mtmd import MtmdRunner

    ref = resolve("digits-clip", MTMD_PARTS)
    local = MtmdRunner(ref, threads=1)  # the server's thread count: ggml's sums depend on it
    try:
        expected = [ask(local, p) for p, _ in held_out[:4]]
    finally:
        local.close()
    adapter = ("--lora_path", str(ref.files["lora"]))  # digits-clip's stage-2 LoRA, as the in-process runner loads it
    with start_server(ref.files["lm"], tmp_path / "stock.log", threads=1, mmproj=ref.files["mmproj"],
                      extra_args=adapter) as server:
        remote = OpenAIVlmRunner(None, server.base_url)
        with pytest.raises(RunnerError, match="ended the stream without an answer"):
            ask(remote, held_out[0][0])
        remote.close()
    lm = tmp_path / "smollm2-parts-template.gguf"
    subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(ref.files["lm"]), str(lm),
                    "--chat-template", CHAT_TEMPLATE, "--force"], check=True, capture_output=True)
    with start_server(lm, tmp_path / "server.log", threads=1, mmproj=ref.files["mmproj"], extra_args=adapter) as server:
        remote = OpenAIVlmRunner(None, server.base_url)
        try:
            got = [ask(remote, p) for p, _ in held_out[:4]]
        finally:
            remote.close()
    assert remote.info.settings["server_logprobs"] is True
    for e, g in zip(expected, got):
        assert np.argmax(g.candidate_logprobs) == np.argmax(e.candidate_logprobs)
        assert np.allclose(g.candidate_logprobs, e.candidate_logprobs, atol=1e-3)
        assert g.text.strip() == e.text.strip() and g.timings.ttft_ms > 0
        assert g.timings.prompt_tokens is None  # llama-cpp-python's server streams no usage (llama-server does)


def test_transformers_runner_on_the_same_weights_agrees_with_mtmd(held_out, mtmd_answers):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from mobeval.vlm.runners.transformers_vlm import TransformersVlmRunner

    runner = TransformersVlmRunner("digits-clip", threads=2)
    try:
        got = [ask(runner, p) for p, _ in held_out]
    finally:
        runner.close()
    assert runner.info.settings["architecture"] == "LlavaForConditionalGeneration"
    same = 0
    for g, m in zip(got, mtmd_answers):
        assert g.timings.image_tokens == m.timings.image_tokens and g.timings.encode_ms > 0
        assert g.timings.prompt_tokens == m.timings.prompt_tokens  # one layout in both runtimes
        a, b = np.asarray(g.candidate_logprobs), np.asarray(m.candidate_logprobs)
        # float32 torch on the dequantized LM against llama.cpp's Q4_1 kernels: the same scores up to the
        # kernels' rounding (measured: correlation >= 0.989, largest gap 0.28 nats on an AMD EPYC; >= 0.974 and
        # 0.26 on an Intel Xeon with AVX-512)
        assert np.corrcoef(a, b)[0, 1] > 0.95 and np.abs(a - b).max() < 0.5
        same += int(np.argmax(a)) == int(np.argmax(b))
    # near-ties between two digits may flip (2 of these 8 did): most agree
    assert same >= N_IMAGES - 3, f"{same}/{N_IMAGES} agree"


def test_mobeval_run_with_the_mtmd_runner(tmp_path):
    from typer.testing import CliRunner

    from mobeval.cli import app

    res = CliRunner().invoke(app, ["run", "--bench", "vlm-digits", "--runner", "llama.cpp-mtmd", "--limit", "3",
                                   "--threads", "2", "--output-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "vision encode p50" in res.output and "digits-clip" in res.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    from tests.vlm_recount import assert_figures_recount

    assert_figures_recount(folder)  # the figures are the samples' own, counted again here
