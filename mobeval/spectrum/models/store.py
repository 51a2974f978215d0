"""Trained spectrum nets on disk: NAME.pt (architecture and weights) with its card NAME.json beside it.

The .pt file holds a plain dict (format, complex_valued, widths, state_dict) read with
torch.load(weights_only=True). The card is JSON: how the weights were made (the command, seed, data
recipe, epochs, the accuracy curve, the machine) and `training`, the TrainingRecord of the captures
they were trained and early-stopped on, which is read before the model loads so that an evaluation on
those captures is refused. A .pt without its card is refused for the same reason.

Bundled aliases (package data under weights/): `cmusenet-small` (the complex net) and `realnet-small`
(its real-valued counterpart), small configurations trained on this project's CPU (see their cards).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mobeval.spectrum.benchmarks.generate import TrainingRecord
from mobeval.core.errors import DataError

FORMAT = "mobeval-spectrum-segmenter-v1"
WEIGHTS_DIR = Path(__file__).parent / "weights"
ALIASES = {
    "cmusenet-small": "complex ResNet-18 segmenter (CMuSeNet-style), small width, trained here",
    "realnet-small": "real-valued counterpart (I/Q channels, same parameter count), small width, trained here",
}


def alias_path(alias: str) -> Path:
    return WEIGHTS_DIR / f"{alias}.pt"


def card_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_net(net, path: Path, card: dict[str, Any] | None = None) -> Path:
    """Write the net (and its card, when given) atomically: a crash leaves the previous file whole."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "complex_valued": bool(net.complex_valued), "widths": list(net.widths),
            "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}
    _atomic_write(path, lambda p: torch.save(blob, p))
    if card is not None:
        _atomic_write(card_path(path), lambda p: p.write_text(json.dumps(card, indent=1) + "\n"))
    return path


def load_net(path: Path):
    """The SpectrumResNet saved at `path`, in eval mode."""
    import torch

    from .resnet import SpectrumResNet

    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except Exception as exc:  # torch raises several types for a file that is not its own
        raise DataError(f"{path}: not a mobeval spectrum net ({type(exc).__name__}: {exc})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise DataError(f"{path}: not a mobeval spectrum net (format {FORMAT} expected); train one with "
                        "`mobeval train spectrum`")
    net = SpectrumResNet(bool(blob["complex_valued"]), tuple(blob["widths"]))
    try:
        net.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise DataError(f"{path}: its weights do not fit the architecture it names ({exc})") from None
    return net.eval()


def read_card(weights: Path) -> dict[str, Any]:
    path = card_path(weights)
    if not path.is_file():
        raise DataError(f"{path}: missing: the card beside {Path(weights).name} records what it was trained on, "
                        "and mobeval refuses to evaluate a net whose training captures it cannot check")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or not isinstance(card.get("training"), dict):
        raise DataError(f"{path}: no 'training' object (generator_version, seed, splits)")
    return card


def training_record(card: dict[str, Any], where: Path | str = "card") -> TrainingRecord:
    t = card["training"]
    try:
        return TrainingRecord(generator_version=int(t["generator_version"]), seed=int(t["seed"]),
                              splits=tuple(t["splits"]), capture_ids=frozenset(t.get("capture_ids", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: 'training' needs generator_version, seed and splits ({exc})") from None


def training_json(record: TrainingRecord) -> dict[str, Any]:
    return {"generator_version": record.generator_version, "seed": record.seed, "splits": list(record.splits),
            "capture_ids": sorted(record.capture_ids)}
