"""Train the small MobileViG (mobilevig_digits) on scikit-learn's digits, deterministically, on the CPU.

Writes mobeval/vision/models/arch/weights/mobilevig_digits.pt (a state_dict) and mobilevig_digits.json
(seed, split, epochs, measured held-out top-1, parameter count, sha256 of the weights, versions, machine,
date). Same seed, same machine and same versions give bitwise identical weights.

    python scripts/train_mobilevig_digits.py [--out-dir DIR] [--epochs N] [--seed S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mobeval.measure.environment import cpu_model
from mobeval.vision.models.arch.digits import (
    MAX_SHIFT,
    PREPROCESSING,
    SPLIT_RULE,
    WEIGHTS_DIR,
    DigitsSplit,
    load_split,
    preprocess,
    random_shift,
    top1,
)
from mobeval.vision.models.arch.mobilevig import CONFIGS, mobilevig_digits, param_count

BATCH = 64
LR = 3e-3
WEIGHT_DECAY = 0.05
LABEL_SMOOTHING = 0.1


def train(split: DigitsSplit, epochs: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = mobilevig_digits()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = -(-len(split.train_y) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(split.train_y), generator=gen)
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            x = preprocess(random_shift(split.train_x[idx], gen))
            loss = F.cross_entropy(model(x), split.train_y[idx], label_smoothing=LABEL_SMOOTHING)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1}/{epochs} loss {total / len(order):.4f}", flush=True)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    split = load_split()
    start, cpu_start = time.perf_counter(), time.process_time()
    model = train(split, args.epochs, args.seed)
    train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    acc = top1(model, split.test_x, split.test_y)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    weights = args.out_dir / "mobilevig_digits.pt"
    torch.save(model.state_dict(), weights)
    import sklearn

    record = {
        "model": "mobilevig_digits",
        "config": {k: v for k, v in vars(CONFIGS["digits"]).items()},
        "num_classes": 10,
        "dataset": "sklearn.datasets.load_digits (1,797 8x8 grayscale images, 10 classes)",
        "split_rule": SPLIT_RULE,
        "test_indices_sha256": split.test_indices_sha256(),
        "n_train": len(split.train_y),
        "n_test": len(split.test_y),
        "preprocessing": PREPROCESSING,
        "augmentation": f"random integer translation of the 8x8 image by up to {MAX_SHIFT} px (zero fill)",
        "optimizer": f"AdamW lr {LR} (one-cycle), weight decay {WEIGHT_DECAY}, batch {BATCH}, "
                     f"label smoothing {LABEL_SMOOTHING}",
        "seed": args.seed,
        "epochs": args.epochs,
        "test_top1": acc,
        "param_count": param_count(model),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "weights_bytes": weights.stat().st_size,
        "train_seconds": round(train_s, 1),
        "train_cpu_seconds": round(train_cpu_s, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "machine": cpu_model(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python scripts/train_mobilevig_digits.py" + "".join(f" {a}" for a in (argv or sys.argv[1:])),
    }
    (args.out_dir / "mobilevig_digits.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"test top-1 {acc:.4f} ({len(split.test_y)} held-out), training {train_s:.1f} s wall / {train_cpu_s:.1f} s CPU, "
          f"{weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
