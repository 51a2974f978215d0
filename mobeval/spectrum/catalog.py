"""The spectrum modality's catalog: spectrum segmentation: its benchmarks and its runners.

Data only: each entry names its code as "module:object" (mobeval.core.catalog reads this module).
"""

from __future__ import annotations

from mobeval.core.entries import BenchmarkEntry, KindEntry, RunnerEntry

# `mobeval gen spectrum`, `mobeval train spectrum`
COMMANDS = {"gen": "mobeval.spectrum.commands.gen:gen_app", "train": "mobeval.spectrum.commands.train:train_app"}

KINDS: dict[str, KindEntry] = {
    "spectrum-segmentation": KindEntry(
        kind="mobeval.spectrum.task.kind:SpectrumSegmentationKind", plan="mobeval.spectrum.task.plan:plan_spectrum",
        description="IQ captures; occupancy per FFT bin, IoU per signal, false alarms, per SNR level",
        default_bench="synthetic-spectrum", default_runner="spectrum-torch", default_model="cmusenet-small",
        extra="spectrum", settings=("batch_sizes",), own_data="--bench spectrum-captures --data DIR",
        headline="mobeval.spectrum.task.headline:FIGURES"),
}

BENCHMARKS: dict[str, BenchmarkEntry] = {
    "synthetic-spectrum": BenchmarkEntry(
        "mobeval.spectrum.benchmarks.synthetic:load",
        "generated on the fly, offline: the generator's test split (seed 14), 5 captures per SNR level "
        "(-20..10 dB) and 10 of empty spectrum",
        (), kind="spectrum-segmentation",
    ),
    "synthetic-spectrum-rayleigh": BenchmarkEntry(
        "mobeval.spectrum.benchmarks.synthetic:load_rayleigh",
        "synthetic-spectrum's captures with Rayleigh flat block fading per signal (offline)",
        (), kind="spectrum-segmentation",
    ),
    "synthetic-spectrum-rician": BenchmarkEntry(
        "mobeval.spectrum.benchmarks.synthetic:load_rician",
        "synthetic-spectrum's captures with Rician flat block fading per signal, K = 6 dB (offline)",
        (), kind="spectrum-segmentation",
    ),
    "torchsig-wideband": BenchmarkEntry(
        "mobeval.spectrum.benchmarks.torchsig_wideband:load",
        "TorchSig 2.2.0's wideband generator (pip install 'mobeval[torchsig]'), offline: 3 captures per TorchSig "
        "SNR level (0..20 dB), 1-10 signals of its classes",
        (), kind="spectrum-segmentation",
    ),
    "spectrum-captures": BenchmarkEntry(
        "mobeval.spectrum.benchmarks.files:load",
        "capture files (--data DIR): the CMuSeNet layout (data.dat + meta-data.json) or SigMF",
        ("data",), kind="spectrum-segmentation", needs=("data",),
    ),
}

RUNNERS: dict[str, RunnerEntry] = {
    "energy-detector": RunnerEntry("mobeval.spectrum.runners.energy_runner:EnergyDetectorRunner", "none",
        "classical spectrum-occupancy baseline: thresholded, smoothed Welch PSD over "
        "an FCME noise floor (no model file, no training)",
        kinds=("spectrum-segmentation",)),
    "spectrum-torch": RunnerEntry("mobeval.spectrum.runners.torch_runner:TorchSegmenter", "spectrum",
        "a trained spectrum net (cmusenet-small, realnet-small, or a .pt from `mobeval "
        "train spectrum`) in PyTorch eager; the complex net on native complex tensors",
        {"threads": None}, kinds=("spectrum-segmentation",)),
    "spectrum-onnxruntime": RunnerEntry("mobeval.spectrum.runners.onnx_runner:OnnxRuntimeSegmenter", "spectrum",
        "a trained spectrum net exported to ONNX in real arithmetic (cached), "
        "ONNX Runtime on the CPU",
        {"threads": None}, kinds=("spectrum-segmentation",)),
}
