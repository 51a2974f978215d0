"""The GGUF file of each level: a published file where one is given or is the model's own, else one made
here by llama.cpp's quantizer (llama-cpp-python's `llama_model_quantize`) from an F16/BF16/F32 GGUF.

A model published only quantized (the bundled SmolLM2-135M is Q4_1) has its weights dequantized into an F16
GGUF first (f16.py). Levels made from that F16 measure llama.cpp's quantizer applied to an already-quantized
model, not the original model's quality at that level. Made files are cached under
`cache_dir()/sweep`, named by the hash of their source file, the file type and the llama.cpp version.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mobeval.core.errors import MobevalError
from mobeval.core.hashing import file_sha256, text_sha256
from mobeval.text.models import ModelSpec
from mobeval.core.paths import cache_dir
from mobeval.sweep.f16 import gguf_module, source_ftype, write_f16
from mobeval.sweep.levels import FLOAT_LEVELS, LEVELS, Level

REQUANT_NOTE = ("levels made here requantize the {quant} model's dequantized weights: they measure llama.cpp's "
                "quantizer on an already-quantized model, not the original model's quality at each level")


@dataclass(frozen=True)
class FileFacts:
    """What a GGUF holds: tensors per ggml type, and bits per weight over all its tensors."""

    tensor_types: dict[str, int]
    bits_per_weight: float
    n_weights: int

    @classmethod
    def of(cls, path: Path) -> FileFacts:
        reader = gguf_module().GGUFReader(str(path))
        types: dict[str, int] = {}
        n_bytes = n_weights = 0
        for t in reader.tensors:
            types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
            n_bytes += int(t.n_bytes)
            n_weights += int(t.n_elements)
        return cls(dict(sorted(types.items(), key=lambda kv: -kv[1])), 8 * n_bytes / n_weights, n_weights)


@dataclass(frozen=True)
class LevelFile:
    level: str
    path: Path
    sha256: str
    origin: str  # "published" or "made here"
    how: str  # one line: where the file comes from
    facts: FileFacts = field(compare=False)

    def to_json(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def _name_of(ftype: int | None) -> str | None:
    if ftype is None:
        return None
    import llama_cpp

    for name, (constant, _) in LEVELS.items():
        if getattr(llama_cpp, constant, None) == ftype:
            return name
    return None


def _quiet_stderr_to(log: Path):
    """Context: the C library's stderr (llama.cpp's per-tensor log) goes to `log`, not the terminal."""
    class _Redirect:
        def __enter__(self):
            sys.stderr.flush()
            self.fh = open(log, "w", encoding="utf-8")
            self.saved = os.dup(2)
            os.dup2(self.fh.fileno(), 2)

        def __exit__(self, *exc):
            sys.stderr.flush()
            os.dup2(self.saved, 2)
            os.close(self.saved)
            self.fh.close()

    return _Redirect()


def quantize(base: Path, target: Path, level: Level, threads: int | None) -> None:
    """llama.cpp's own quantizer: `base` (F16/BF16/F32 GGUF) to `target` at `level` (atomically); its log
    is kept beside the file as <target>.log."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = level.ftype
    params.nthread = threads or 0  # 0: llama.cpp's own choice (all cores)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    log = target.with_name(target.name + ".log")
    with _quiet_stderr_to(log):
        rc = llama_cpp.llama_model_quantize(str(base).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise MobevalError(f"llama.cpp could not quantize {base} to {level.name} (return code {rc}); its log: {log}")
    os.replace(tmp, target)


class LevelFiles:
    """Finds or makes each level's file for one source model."""

    def __init__(self, spec: ModelSpec, source: Path, published: dict[str, Path] | None = None,
                 threads: int | None = None):
        self.spec, self.source, self.threads = spec, Path(source), threads
        self.published = {k.upper(): Path(v) for k, v in (published or {}).items()}
        self.source_level = spec.quant.upper() if spec.quant else _name_of(source_ftype(self.source))
        self.source_sha256 = file_sha256(self.source)
        self.dir = cache_dir() / "sweep"

    @property
    def requantizes(self) -> bool:
        """Whether made levels start from a quantized file's dequantized weights."""
        return self.source_level not in FLOAT_LEVELS

    def note(self) -> str:
        return REQUANT_NOTE.format(quant=self.source_level or "quantized") if self.requantizes else ""

    def base(self) -> Path:
        """The F16/BF16/F32 GGUF the quantizer starts from: the source itself, or an F16 written from its
        dequantized weights (cached by the source's hash)."""
        if not self.requantizes:
            return self.source
        target = self.dir / f"{self.spec.alias}-{self.source_sha256[:16]}-F16.gguf"
        if not target.is_file():
            write_f16(self.source, target, f"{self.spec.alias} {self.source_level} sha256 {self.source_sha256}")
        return target

    def _published(self, level: Level, path: Path) -> LevelFile:
        if not path.is_file():
            raise MobevalError(f"--file {level.name}={path}: no such file")
        found = _name_of(source_ftype(path))
        if found is not None and found != level.name:
            raise MobevalError(f"--file {level.name}={path}: the file's general.file_type says {found}, not "
                               f"{level.name}")
        return LevelFile(level.name, path, file_sha256(path), "published", f"published file {path.name}",
                         FileFacts.of(path))

    def get(self, level: Level) -> LevelFile:
        if level.name in self.published:
            return self._published(level, self.published[level.name])
        if level.name == self.source_level:
            return LevelFile(level.name, self.source, self.source_sha256, "published",
                             f"the model's own published file ({self.spec.origin})", FileFacts.of(self.source))
        base = self.base()
        what = (f"F16 written here from the {self.source_level} file's dequantized weights" if self.requantizes
                else f"the {self.source_level} file")
        if level.name == "F16" and self.requantizes:
            return LevelFile(level.name, base, file_sha256(base), "made here", what, FileFacts.of(base))
        import llama_cpp

        version = llama_cpp.__version__
        key = text_sha256(f"{file_sha256(base)}|{level.ftype_constant}|llama-cpp-python {version}")[:16]
        target = self.dir / f"{self.spec.alias}-{key}-{level.name}.gguf"
        if not target.is_file():
            quantize(base, target, level, self.threads)
        return LevelFile(level.name, target, file_sha256(target), "made here",
                         f"llama.cpp quantizer (llama-cpp-python {version}) from the {what}", FileFacts.of(target))
