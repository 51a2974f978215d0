"""What an integer-quantized image encoder costs a VLM, measured in the run that uses it.

After every question has its record, the same questions are asked again with the encoder's float model
(the `mobeval quantize` manifest beside the quantized encoder names it and its sha256) in place of the
quantized one, everything else unchanged. Per keyed item, as `mobeval compare` pairs runs
(`VlmKind.item_outcomes`: multiple choice right under every ordering; open answers by normalised match):
accuracy with the float encoder and with the quantized one, the difference with a paired-bootstrap CI,
McNemar's exact p, and the share of items whose prediction changed. The encoder's output SQNR is measured
on this run's own images: 20·log10(‖x‖ / ‖x − y‖) over all of them, x the float encoder's image-token
features, y the quantized one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mobeval.core.errors import ModelNotAvailable
from mobeval.core.hashing import file_sha256
from mobeval.measure.paired import compare_paired, prediction_flip_rate
from mobeval.vision.quantize.fidelity import sqnr_db


@dataclass(frozen=True)
class FloatEncoder:
    path: Path
    sha256: str


def float_twin(model: Any) -> FloatEncoder | None:
    """The float model of a VLM's encoder when the encoder is one `mobeval quantize` made (its manifest
    beside it); None for a float encoder or a VLM without an ONNX encoder part. A float model that is
    missing or changed is an error before anything loads."""
    from mobeval.vision.quantize.manifest import read_manifest

    encoder = model.files.get("encoder")
    manifest = read_manifest(encoder) if encoder is not None else None
    if manifest is None:
        return None
    path = Path(manifest.float_model_path)
    if not path.is_file():
        raise ModelNotAvailable(f"{encoder}: its quantization manifest names the float encoder {path}, which is "
                                "missing; the accuracy the quantization costs needs it (quantize again)")
    if file_sha256(path) != manifest.float_model_sha256:
        raise ModelNotAvailable(f"{encoder}: the float encoder {path} changed since it was quantized (sha256 "
                                "differs); quantize again")
    return FloatEncoder(path.resolve(), manifest.float_model_sha256)


class OutcomeCost(BaseModel):
    """One outcome (e.g. "every ordering") with the float encoder against the quantized one."""

    items: int
    accuracy_float: float
    accuracy_quantized: float
    difference: float  # quantized - float
    ci_low: float
    ci_high: float
    mcnemar_p: float
    flip_rate: float  # items whose prediction changed


class EncoderCost(BaseModel):
    float_encoder: str
    float_encoder_sha256: str
    images: int
    encoder_sqnr_db: float  # measured here, on this run's images
    outcomes: dict[str, OutcomeCost]
    reasked_quantized: int = 0  # items of earlier segments asked again with the quantized encoder (--resume)


def outcome_costs(float_outcomes: dict, quant_outcomes: dict, seed: int) -> dict[str, OutcomeCost]:
    """Pair the two runs' per-item outcomes (TaskKind.item_outcomes shape) on the items both have."""
    out = {}
    for name, q in quant_outcomes.items():
        f = float_outcomes.get(name, {})
        ids = sorted(set(q) & set(f))
        if not ids:
            continue
        p = compare_paired([f[i][0] for i in ids], [q[i][0] for i in ids], seed=seed)
        out[name] = OutcomeCost(items=p.n, accuracy_float=p.accuracy_a, accuracy_quantized=p.accuracy_b,
                                difference=p.difference, ci_low=p.ci_low, ci_high=p.ci_high, mcnemar_p=p.mcnemar_p,
                                flip_rate=prediction_flip_rate([f[i][1] for i in ids], [q[i][1] for i in ids]))
    return out


def features_sqnr(float_features: list, quant_features: list) -> float:
    return sqnr_db(float_features, quant_features)
