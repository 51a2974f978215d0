"""The shipped `digits-clip` toy VLM in its two formats (mobeval/vlm/models/llava.py): the mmproj GGUF in llama.cpp's
libmtmd with the bundled SmolLM2 GGUF, and the transformers LLaVA folder built from the same weights.

Real runtimes, real held-out digit images (dataset index % 5 == 0, never trained on)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llama_cpp.mtmd_cpp")
pytest.importorskip("sklearn")

from mobeval.vlm.benchmarks.digits import OPEN_QUESTION, is_eval_index, render_digit
from mobeval.vlm.models import llava as V
from mobeval.vlm.runners.mtmd_probe import MtmdProbe
from mobeval.text.models.registry import resolve
from mobeval.vlm.runners.prompt_layout import CHATML_USER

HELD_OUT = [0, 5, 10, 15, 20]  # dataset indices in the evaluation pool
assert all(is_eval_index(i) for i in HELD_OUT)


@pytest.fixture(scope="module")
def files():
    return V.load_manifest("digits-clip")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits()


@pytest.fixture(scope="module")
def probe(files):
    _, gguf = resolve(files.lm_alias, fetch=False)
    p = MtmdProbe(files.mmproj, gguf, threads=2, lora=files.lora)
    yield p
    p.close()


def open_turn(marker: str) -> str:
    return CHATML_USER[0] + marker + "\n" + OPEN_QUESTION + CHATML_USER[1]


def test_manifest_and_card(files):
    data = json.loads(files.manifest.read_text())
    assert "toy" in data["name"] and "not a general VLM" in data["name"]
    assert data["lm"] == "smollm2-135m" and data["encoder"] == "digits-clip-tower"
    for key in ("mmproj", "hf_vision", "hf_config", "card", "projector", "lora"):
        assert (files.manifest.parent / data[key]).is_file(), key
    card = json.loads(files.card.read_text())
    assert card["training"]["tower"]["held_out_classification_accuracy"] > 0.9
    stage2 = card["training"]["stage_2"]
    # the curve is there, and the adapter taught the LM the letter-matching the frozen LM could not do
    assert len(stage2["curve"]) >= 5 and stage2["curve"][-1]["step"] == stage2["steps"]
    control = stage2["text_control"]
    assert control["base"]["mcq_accuracy"] < 0.4 and control["with_adapter"]["mcq_accuracy"] > 0.6
    held = card["held_out_accuracy"]["torch"]
    assert held["images"] == 360 and held["orderings"] == 4
    assert held["mcq_mean_accuracy"] >= 0.6 and held["mcq_strict_accuracy"] > 0.3
    assert held["open_first_token_accuracy"] >= 0.775
    assert card["status"].startswith("ANSWERS")


def test_the_shipped_model_answers_held_out_digits_as_its_card_says(probe, files, digits):
    """Re-measured through libmtmd (the mmproj + the Q4_1 LM + the adapter) on 40 held-out digits, not read from
    the card: multiple choice (options in the card's first ordering's manner, one ordering) and the open
    question both clear chance by the 95% Wilson bound, and the card's torch figures (360 images) lie inside
    this run's intervals."""
    import random

    from mobeval.measure.stats import wilson_interval
    from mobeval.vlm.models.stage1 import LETTERS, mcq_options, mcq_prompt
    from mobeval.vlm.runners.base import IMAGE_MARKER

    card = json.loads(files.card.read_text())["held_out_accuracy"]["torch"]
    letters = [probe.lm.piece_ids(c)[0] for c in LETTERS]
    rng = random.Random(3)
    indices = [i for i in range(len(digits.images)) if is_eval_index(i)][:40]
    mcq = open_ = 0
    for i in indices:
        img, d = render_digit(digits.images[i]), int(digits.target[i])
        options = mcq_options(d, rng)
        turn = CHATML_USER[0] + mcq_prompt(options).replace(IMAGE_MARKER, probe.marker) + CHATML_USER[1]
        mcq += options[int(np.argmax(probe.logits(turn, img)[letters]))] == d
        open_ += probe.greedy(probe.logits(open_turn(probe.marker), img), 3).strip()[:1] == str(d)
    for right, chance, figure in ((mcq, 0.25, card["mcq_mean_accuracy"]), (open_, 0.1, card["open_first_token_accuracy"])):
        low, high = wilson_interval(right, len(indices))
        assert low > chance and low <= figure <= high, (right, len(indices), figure)


def test_libmtmd_layout_is_marker_replaced_by_16_image_tokens(probe, files, digits):
    img = render_digit(digits.images[0])
    runs = probe.layout(open_turn(probe.marker), img)
    assert probe.marker == "<__media__>"
    assert [type(r) for r in runs] == [list, int, list]
    assert runs[1] == files.config.tokens == 16
    # no begin/end-of-image tokens: the text runs are exactly the text around the marker, tokenized alone
    assert runs[0] == probe.lm.tokenize(CHATML_USER[0], True)
    assert runs[2] == probe.lm.tokenize("\n" + OPEN_QUESTION + CHATML_USER[1], False)


