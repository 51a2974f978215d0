"""What --model names for each VLM runner: manifests of either layout, a text GGUF with its mmproj beside
it, folders, hub ids, served models; and the errors when it names something else. Real files, hashed."""

from __future__ import annotations

import json
import shutil

import pytest

from mobeval.core.errors import ModelNotAvailable, RunnerError
from mobeval.text.models.registry import resolve as resolve_lm
from mobeval.vlm.models.manifest import MTMD_PARTS, PARTS, folder_ref, remote_ref, resolve


@pytest.fixture()
def lm_gguf():
    spec, path = resolve_lm("smollm2-135m", fetch=False)
    return path


def test_a_text_gguf_with_one_mmproj_beside_it_is_a_pair(tmp_path, lm_gguf):
    model = tmp_path / "SmolLM2.gguf"
    shutil.copy(lm_gguf, model)
    with pytest.raises(ModelNotAvailable, match=r"exactly one\s+mmproj\*\.gguf .* found none"):
        resolve(str(model), MTMD_PARTS)
    (tmp_path / "mmproj-SmolLM2-f16.gguf").write_bytes(b"GGUF projector bytes")
    ref = resolve(str(model), MTMD_PARTS)
    assert ref.files == {"lm": model, "mmproj": tmp_path / "mmproj-SmolLM2-f16.gguf"}
    assert ref.sha256 and set(ref.part_sha256) == {"lm", "mmproj"} and not ref.remote
    (tmp_path / "mmproj-other.gguf").write_bytes(b"x")
    with pytest.raises(ModelNotAvailable, match="found mmproj-SmolLM2-f16.gguf, mmproj-other.gguf"):
        resolve(str(model), MTMD_PARTS)
    with pytest.raises(ModelNotAvailable, match="that is the projector"):
        resolve(str(tmp_path / "mmproj-other.gguf"), MTMD_PARTS)


def test_a_manifest_for_one_runner_given_to_another_says_which(tmp_path, lm_gguf):
    (tmp_path / "mmproj.gguf").write_bytes(b"projector")
    manifest = tmp_path / "pair.json"
    manifest.write_text(json.dumps({"lm": str(lm_gguf), "mmproj": "mmproj.gguf", "prefix": "<u>", "suffix": "</u>"}))
    ref = resolve(str(manifest), MTMD_PARTS)
    assert ref.files["mmproj"] == (tmp_path / "mmproj.gguf").resolve()
    assert ref.extra == {"prefix": "<u>", "suffix": "</u>"}  # the chat turn travels to the runner
    with pytest.raises(ModelNotAvailable, match=r"names no encoder, projector .* manifest for --runner llama.cpp-mtmd"):
        resolve(str(manifest), PARTS)
    with pytest.raises(ModelNotAvailable, match="or the text .gguf with one mmproj"):
        resolve(str(tmp_path / "nothing-here"), MTMD_PARTS)


def test_folders_hub_ids_and_served_models(tmp_path):
    with pytest.raises(ModelNotAvailable, match="no weights"):
        folder_ref(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    ref = folder_ref(str(tmp_path))
    assert ref.location == str(tmp_path) and set(ref.part_sha256) == {"config.json", "model.safetensors"}
    hub = folder_ref("HuggingFaceTB/SmolVLM-256M-Instruct")
    assert hub.location == "HuggingFaceTB/SmolVLM-256M-Instruct" and hub.sha256 is None and hub.source.startswith("hub:")
    with pytest.raises(ModelNotAvailable, match="a model folder, a hub id"):
        folder_ref("not-a-folder-nor-an-id")
    served = remote_ref(None, "http://127.0.0.1:1/v1")
    assert served.remote and served.location is None and served.sha256 is None


def test_the_nexa_runner_names_its_install_line_where_the_sdk_is_missing():
    pytest.importorskip("PIL")
    try:
        import nexaai  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("nexaai is installed here")
    from mobeval.vlm.runners.nexa import NexaRunner

    with pytest.raises(RunnerError, match=r"needs NexaAI's SDK, which is not installed: pip install nexaai"):
        NexaRunner("NexaAI/AutoNeural")


def test_openai_image_parts_follow_the_prompts_markers(tmp_path):
    pytest.importorskip("httpx")
    from mobeval.vlm.runners.openai_images import content_parts

    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    a.write_bytes(b"\x89PNG\r\n\x1a\n")
    b.write_bytes(b"\xff\xd8\xff")
    parts = content_parts("<image>\nCompare <image> with the first.\nA. yes", (a, b), "q1")
    assert [p["type"] for p in parts] == ["image_url", "text", "image_url", "text"]
    assert parts[0]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert parts[2]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert parts[1]["text"] == "Compare " and parts[3]["text"] == " with the first.\nA. yes"
    with pytest.raises(RunnerError, match=r"item q2: the prompt has 1 <image> marker\(s\) for 2 image\(s\)"):
        content_parts("<image> one", (a, b), "q2")
