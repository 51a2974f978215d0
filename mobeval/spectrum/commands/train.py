"""`mobeval train spectrum`: train the complex spectrum net or its real counterpart on generated
captures, on the CPU (mobeval.spectrum.models.train)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mobeval.core.console import err, fail, out
from mobeval.core.errors import MobevalError

train_app = typer.Typer(no_args_is_help=True, help="Train a model mobeval ships the architecture of.")


@train_app.command("spectrum")
def spectrum(
    out_dir: Path = typer.Option(..., "--out", help="Folder for checkpoint.pt and NAME.pt + NAME.json (its card)."),
    net: str = typer.Option("complex", "--net", help="complex (CMuSeNet-style) or real (same parameter count)."),
    name: Optional[str] = typer.Option(None, "--name", help="File name of the weights \\[default: NET-wWIDTH]."),
    width: int = typer.Option(4, "--width", help="First-stage width of the complex net (ResNet-18: 64, the "
                              "paper's size); the real net is matched in parameter count."),
    seed: int = typer.Option(14, "--seed", help="Generator seed of the train and validation splits."),
    train_per_level: int = typer.Option(16, "--train-per-level", help="Training captures per SNR level (16 levels)."),
    train_empty: int = typer.Option(16, "--train-empty", help="Training captures of empty spectrum."),
    val_per_level: int = typer.Option(2, "--val-per-level", help="Validation captures per SNR level."),
    val_empty: int = typer.Option(4, "--val-empty", help="Validation captures of empty spectrum."),
    snr: Optional[str] = typer.Option(None, "--snr", help="SNR levels in dB, comma-separated \\[default: -20..10 "
                                      "in 2 dB steps]."),
    epochs: int = typer.Option(8, "--epochs"),
    batch_size: int = typer.Option(16, "--batch-size"),
    lr: float = typer.Option(3e-3, "--lr", help="Adam's peak learning rate (cosine decay to 0)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads \\[default: torch's]."),
    fixed_window: bool = typer.Option(False, "--fixed-window", help="Train on the first 16,384 samples only "
                                      "(default: a random window per capture and epoch)."),
    fading: str = typer.Option("none", "--fading", help="none (AWGN), rayleigh or rician: flat block fading per "
                               "signal in the training and validation captures."),
    rician_k_db: Optional[float] = typer.Option(None, "--rician-k-db", help="Rician K-factor in dB (only with "
                                                "--fading rician) \\[default: 6]."),
    init_from: Optional[str] = typer.Option(None, "--init-from", help="Start from a trained net (an alias such as "
                                            "cmusenet-small, or NAME.pt with its card), trained on the same --seed: "
                                            "fine-tuning."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.pt."),
) -> None:
    """Train on the generator's train split (the validation split gives the accuracy curve; the test
    split, which --bench synthetic-spectrum evaluates, is never read). Saves after every epoch."""
    from mobeval.spectrum.commands.gen import _levels, _recipe
    from mobeval.spectrum.models.train import TrainConfig, train

    try:
        cfg = TrainConfig(net=net, width=width, seed=seed, train_per_level=train_per_level,
                          train_empty=train_empty, val_per_level=val_per_level, val_empty=val_empty, epochs=epochs,
                          batch_size=batch_size, lr=lr, threads=threads, random_window=not fixed_window,
                          levels_db=_levels(snr), init_from=init_from)
        recipe = _recipe(fading, rician_k_db)
        path = train(cfg, out_dir, name or f"{net}-w{width}", resume=resume,
                     log=lambda m: err.print(m, highlight=False, markup=False), recipe=recipe)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    out.print(f"weights: {path}\ncard: {path.with_suffix('.json')}", highlight=False, markup=False)