def test_libmtmd_embeddings_equal_torch(probe, files, digits):
    """ggml runs the f16 matrices with f16-rounded activations (the CPU vec-dot type of f16 weights), torch the
    same f16 weights in float32: per token, cosine > 0.999 and the largest difference under 2% of the largest
    value (measured: cosine ~0.99999)."""
    tower, proj = V.load_torch_parts(files.hf_vision, files.config)
    for i in HELD_OUT[:3]:
        img = render_digit(digits.images[i])
        got = probe.image_embeddings(img)
        with torch.no_grad():
            px = torch.from_numpy(V.pixel_values(img, files.config))[None]
            want = proj(V.image_features(tower, px))[0].numpy()
        assert got.shape == want.shape == (16, 576)
        cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
        assert cos.min() > 0.999, (i, cos.min())
        assert np.abs(got - want).max() < 0.02 * np.abs(want).max(), i


@pytest.fixture(scope="module")
def hf(files):
    folder = V.hf_llava_folder("digits-clip")
    processor = transformers.AutoProcessor.from_pretrained(str(folder))
    model = transformers.LlavaForConditionalGeneration.from_pretrained(str(folder), dtype=torch.float32).eval()
    return processor, model


def hf_inputs(processor, img):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": OPEN_QUESTION}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text == open_turn(V.IMAGE_TOKEN)
    return processor(images=img, text=text, return_tensors="pt")


def test_hf_folder_has_mtmd_layout(hf, probe, digits):
    processor, model = hf
    img = render_digit(digits.images[0])
    ids = hf_inputs(processor, img)["input_ids"][0].tolist()
    image_id = model.config.image_token_id
    runs = probe.layout(open_turn(probe.marker), img)
    first = ids.index(image_id)
    assert ids[:first] == runs[0]
    assert ids[first:first + 16] == [image_id] * 16
    assert ids[first + 16:] == runs[2]
    assert type(processor.image_processor).__name__.endswith("Pil")  # no torchvision needed


def test_hf_folder_answers_like_libmtmd(hf, probe, files, digits):
    """Greedy open answers on held-out digits: the HF model (the Q4_1 weights dequantized, float32) and libmtmd
    (the same weights quantized) agree, and the HF image features equal the shipped weights' in torch."""
    processor, model = hf
    tower, proj = V.load_torch_parts(files.hf_vision, files.config)
    agree = 0
    for i in HELD_OUT:
        img = render_digit(digits.images[i])
        inputs = hf_inputs(processor, img)
        with torch.no_grad():
            feats = model.get_image_features(pixel_values=inputs["pixel_values"])
            feats = feats.pooler_output if hasattr(feats, "pooler_output") else feats
            feats = torch.cat(list(feats)) if isinstance(feats, (list, tuple)) else feats
            want = proj(V.image_features(tower, torch.from_numpy(V.pixel_values(img, files.config))[None]))
            assert torch.allclose(feats.reshape(want.shape), want, atol=1e-4)
            out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
        hf_text = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        mtmd_text = probe.greedy(probe.logits(open_turn(probe.marker), img), 3)
        agree += hf_text.strip() == mtmd_text.strip()
    assert agree >= len(HELD_OUT) - 1, agree


def test_hybrid_runner_reads_the_same_weights(probe, files, digits, tmp_path):
    """The hybrid runner's parts of digits-clip (the tower exported to ONNX from the safetensors, the projector
    .npz appended to it, the Q4_1 LM with the same adapter) give libmtmd's image embeddings (cosine > 0.9999 per
    token; measured 0.9999996) and the same letter for a multiple-choice question."""
    from mobeval.vlm.models.manifest import resolve as resolve_vlm
    from mobeval.vlm.runners.base import VlmQuery
    from mobeval.vlm.runners.hybrid import HybridRunner

    ref = resolve_vlm("digits-clip")
    assert ref.files["lora"] == files.lora and ref.origins["encoder"].startswith("digits-clip-tower")
    runner = HybridRunner(ref, threads=2)
    try:
        for i in HELD_OUT[:3]:
            img = render_digit(digits.images[i])
            path = tmp_path / f"d{i}.png"
            img.save(path)
            got = runner.encoder.encode(runner.encoder.pixels((path,)))[0]
            want = probe.image_embeddings(img)
            cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
            assert got.shape == want.shape == (16, 576) and cos.min() > 0.9999, (i, cos.min())
        question = ("<image>\nWhich digit is shown?\nA. 3\nB. 0\nC. 7\nD. 1\n"
                    "Answer with the option's letter from the given choices directly.")
        answer = runner.answer(VlmQuery(item_id="d0", prompt=question, images=(tmp_path / "d0.png",),
                                        candidates=("A", "B", "C", "D"), max_tokens=2))
        letters = [probe.lm.piece_ids(c)[0] for c in "ABCD"]
        turn = CHATML_USER[0] + question.replace("<image>", probe.marker) + CHATML_USER[1]
        mtmd_letter = "ABCD"[int(np.argmax(probe.logits(turn, render_digit(digits.images[0]))[letters]))]
        assert answer.text.strip()[:1] == mtmd_letter
    finally:
        runner.close()
