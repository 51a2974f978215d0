"""Training the spectrum nets on generated captures, on the CPU (`mobeval train spectrum`).

Data: the generator's "train" split of `seed` (train_per_level captures at each SNR level from -20 to
10 dB, plus train_empty of empty spectrum) and its "validation" split for the accuracy curve; the
"test" split, which the synthetic-spectrum benchmark evaluates, is a different random stream
(generate.CaptureKey), and the TrainingRecord saved with the weights makes mobeval refuse an evaluation
on the train or validation captures. Each capture holds 40,000 samples and the model reads 16,384:
in training, each epoch reads each capture at a random window offset (a fresh noise realisation of the
same signals, drawn from the seed and epoch); validation always reads the first 16,384 samples, exactly
the input the runners give the model.

Model and loss: the complex net (resnet.complex_resnet) is trained in real arithmetic
(real_arithmetic.RealArithmeticResNet, the same function, about 2.5x faster on a CPU than torch's
complex kernels) and written back into the complex net for saving; the real net
(resnet.real_resnet, the same parameter count) directly. Loss: loss.spectrum_focal_loss. Adam, cosine
learning-rate decay to 0 over the run's steps; the order and window offsets of an epoch are drawn from
(seed, epoch), so a resumed run is the run that was interrupted.

Files under `out`: checkpoint.pt after every epoch (model, optimiser, curve; --resume continues from
it), and NAME.pt + NAME.json (store.py), rewritten after every epoch with that epoch's weights, so a
crash loses at most the epoch in progress. The card records the command, the configuration, the data
recipe, the epoch/accuracy curve (validation per-bin accuracy overall and per SNR level) and the machine.
"""

from __future__ import annotations

import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.spectrum.benchmarks.capture_io import check_out_folder
from mobeval.spectrum.benchmarks.generate import (
    GENERATOR_VERSION,
    SNR_LEVELS_DB,
    Recipe,
    SplitSpec,
    TrainingRecord,
    generate_capture,
)
from mobeval.core.errors import MobevalError
from mobeval.spectrum.task.features import (
    N_BINS,
    label_mask,
    spectrum_image,
)

from .store import save_net, training_json

NETS = ("complex", "real")


@dataclass(frozen=True)
class TrainConfig:
    net: str = "complex"  # "complex" or "real"
    width: int = 4  # the complex net's first-stage width (ResNet-18: 64); the real net is matched to it
    seed: int = 14  # generator seed of the train and validation splits (and of torch's initialisation)
    train_per_level: int = 16
    train_empty: int = 16
    val_per_level: int = 2
    val_empty: int = 4
    epochs: int = 8
    batch_size: int = 16
    lr: float = 3e-3
    threads: int | None = None
    random_window: bool = True
    levels_db: tuple[int, ...] = SNR_LEVELS_DB  # SNR levels of both splits (the weakest signal's, dB)
    init_from: str | None = None  # a trained net (alias or NAME.pt with its card) to start from: fine-tuning

    def __post_init__(self) -> None:
        if self.net not in NETS:
            raise MobevalError(f"--net {self.net}: one of {', '.join(NETS)}")
        for name in ("width", "epochs", "batch_size", "train_per_level", "val_per_level"):
            if getattr(self, name) < 1:
                raise MobevalError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if self.seed < 0 or self.train_empty < 0 or self.val_empty < 0 or not self.lr > 0:
            raise MobevalError("--seed, --train-empty and --val-empty must be >= 0 and --lr > 0")

    def train_spec(self) -> SplitSpec:
        return SplitSpec(seed=self.seed, split="train", per_level=self.train_per_level, levels_db=self.levels_db,
                         empty=self.train_empty)

    def val_spec(self) -> SplitSpec:
        return SplitSpec(seed=self.seed, split="validation", per_level=self.val_per_level, levels_db=self.levels_db,
                         empty=self.val_empty)

    def training_record(self) -> TrainingRecord:
        return TrainingRecord(generator_version=GENERATOR_VERSION, seed=self.seed, splits=("train", "validation"))


@dataclass
class Captures:
    """Captures held in memory for training: samples, bin masks and SNR groups."""

    iq: np.ndarray  # (n, num_samples) complex64
    masks: np.ndarray  # (n, N_BINS) float32 in {0, 1}
    groups: list[str]  # SNR level in dB as text, or "empty"


