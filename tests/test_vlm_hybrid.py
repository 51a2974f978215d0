"""The hybrid runner on the bundled digits-vlm model: real held-out digits, real encoder, projector and llama.cpp.

Held-out images: dataset indices i % 5 == 0 (the evaluation pool), which the projector never trained on.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("PIL")
pytest.importorskip("efficientnet_lite_pytorch")

from mobeval.vlm.benchmarks.digits import (
    OPEN_QUESTION,
    QUESTION,
    is_eval_index,
    render_digit,
)
from mobeval.core.errors import ModelNotAvailable, RunnerError
from mobeval.vlm.models.manifest import manifest_dir, resolve
from mobeval.core.runners import REGISTRY, check_kind
from mobeval.vlm.runners.base import IMAGE_MARKER, VlmQuery, VlmRunner
from mobeval.vlm.task.prompt import INSTRUCTION

LETTERS = ("A", "B", "C", "D")
N_IMAGES = 12


@pytest.fixture(scope="module")
def runner():
    from mobeval.vlm.runners.hybrid import HybridRunner

    r = HybridRunner(resolve("digits-vlm"), threads=1)
    yield r
    r.close()


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """N_IMAGES held-out digits as PNG files, with their labels and seeded 4-option orders."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    pool = [i for i in range(len(digits.target)) if is_eval_index(i)]
    chosen = rng.choice(pool, N_IMAGES, replace=False)
    out = tmp_path_factory.mktemp("digits")
    items = []
    for i in chosen:
        d = int(digits.target[i])
        path = out / f"digit-{i}.png"
        render_digit(digits.images[i]).save(path)
        options = [int(x) for x in rng.permutation([x for x in range(10) if x != d])[:3]] + [d]
        rng.shuffle(options)
        items.append((path, d, options))
    return items


def mcq(options) -> str:
    return "\n".join([IMAGE_MARKER, QUESTION, *(f"{LETTERS[k]}. {o}" for k, o in enumerate(options)), INSTRUCTION])


def test_registered_for_vlm():
    assert REGISTRY["hybrid"].kinds == ("vlm",)
    check_kind("hybrid", "vlm")
    with pytest.raises(Exception, match="does not serve"):
        check_kind("hybrid", "mcq")


def test_open_question_digit_well_above_chance(runner, held_out):
    """The open question, scored by the digits' log-probabilities as the first answer token: the shipped
    projector's card puts it at 77.5% on the 360 held-out images (chance 10%). (Multiple choice is at
    chance, as the language model alone is with the digit given as text: the card's text_control.)"""
    assert isinstance(runner, VlmRunner)
    digits = tuple(str(d) for d in range(10))
    right = 0
    for p, d, _ in held_out:
        a = runner.answer(VlmQuery(p.stem, (p,), f"{IMAGE_MARKER}\n{OPEN_QUESTION}", digits, max_tokens=2))
        right += int(np.argmax(a.candidate_logprobs)) == d
    # chance is 1/10: P(>= 6 of 12 by chance) = 0.0005
    assert right >= 6, f"{right}/{len(held_out)} right"


def test_candidate_logprobs_are_the_models_own(runner, held_out):
    """Every candidate's log-probability is read from the same logits: their order is the order of the
    generated first token, and they are real log-probabilities (sum of the probabilities at most 1)."""
    path, _, options = held_out[1]
    a = runner.answer(VlmQuery("lp", (path,), mcq(options), LETTERS, max_tokens=1))
    assert 0 < float(np.exp(a.candidate_logprobs).sum()) <= 1 + 1e-6
    if a.text.strip() in LETTERS:  # the greedy token is a letter: it is the candidate with the highest log-prob
        assert LETTERS[int(np.argmax(a.candidate_logprobs))] == a.text.strip()
    assert a.timings.decode_tokens == 1


def test_timings_present_and_consistent(runner, held_out):
    path, _, options = held_out[0]
    a = runner.answer(VlmQuery("t", (path,), mcq(options), LETTERS, max_tokens=4))
    t = a.timings
    for part in (t.preprocess_ms, t.encode_ms, t.prefill_ms, t.ttft_ms, t.decode_ms):
        assert part is not None and part >= 0
    assert t.ttft_ms >= t.preprocess_ms + t.encode_ms + t.prefill_ms
    assert t.image_tokens == 4 and t.prompt_tokens > t.image_tokens
    assert 1 <= t.decode_tokens <= 4
    # the same query's parts by the runtimes' own timers: never more than what the runner measured around them
    e = runner.last_engine
    # llama.cpp counts every position it evaluated (its split between prompt and eval counters is off by
    # one here: it books one prompt position as eval or the reverse; the times are not shifted)
    assert e.prefill_positions + e.decode_positions == t.prompt_tokens + t.decode_tokens - 1
    assert abs(e.prefill_positions - t.prompt_tokens) <= 1
    assert 0 < e.prefill_ms <= t.prefill_ms * 1.001 + 0.5
    assert 0 < e.encoder_run_ms <= t.encode_ms
    # the KV cache is cleared per query: asking again gives the same log-probabilities
    b = runner.answer(VlmQuery("t", (path,), mcq(options), LETTERS, max_tokens=4))
    assert np.allclose(a.candidate_logprobs, b.candidate_logprobs, atol=1e-4)
    assert a.text == b.text


