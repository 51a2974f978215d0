"""Benchmark registry. Loaders are imported only when used, so `datasets` loads only when needed.

Each benchmark declares the options (BenchOptions fields) it takes; `load_benchmark` checks what
was given against that before loading anything, so no flag is accepted and then left unused.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from mobeval.benchmarks.base import FLAGS, BenchmarkData, BenchOptions, Option
from mobeval.errors import DataError, MobevalError


@dataclass(frozen=True)
class BenchmarkEntry:
    target: str  # "module:function", imported when the benchmark is loaded
    description: str  # one line for `mobeval list benches`
    takes: tuple[Option, ...]  # the BenchOptions it reads; any other given is an error
    kind: str = "mcq"  # the task kind of its items (mobeval.tasks)
    needs: tuple[Option, ...] = ()  # options it cannot do without

    @property
    def flags(self) -> list[str]:
        return [FLAGS[o] for o in self.takes]


BENCHMARKS: dict[str, BenchmarkEntry] = {
    "everyday-mobile": BenchmarkEntry(
        "mobeval.benchmarks.bundled:load",
        "bundled with mobeval: everyday mobile tasks, with an answer key (offline default)",
        ("answers",),
    ),
    "mobile-mmlu": BenchmarkEntry(
        "mobeval.benchmarks.mobile_mmlu:load_mobile_mmlu",
        "MBZUAI-LLM/Mobile-MMLU (16,186 questions, 80 fields); key held back, --answers supplies one",
        ("data", "answers"),
    ),
    "mobile-mmlu-pro": BenchmarkEntry(
        "mobeval.benchmarks.mobile_mmlu:load_mobile_mmlu_pro",
        "MBZUAI-LLM/Mobile-MMLU-Pro (9,497 questions); key held back, --answers supplies one",
        ("data", "answers"),
    ),
    "mmlu": BenchmarkEntry(
        "mobeval.benchmarks.mmlu:load",
        "MMLU: Hendrycks layout (--data DIR with test/ and dev/) or cais/mmlu from the hub",
        ("data", "shots", "subjects"),
    ),
    "mcq": BenchmarkEntry(
        "mobeval.benchmarks.mcq:load",
        "any local CSV / JSONL / parquet of multiple-choice questions (--data FILE, column mapping)",
        ("data", "columns", "answers"),
    ),
    "imagenet-photos": BenchmarkEntry(
        "mobeval.benchmarks.vision.sample_photos:load",
        "bundled: 5 real photographs from scikit-image with ImageNet-1k labels assigned by mobeval (offline "
        "check that a model and its preprocessing work; not an accuracy figure)",
        (), kind="image-classification",
    ),
    "imagefolder": BenchmarkEntry(
        "mobeval.benchmarks.vision.imagefolder:load",
        "any <class>/<image> tree (--data DIR); ImageNet wnid folders score against the 1,000 classes; "
        "--labels for a labels file",
        ("data", "labels"), kind="image-classification", needs=("data",),
    ),
    "imagenet": BenchmarkEntry(
        "mobeval.benchmarks.vision.imagenet:load",
        "ILSVRC2012 validation: --data DIR in the <wnid>/<file>.JPEG layout, or the hub's imagenet-1k "
        "(needs a network and an HF token)",
        ("data",), kind="image-classification",
    ),
    "synthetic-spectrum": BenchmarkEntry(
        "mobeval.benchmarks.spectrum.synthetic:load",
        "generated on the fly, offline: the generator's test split (seed 14), 5 captures per SNR level "
        "(-20..10 dB) and 10 of empty spectrum",
        (), kind="spectrum-segmentation",
    ),
    "synthetic-spectrum-rayleigh": BenchmarkEntry(
        "mobeval.benchmarks.spectrum.synthetic:load_rayleigh",
        "synthetic-spectrum's captures with Rayleigh flat block fading per signal (offline)",
        (), kind="spectrum-segmentation",
    ),
    "synthetic-spectrum-rician": BenchmarkEntry(
        "mobeval.benchmarks.spectrum.synthetic:load_rician",
        "synthetic-spectrum's captures with Rician flat block fading per signal, K = 6 dB (offline)",
        (), kind="spectrum-segmentation",
    ),
    "torchsig-wideband": BenchmarkEntry(
        "mobeval.benchmarks.spectrum.torchsig_wideband:load",
        "TorchSig 2.2.0's wideband generator (pip install 'mobeval[torchsig]'), offline: 3 captures per TorchSig "
        "SNR level (0..20 dB), 1-10 signals of its classes",
        (), kind="spectrum-segmentation",
    ),
    "spectrum-captures": BenchmarkEntry(
        "mobeval.benchmarks.spectrum.files:load",
        "capture files (--data DIR): the CMuSeNet layout (data.dat + meta-data.json) or SigMF",
        ("data",), kind="spectrum-segmentation", needs=("data",),
    ),
    "vlm-digits": BenchmarkEntry(
        "mobeval.benchmarks.vlm.digits:load",
        "bundled, offline: 200 real handwritten digits (scikit-learn's UCI digits, images never trained on by "
        "digits-vlm): 'Which digit is shown?', 160 with 4 options, 40 open",
        (), kind="vlm",
    ),
    "vlm-jsonl": BenchmarkEntry(
        "mobeval.benchmarks.vlm.jsonl:load",
        "any local JSONL of image questions (--data FILE.jsonl: id, images, question, options or none, answer)",
        ("data",), kind="vlm", needs=("data",),
    ),
    "mmbench-tsv": BenchmarkEntry(
        "mobeval.benchmarks.vlm.mmbench_tsv:load",
        "MMBench's TSV as OpenCompass/VLMEvalKit distribute it (--data FILE.tsv, base64 images)",
        ("data",), kind="vlm", needs=("data",),
    ),
    "mmbench": BenchmarkEntry(
        "mobeval.benchmarks.vlm.hub:load_mmbench",
        "lmms-lab/MMBench (en, dev) from the hub; offline: --bench mmbench-tsv --data FILE.tsv",
        (), kind="vlm",
    ),
    "scienceqa-img": BenchmarkEntry(
        "mobeval.benchmarks.vlm.hub:load_scienceqa_img",
        "lmms-lab/ScienceQA (ScienceQA-IMG, test) from the hub: science questions with an image",
        (), kind="vlm",
    ),
    "ai2d": BenchmarkEntry(
        "mobeval.benchmarks.vlm.hub:load_ai2d",
        "lmms-lab/ai2d (test) from the hub: 3,088 diagram questions",
        (), kind="vlm",
    ),
}

# name -> ("module:function", one-line description), as `mobeval list benches` reads it
REGISTRY: dict[str, tuple[str, str]] = {name: (e.target, e.description) for name, e in BENCHMARKS.items()}

DEFAULT_BENCH = "everyday-mobile"


# Other names a benchmark is known by (issue 14 says spectrum-synthetic); RunConfig stores the canonical one.
ALIASES = {"spectrum-synthetic": "synthetic-spectrum"}


def canonical_bench(name: str) -> str:
    return ALIASES.get(name, name)


def bench_entry(name: str) -> BenchmarkEntry:
    name = canonical_bench(name)
    if name not in BENCHMARKS:
        raise MobevalError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def check_options(name: str, options: BenchOptions) -> None:
    """Every option given is one benchmark `name` takes, with a sensible value: else an error naming the flag."""
    entry = bench_entry(name)
    for option in entry.needs:
        if option not in options.given():
            raise MobevalError(f"benchmark {name} needs {FLAGS[option]}")
    for option in options.given():
        if option not in entry.takes:
            takes = ", ".join(entry.flags) or "no options"
            own = {"mcq": "--bench mcq --data FILE", "image-classification": "--bench imagefolder --data DIR",
                   "spectrum-segmentation": "--bench spectrum-captures --data DIR",
                   "vlm": "--bench vlm-jsonl --data FILE.jsonl"}
            way_out = f"; for a file of your own use {own[entry.kind]}" if option == "data" and entry.kind in own else ""
            raise MobevalError(f"{FLAGS[option]} is not taken by benchmark {name} (it takes: {takes}){way_out}")
    if options.shots < 0:
        raise MobevalError(f"--shots must be 0 or more, not {options.shots}")
    if any(not s.strip() for s in options.subjects):
        raise MobevalError(f"--subjects: an empty subject name in {','.join(options.subjects)!r}")
    for option in ("data", "answers", "labels"):
        path = getattr(options, option)
        if path is not None and not Path(path).exists():
            raise DataError(f"{FLAGS[option]} {path}: no such file or folder")


def load_benchmark(name: str, options: BenchOptions):
    """The benchmark's items, checked options first: BenchmarkData for mcq, ImageFolderSet for images."""
    check_options(name, options)
    module, func = bench_entry(name).target.split(":")
    return getattr(import_module(module), func)(options)


__all__ = ["BENCHMARKS", "REGISTRY", "DEFAULT_BENCH", "BenchmarkEntry", "BenchOptions", "BenchmarkData",
           "bench_entry", "check_options", "load_benchmark"]
