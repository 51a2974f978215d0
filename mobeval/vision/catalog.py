"""The vision modality's catalog: image classification: its benchmarks and its runners.

Data only: each entry names its code as "module:object" (mobeval.core.catalog reads this module).
"""

from __future__ import annotations

from mobeval.core.entries import BenchmarkEntry, KindEntry, RunnerEntry

# `mobeval quantize`
COMMANDS = {"quantize": "mobeval.vision.commands.quantize:quantize"}

KINDS: dict[str, KindEntry] = {
    "image-classification": KindEntry(
        kind="mobeval.vision.task.kind:ImageClassificationKind", plan="mobeval.vision.task.plan:plan_images",
        description="labelled images; top-1/top-5 from the model's logits",
        default_bench="imagenet-photos", default_runner="onnxruntime", default_model="efficientnet-lite0",
        extra="vision", settings=("batch_sizes", "preprocess", "exclude_calibration", "accuracy_target"),
        own_data="--bench imagefolder --data DIR",
        headline="mobeval.vision.task.headline:FIGURES", page_plots="mobeval.vision.task.page_plots:image_plots"),
}

BENCHMARKS: dict[str, BenchmarkEntry] = {
    "imagenet-photos": BenchmarkEntry(
        "mobeval.vision.benchmarks.sample_photos:load",
        "bundled: 5 real photographs from scikit-image with ImageNet-1k labels assigned by mobeval (offline "
        "check that a model and its preprocessing work; not an accuracy figure)",
        (), kind="image-classification",
    ),
    "imagefolder": BenchmarkEntry(
        "mobeval.vision.benchmarks.imagefolder:load",
        "any <class>/<image> tree (--data DIR); ImageNet wnid folders score against the 1,000 classes; "
        "--labels for a labels file",
        ("data", "labels"), kind="image-classification", needs=("data",),
    ),
    "imagenet": BenchmarkEntry(
        "mobeval.vision.benchmarks.imagenet:load",
        "ILSVRC2012 validation: --data DIR in the <wnid>/<file>.JPEG layout, or the hub's imagenet-1k "
        "(needs a network and an HF token)",
        ("data",), kind="image-classification",
    ),
}

RUNNERS: dict[str, RunnerEntry] = {
    "onnxruntime": RunnerEntry("mobeval.vision.runners.onnxruntime_classifier:OnnxRuntimeClassifier", "vision",
        "ONNX Runtime: an execution provider by name (cpu, xnnpack, openvino, coreml, qnn, "
        "...), a graph optimisation level; PyTorch models exported once, cached",
        {"threads": None, "provider": "cpu", "graph_optimization": "all"},
        kinds=("image-classification",)),
    "torch": RunnerEntry("mobeval.vision.runners.torch_classifier:TorchClassifier", "vision",
        "PyTorch eager (inference_mode), optionally channels-last",
        {"threads": None, "channels_last": False}, kinds=("image-classification",)),
    "litert": RunnerEntry("mobeval.vision.runners.litert_classifier:LiteRtClassifier", "vision",
        "LiteRT (ai-edge-litert) interpreter with the XNNPACK delegate; .tflite files, or PyTorch "
        "models converted once with litert-torch (cached)",
        {"threads": None}, kinds=("image-classification",)),
}
