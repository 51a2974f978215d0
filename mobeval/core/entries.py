"""The entries of mobeval's catalogs: what a task kind, a benchmark, a runner and a model alias are, as data.

An entry names its code as "module:object", imported only when it is used, so reading the catalogs (for
`mobeval list`, for checking a run's settings) imports no implementation. Built-ins declare theirs in
`mobeval/<modality>/catalog.py`; a plugin declares the same objects behind an entry point
(mobeval.core.catalog).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from mobeval.core.options import FLAGS, Option


@dataclass(frozen=True)
class KindEntry:
    kind: str  # "module:Class" of its TaskKind
    plan: str  # "module:function" making its TaskPlan from a RunConfig
    description: str
    default_bench: str
    default_runner: str
    default_model: str
    extra: str = ""  # the pip extra that brings its dependencies ("" : the base install)
    # the `mobeval run` settings (config keys) only some kinds use that this kind takes; refused for the others
    settings: tuple[str, ...] = ()
    own_data: str = ""
    headline: str = ""  # "module:object" of its KindFigures (mobeval.results.headline): what a board shows
    page_plots: str = ""  # "module:function" (Result, slug) -> plots a run's page adds for this kind  # how a user runs a file of their own, e.g. "--bench mcq --data FILE"
    # result.json schema versions older than task kinds that this kind reads: version -> "module:function"
    # upgrading the parsed JSON to a Result
    legacy_results: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkEntry:
    target: str  # "module:function", imported when the benchmark is loaded
    description: str  # one line for `mobeval list benches`
    takes: tuple[Option, ...]  # the BenchOptions it reads; any other given is an error
    kind: str = "mcq"  # the task kind of its items (mobeval.core.kinds)
    needs: tuple[Option, ...] = ()  # options it cannot do without

    @property
    def flags(self) -> list[str]:
        return [FLAGS[o] for o in self.takes]


@dataclass(frozen=True)
class RunnerEntry:
    target: str  # "module:Class"
    # What --model names for this runner: "gguf" an alias or .gguf file resolved and hashed here;
    # "endpoint" a model served behind --endpoint (not on this machine); "folder-or-id" a local
    # folder or hub id the runtime itself loads, in this process; "gguf-folder-or-id" either: an alias
    # or .gguf file as "gguf", anything else (a folder, an owner/name hub id) as "folder-or-id".
    # "vision" a vision model (alias, .onnx/.tflite/PyTorch file, hub id) that the task kind resolves.
    # "none" no model file: the runner's parameters are built in, and --model is refused.
    # "spectrum" a trained spectrum net: a bundled alias or a NAME.pt with its card (mobeval.spectrum.runners.net_model).
    # "vlm" a vision-language model: an alias (digits-clip) or a JSON manifest of its parts (mobeval.vlm.models.manifest);
    # "vlm-mtmd" a text GGUF + mmproj GGUF pair (alias, manifest, or the .gguf with its mmproj beside it);
    # "vlm-folder-or-id" a VLM folder or hub id the runtime loads (or an alias this project writes as one).
    model: Literal["gguf", "endpoint", "folder-or-id", "gguf-folder-or-id", "vision", "none", "spectrum", "vlm",
                   "vlm-mtmd", "vlm-folder-or-id"]
    description: str
    # The RUNNER_SETTINGS it takes, each with its default (None: none, or the runtime decides, e.g. all
    # cores). tests/test_settings_validation.py checks these against the constructor's signature.
    settings: Mapping[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ("mcq",)  # the task kinds it serves (mobeval.core.kinds)
    # The same runner name serving another kind with another class (e.g. `openai` asked image questions):
    # kind -> that kind's entry. `entry(name, kind)` picks it.
    variants: Mapping[str, "RunnerEntry"] = field(default_factory=dict)

    @property
    def remote(self) -> bool:
        return self.model == "endpoint"


@dataclass(frozen=True)
class ModelEntry:
    """A model alias: the task kind whose runners load it, and the kind's own fields for it (mcq: those of
    mobeval.text.models.ModelSpec: name, source, file, quant, size_bytes, sha256, package, repo)."""

    kind: str
    spec: Mapping[str, Any]
    description: str = ""