def make_captures(spec: SplitSpec, recipe: Recipe, log: Callable[[str], None]) -> Captures:
    keys = list(spec.capture_keys())
    iq, masks, groups = [], [], []
    t0 = time.perf_counter()
    for i, key in enumerate(keys, 1):
        c = generate_capture(key, recipe)
        iq.append(c.iq)
        masks.append(label_mask(c).astype(np.float32))
        groups.append("empty" if key.snr_db is None else f"{key.snr_db}")
        if i % 50 == 0 or i == len(keys):
            log(f"  {spec.split}: generated {i}/{len(keys)} captures ({time.perf_counter() - t0:.0f} s)")
    return Captures(np.stack(iq), np.stack(masks), groups)


def images(iq: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """(n, 1, 128, 128) complex64 model inputs: features.spectrum_image at each offset (0 when None)."""
    offs = np.zeros(len(iq), dtype=int) if offsets is None else offsets
    return np.stack([spectrum_image(x[o:o + N_BINS]) for x, o in zip(iq, offs)])


def starting_point(cfg: TrainConfig) -> dict[str, Any] | None:
    """The trained net `--init-from` names, checked against the run: same number field and widths, and
    trained on the same seed's captures (so one TrainingRecord covers both trainings). What the card records."""
    if cfg.init_from is None:
        return None
    from mobeval.core.hashing import file_sha256
    from mobeval.spectrum.runners.net_model import resolve_net

    from .store import read_card

    model = resolve_net(cfg.init_from, "--init-from")
    card = read_card(model.path)
    want = "complex" if cfg.net == "complex" else "real"
    if card.get("net") != want:
        raise MobevalError(f"--init-from {cfg.init_from}: a {card.get('net')} net; this run trains a {want} net")
    if model.training is None or model.training.seed != cfg.seed:
        seed = None if model.training is None else model.training.seed
        raise MobevalError(f"--init-from {cfg.init_from}: trained on seed {seed}'s captures; fine-tune with "
                           f"--seed {seed}, so that one training record names every capture the net has seen")
    return {"from": cfg.init_from, "path": str(model.path), "sha256": file_sha256(model.path),
            "command": card.get("command"), "epochs": card.get("epochs"), "widths": card.get("widths"),
            "validation": (card.get("data") or {}).get("validation"), "curve": card.get("curve"),
            "initialised_from": card.get("initialised_from")}


class Trainee:
    """The module trained, its input and the net saved: the complex net trains in real arithmetic."""

    def __init__(self, cfg: TrainConfig, start: dict[str, Any] | None = None):
        """`start`: starting_point(cfg), when the caller has it already."""
        import torch

        from .real_arithmetic import RealArithmeticResNet
        from .resnet import complex_resnet, real_resnet
        from .store import load_net

        torch.manual_seed(cfg.seed)
        self.net = complex_resnet(cfg.width) if cfg.net == "complex" else real_resnet(cfg.width)
        if cfg.init_from is not None:
            first = load_net((start or starting_point(cfg))["path"])
            if first.widths != self.net.widths:
                raise MobevalError(f"--init-from {cfg.init_from}: widths {list(first.widths)}; --width {cfg.width} "
                                   f"makes {list(self.net.widths)}")
            self.net.load_state_dict(first.state_dict())
            self.net.train()
        self.module = RealArithmeticResNet(self.net) if cfg.net == "complex" else self.net

    def inputs(self, batch: np.ndarray):
        import torch

        from .resnet import real_input

        return real_input(torch.from_numpy(batch))  # both forms take I and Q as two real channels

    def scores(self, out) -> np.ndarray:
        """Occupancy per bin: sigmoid of the (real part of the) logits."""
        import torch

        real = out[:, 0] if out.dim() == 3 else out
        return torch.sigmoid(real).detach().numpy()

    def saved_net(self):
        if self.module is not self.net:
            self.module.write_back(self.net)
        return self.net


def evaluate(trainee: Trainee, data: Captures, batch_size: int, inputs: np.ndarray) -> dict[str, Any]:
    """Validation per-bin accuracy (threshold 0.5 on the score, no widening), pooled over bins, overall
    and per SNR group."""
    import torch

    trainee.module.eval()
    correct = np.zeros(len(data.groups))
    with torch.inference_mode():
        for s in range(0, len(inputs), batch_size):
            pred = trainee.scores(trainee.module(trainee.inputs(inputs[s:s + batch_size]))) > 0.5
            correct[s:s + batch_size] = (pred == (data.masks[s:s + batch_size] > 0.5)).sum(axis=1)
    trainee.module.train()
    per = {}
    for g in dict.fromkeys(data.groups):
        idx = [i for i, x in enumerate(data.groups) if x == g]
        per[g] = float(correct[idx].sum() / (len(idx) * N_BINS))
    return {"val_bin_accuracy": float(correct.sum() / (len(correct) * N_BINS)), "val_bin_accuracy_per_snr": per}


def machine() -> dict[str, Any]:
    """The CPU as lscpu names it (where lscpu exists), its logical CPUs and Python."""
    import subprocess

    from mobeval.measure.environment import cpu_model

    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    keep = ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Hypervisor vendor", "L3 cache")
    lscpu = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if k.strip() in keep}
    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "lscpu": lscpu, "python": platform.python_version()}


