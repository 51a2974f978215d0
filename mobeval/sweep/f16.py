"""An F16 GGUF written from a quantized GGUF's dequantized weights, for llama.cpp's quantizer to start from.

Every key-value pair is copied (tokenizer and chat template included) except the file type, which becomes
F16. Quantized tensors are dequantized with gguf.quants (the reference dequantization of ggml's types) and
stored as F16; F32/F16 tensors are copied as they are. The F16 holds the quantized model's weights (to F16
rounding, relative error at most 2^-11), not the original model's: levels made from it measure llama.cpp's
quantizer on an already-quantized model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mobeval.core.errors import MobevalError

_HEADER_KEYS = ("GGUF.version", "GGUF.tensor_count", "GGUF.kv_count")  # the writer writes its own
FILE_TYPE_KEY = "general.file_type"
PROVENANCE_KEY = "mobeval.dequantized_from"  # extra key: which file this F16 was written from


def gguf_module():
    try:
        import gguf
    except ImportError as exc:
        raise MobevalError("mobeval sweep writes an F16 GGUF with the `gguf` package, which is not installed: "
                           "pip install -e '.[sweep]'  (gguf 0.19.0)") from exc
    return gguf


def source_ftype(path: Path) -> int | None:
    """The file's general.file_type (llama.cpp's LLAMA_FTYPE_*), None when it does not record one."""
    reader = gguf_module().GGUFReader(str(path))
    field = reader.fields.get(FILE_TYPE_KEY)
    return None if field is None else int(field.contents())


def dequantized(tensor) -> np.ndarray:
    """A GGUFReader tensor's weights as float32, numpy-shaped (rows, columns)."""
    gguf = gguf_module()
    return np.asarray(gguf.quants.dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)


def write_f16(source: Path, target: Path, source_note: str) -> Path:
    """Write `target` (atomically) from `source`: metadata copied, 2-D+ tensors as F16, 1-D as F32."""
    gguf = gguf_module()
    reader = gguf.GGUFReader(str(source))
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise MobevalError(f"{source}: no general.architecture key; not a llama.cpp model GGUF")
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(tmp), arch=str(arch_field.contents()))
    try:
        for key, field in reader.fields.items():
            if key in _HEADER_KEYS or key == "general.architecture":
                continue
            if key == FILE_TYPE_KEY:
                writer.add_uint32(key, int(gguf.LlamaFileType.MOSTLY_F16))
                continue
            vtype = field.types[0]
            sub = None
            if vtype == gguf.GGUFValueType.ARRAY:
                if len(field.types) != 2:
                    raise MobevalError(f"{source}: key {key} is a nested array, which this writer does not copy")
                sub = field.types[1]
            writer.add_key_value(key, field.contents(), vtype, sub_type=sub)
        writer.add_string(PROVENANCE_KEY, source_note)
        for t in reader.tensors:
            if t.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16) and len(t.shape) < 2:
                writer.add_tensor(t.name, np.array(t.data))
                continue
            w = dequantized(t)
            writer.add_tensor(t.name, w if w.ndim < 2 else w.astype(np.float16))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(tmp, target)
    return target
