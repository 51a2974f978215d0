"""`--model` for the spectrum nets: a bundled alias (store.ALIASES) or a NAME.pt file with its card
NAME.json beside it, resolved before anything loads (no torch import); the card's TrainingRecord goes
with the model so that plan_spectrum refuses captures it was trained on."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from mobeval.core.errors import MobevalError
from mobeval.spectrum.models.store import (
    ALIASES,
    alias_path,
    read_card,
    training_record,
)
from mobeval.spectrum.runners.base import SegmenterModel

DEFAULT_ALIAS = "cmusenet-small"


def resolve_net(model: str | None, flag: str = "--model") -> SegmenterModel:
    """The bundled net of an alias, or a .pt file `mobeval train spectrum` wrote; `flag` names the option
    that gave it, in errors."""
    alias = model or DEFAULT_ALIAS
    if alias in ALIASES:
        path = alias_path(alias)
        if not path.is_file():
            raise MobevalError(f"{flag} {alias}: its weights {path} are not in this install (package data missing); "
                               "reinstall mobeval, or train them with `mobeval train spectrum` (see the card)")
    else:
        path = Path(alias)
        if path.suffix != ".pt" or not path.is_file():
            raise MobevalError(f"{flag} {alias}: not a bundled spectrum net ({', '.join(ALIASES)}) nor a .pt file "
                               "made by `mobeval train spectrum`")
    card = read_card(path)
    widths = card.get("widths")
    return SegmenterModel(
        alias=alias, name=ALIASES.get(alias, f"spectrum net {path.name}"), origin=str(path), format="pytorch",
        path=path, training=training_record(card, path.with_suffix(".json")),
        parameters={"net": card.get("net"), "widths": widths, "real_parameters": card.get("real_parameters"),
                    "epochs": card.get("epochs"), "validation_bin_accuracy": card.get("validation_bin_accuracy"),
                    "card": str(path.with_suffix(".json"))},
    )


def resolve_model(runner: str, model: str | None) -> SegmenterModel:
    """What `--model` names for a spectrum runner, before it loads. A runner without a model file
    (RunnerEntry model "none") takes no --model other than its own name."""
    from mobeval.core.runners import entry

    e = entry(runner)
    if e.model == "none":
        if model not in (None, runner):
            raise MobevalError(f"--model {model}: runner {runner} has no model file (its parameters are built in); "
                               f"drop --model, or pick a runner that loads one")
        module, cls = e.target.split(":")
        return getattr(import_module(module), cls).builtin_model()
    if e.model == "spectrum":
        return resolve_net(model)
    raise MobevalError(f"runner {runner}: spectrum models of kind {e.model!r} are not resolved yet")