def test_the_projector_in_the_encoders_session_equals_numpys(runner, held_out):
    """The projector runs as ONNX nodes appended to the encoder (one session); its embeddings are the numpy
    projector's of the same features (float32 rounding apart)."""
    pixels = runner.encoder.pixels(tuple(p for p, _, _ in held_out[:3]))
    got = runner.encoder.encode(pixels)
    want = runner.projector(runner.encoder.image_features(pixels))
    assert got.shape == want.shape == (3, 4, runner.lm.n_embd)
    assert np.abs(got - want).max() < 1e-5 * np.abs(want).max()


def test_a_projector_for_other_features_is_refused_naming_both(tmp_path):
    from mobeval.vlm.runners import projector as projector_io
    from mobeval.vlm.runners.hybrid import HybridRunner

    ref = resolve("digits-vlm")
    proj = projector_io.load(ref.files["projector"])
    arrays = {"mean": proj.mean[:64], "std": proj.std[:64], "w1": proj.w1[:64], "b1": proj.b1, "w2": proj.w2,
              "b2": proj.b2}
    projector_io.save(tmp_path / "narrow.npz", arrays, proj.meta)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"encoder": str(ref.files["encoder"]), "projector": "narrow.npz",
                                    "lm": str(ref.files["lm"])}))
    with pytest.raises(RunnerError, match=r"do not fit the projector, which takes 64 .*parts of different models.*"
                                          r"narrow\.npz"):
        HybridRunner(resolve(str(manifest)), threads=1)


def test_info_names_parts_and_settings(runner):
    info = runner.info
    assert info.name == "hybrid"
    assert set(info.model_files) == {"encoder", "projector", "lm"}
    assert info.settings["provider"] == "cpu" and info.settings["encoder_quantized"] is False
    assert "llama-cpp-python" in info.backend_version and "onnxruntime" in info.backend_version
    from mobeval.text.runners.llamacpp_openmp import openmp_release_available

    # llama-cpp-python built here links libgomp: the runner says it ends its idle threads after each answer
    assert openmp_release_available() == any("omp_pause_resource_all" in n for n in info.notes)


def test_marker_count_must_match_images(runner, held_out):
    path = held_out[0][0]
    with pytest.raises(RunnerError, match="marker"):
        runner.answer(VlmQuery("x", (path,), "no marker here", ()))


def test_resolve_alias_and_manifest(tmp_path):
    ref = resolve("digits-vlm")
    assert set(ref.files) == {"encoder", "projector", "lm"}
    assert ref.files["encoder"].suffix == ".onnx" and ref.files["lm"].suffix == ".gguf"
    assert ref.size_bytes == sum(p.stat().st_size for p in ref.files.values())
    shutil.copy(ref.files["projector"], tmp_path / "proj.npz")
    manifest = tmp_path / "my.json"
    manifest.write_text(json.dumps({"encoder": str(ref.files["encoder"]), "projector": "proj.npz",
                                    "lm": str(ref.files["lm"]), "encoder_sqnr_db": 30.5}))
    mine = resolve(str(manifest))
    assert mine.sha256 == ref.sha256 and mine.encoder_sqnr_db == 30.5 and mine.alias == "my"


def test_resolve_errors_are_clear(tmp_path):
    with pytest.raises(ModelNotAvailable, match="no such VLM alias.*digits-vlm"):
        resolve("no-such-vlm")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"encoder": "enc.onnx", "projector": "p.npz", "lm": "smollm2-135m"}))
    with pytest.raises(ModelNotAvailable, match=r"encoder file .*enc\.onnx is missing"):
        resolve(str(manifest))
    manifest.write_text(json.dumps({"encoder": "enc.onnx"}))
    with pytest.raises(ModelNotAvailable, match="names no projector, lm"):
        resolve(str(manifest))
    manifest.write_text(json.dumps({"encoder": "enc.bin", "projector": "p.npz", "lm": "x.gguf"}))
    with pytest.raises(ModelNotAvailable, match="not a .onnx file or an encoder alias"):
        resolve(str(manifest))
    manifest.write_text("{not json")
    with pytest.raises(ModelNotAvailable, match="not a readable JSON manifest"):
        resolve(str(manifest))
    assert (manifest_dir() / "digits-vlm.json").is_file()