def _lr(cfg: TrainConfig, step: int, total: int) -> float:
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total))


CHECKPOINT_KEYS = {"config": dict, "epoch": int, "module": dict, "optimizer": dict, "curve": list}


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def load_checkpoint(path: Path) -> dict[str, Any]:
    """checkpoint.pt as train() wrote it, read with torch.load(weights_only=True): tensors and plain
    dicts, lists, numbers and strings only, so a checkpoint from elsewhere cannot run code. A file that
    is not one (unreadable, another pickle, another structure) is a MobevalError naming it."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (UnpicklingError, RuntimeError, EOFError ...: all mean "not ours")
        raise MobevalError(f"{path}: not a mobeval training checkpoint (it cannot be read as tensors and plain "
                           f"data: {_short(exc)}); train into another --out") from None
    if not isinstance(ckpt, dict):
        raise MobevalError(f"{path}: not a mobeval training checkpoint (it holds a {type(ckpt).__name__}, "
                           "not a dict); train into another --out")
    for key, kind in CHECKPOINT_KEYS.items():
        if not isinstance(ckpt.get(key), kind) or (kind is int and isinstance(ckpt[key], bool)):
            raise MobevalError(f"{path}: not a mobeval training checkpoint ('{key}' is missing or not a "
                               f"{kind.__name__}); train into another --out")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in ckpt["module"].items()):
        raise MobevalError(f"{path}: not a mobeval training checkpoint ('module' is not a state dict of "
                           "tensors); train into another --out")
    if not all(isinstance(p, dict) and isinstance(p.get("epoch"), int) for p in ckpt["curve"]):
        raise MobevalError(f"{path}: not a mobeval training checkpoint ('curve' is not a list of epochs); "
                           "train into another --out")
    if not isinstance(ckpt.get("recipe", {}), dict) or not isinstance(ckpt.get("start"), (dict, type(None))):
        raise MobevalError(f"{path}: not a mobeval training checkpoint ('recipe' or 'start' is malformed); "
                           "train into another --out")
    return ckpt


def train(cfg: TrainConfig, out: Path, name: str, resume: bool = False, command: str | None = None,
          log: Callable[[str], None] = print, recipe: Recipe | None = None) -> Path:
    """Train; returns the path of NAME.pt. See the module docstring for the files written."""
    recipe = recipe or Recipe()
    import torch

    from . import loss as losses
    from .complex_layers import real_parameter_count

    out = Path(out)
    check_out_folder(out)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise MobevalError(f"{ckpt_path} exists: pass --resume to continue that run, or another --out")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    start = starting_point(cfg)
    trainee = Trainee(cfg, start)
    opt = torch.optim.Adam(trainee.module.parameters(), lr=cfg.lr)
    curve: list[dict[str, Any]] = []
    start_epoch = 1
    if resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if {"levels_db": SNR_LEVELS_DB, "init_from": None} | ckpt["config"] != asdict(cfg):
            raise MobevalError(f"{ckpt_path}: was made with other settings ({_short(ckpt['config'], 600)}); resume "
                               "with the same flags, or train into another --out")
        # checkpoints written before the recipe was saved in them were all made with the default recipe
        if ckpt.get("recipe", Recipe().record()) != recipe.record():
            raise MobevalError(f"{ckpt_path}: was trained on captures of another recipe "
                               f"({_short(ckpt.get('recipe'), 300)}); resume with the same --fading, or train into "
                               "another --out")
        start = ckpt.get("start", start)  # what the run started from, though the file it named may have changed
        try:
            trainee.module.load_state_dict(ckpt["module"])
            opt.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise MobevalError(f"{ckpt_path}: not a checkpoint of this net ({_short(exc)}); train into another "
                               "--out") from None
        curve, start_epoch = ckpt["curve"], ckpt["epoch"] + 1
        log(f"resuming after epoch {ckpt['epoch']} from {ckpt_path}")
    if start_epoch > cfg.epochs:
        log(f"{ckpt_path}: all {cfg.epochs} epochs are done; nothing to train")
        return out / f"{name}.pt"
    n_params = real_parameter_count(trainee.net)
    log(f"{cfg.net} net, width {cfg.width}, widths {trainee.net.widths}: {n_params:,} real parameters; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    train_data = make_captures(cfg.train_spec(), recipe, log)
    val_data = make_captures(cfg.val_spec(), recipe, log)
    val_inputs = images(val_data.iq)
    n = len(train_data.groups)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    span = train_data.iq.shape[1] - N_BINS
    card_base = {
        "name": name, "format": "mobeval-spectrum-segmenter-v1",
        "net": cfg.net, "widths": list(trainee.net.widths), "real_parameters": n_params,
        "command": command or "mobeval " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "config": asdict(cfg),
        "data": {"generator_version": GENERATOR_VERSION, "seed": cfg.seed, "recipe": recipe.record(),
                 "train": {"split": "train", "per_level": cfg.train_per_level, "empty": cfg.train_empty,
                           "levels_db": list(cfg.levels_db), "captures": n},
                 "validation": {"split": "validation", "per_level": cfg.val_per_level, "empty": cfg.val_empty,
                                "captures": len(val_data.groups)},
                 "window": "a random 16,384-sample window per capture and epoch" if cfg.random_window
                 else "the first 16,384 samples"},
        "loss": "focal loss (gamma 2) per bin; complex net: on sigmoid(Re) and sigmoid(Im) of the output, summed "
                "(mobeval.spectrum.models.loss)",
        "optimizer": f"Adam, lr {cfg.lr:g} with cosine decay to 0 over {total} steps, batch {cfg.batch_size}",
        "training": training_json(cfg.training_record()),
        "initialised_from": start or "random (torch.manual_seed(seed))",
        "machine": machine(), "torch": torch.__version__,
        "note": "a small configuration trained on a CPU, not the paper's size (ResNet-18 width 64, 4,000 "
                "training captures per SNR level)",
    }
    step = (start_epoch - 1) * steps_per_epoch
    for epoch in range(start_epoch, cfg.epochs + 1):
        rng = np.random.default_rng([cfg.seed, epoch])
        order = rng.permutation(n)
        offsets = rng.integers(0, span + 1, n) if cfg.random_window else np.zeros(n, dtype=int)
        t0, losses_seen = time.perf_counter(), []
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            if len(idx) < 2:  # batch norm needs two captures
                continue
            x = trainee.inputs(images(train_data.iq[idx], offsets[idx]))
            y = torch.from_numpy(train_data.masks[idx])
            for g in opt.param_groups:
                g["lr"] = _lr(cfg, step, total)
            loss = losses.spectrum_focal_loss(trainee.module(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            losses_seen.append(loss.item())
            if (b + 1) % 5 == 0 or b + 1 == steps_per_epoch:
                rate = (time.perf_counter() - t0) / (b + 1)
                log(f"epoch {epoch}/{cfg.epochs} step {b + 1}/{steps_per_epoch} loss {np.mean(losses_seen[-5:]):.4f} "
                    f"({rate:.1f} s/step)")
        figures = evaluate(trainee, val_data, cfg.batch_size, val_inputs)
        point = {"epoch": epoch, "train_loss": float(np.mean(losses_seen)), "epoch_s": time.perf_counter() - t0,
                 **figures}
        curve.append(point)
        log(f"epoch {epoch}: train loss {point['train_loss']:.4f}, validation per-bin accuracy "
            f"{100 * figures['val_bin_accuracy']:.2f}% ({point['epoch_s']:.0f} s)")
        blob = {"config": asdict(cfg), "recipe": recipe.record(), "start": start, "epoch": epoch,
                "module": trainee.module.state_dict(), "optimizer": opt.state_dict(), "curve": curve}
        tmp = ckpt_path.with_name("checkpoint.pt.tmp")
        out.mkdir(parents=True, exist_ok=True)
        torch.save(blob, tmp)
        os.replace(tmp, ckpt_path)
        card = card_base | {"epochs": epoch, "complete": epoch == cfg.epochs, "curve": curve,
                            "validation_bin_accuracy": figures["val_bin_accuracy"],
                            "train_seconds": float(sum(p["epoch_s"] for p in curve))}
        save_net(trainee.saved_net(), out / f"{name}.pt", card)
    return out / f"{name}.pt"
