"""Train the two small encoders of the quantization contrast on scikit-learn's digits, with one budget.

AutoNeural's claim is that a depthwise-convolution encoder keeps far more signal under integer quantization
than a vision transformer. No package reachable here ships trained ViT/DeiT/EfficientFormer/MobileViT weights,
so this trains both kinds itself, on the same real data (sklearn's digits, the fixed 1,297 / 500 split of
mobeval.vision.models.arch.digits), with the same recipe: epochs, optimizer, schedule, batch, augmentation,
seed, and about the same parameter count (~130k):

- dscnn_digits: MobileNet-style depthwise-separable CNN (3x3 depthwise + 1x1 pointwise, BatchNorm, ReLU6).
- vit_digits:   a ViT (4x4 patches, 64 tokens, pre-norm LayerNorm, softmax attention, GELU MLP).

Each is written to mobeval/vlm/models/contrast/ as ONNX (outputs "encoder": the pooled features before the
classifier, and "logits") with a JSON card (data, split, held-out accuracy, seed, versions, command).
Same seed, machine and versions give the same weights.

    python scripts/train_contrast_encoders.py [--out-dir DIR] [--epochs N] [--seed S] [--models dscnn_digits,vit_digits]
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
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mobeval.measure.environment import cpu_model
from mobeval.vision.models.arch.digits import (
    INPUT_SIZE,
    MAX_SHIFT,
    PREPROCESSING,
    SPLIT_RULE,
    DigitsSplit,
    load_split,
    preprocess,
    random_shift,
)

OUT_DIR = Path(__file__).resolve().parents[1] / "mobeval" / "vlm" / "models" / "contrast"
ONNX_OPSET = 17
BATCH = 64
LR = 2e-3
WEIGHT_DECAY = 0.05
LABEL_SMOOTHING = 0.1


class DSBlock(nn.Module):
    """3x3 depthwise conv + BN + ReLU6, 1x1 pointwise conv + BN + ReLU6; residual when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.dw = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                                nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


class DSCNN(nn.Module):
    """Stem 3x3 conv, six depthwise-separable blocks (32x32 -> 4x4), global average pool, linear head."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 64, 128, 128, 256, 256), num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU6())
        strides = (2, 1, 2, 1, 2, 1)
        self.blocks = nn.Sequential(*(DSBlock(widths[i], widths[i + 1], s) for i, s in enumerate(strides)))
        self.head = nn.Linear(widths[-1], num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


class Attention(nn.Module):
    """Multi-head softmax self-attention, written out so the ONNX graph has plain MatMul/Softmax nodes."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """4x4 patch embedding (64 tokens of a 32x32 input), learned positions, pre-norm blocks, mean-pooled tokens."""

    def __init__(self, dim: int = 64, depth: int = 4, heads: int = 4, mlp_ratio: int = 2, patch: int = 4,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.patch = nn.Conv2d(1, dim, patch, patch)
        self.pos = nn.Parameter(torch.zeros(1, (INPUT_SIZE // patch) ** 2, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*(ViTBlock(dim, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.norm(self.blocks(tokens).mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


class WithEncoderOutput(nn.Module):
    """Exported wrapper: (encoder features, logits)."""

    def __init__(self, model: DSCNN | ViT) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.encode(x)
        return features, self.model.head(features)


MODELS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "dscnn_digits": (DSCNN, ("depthwise-separable CNN (MobileNet-style: 3x3 depthwise + 1x1 pointwise, BatchNorm, "
                             "ReLU6), widths 32-64-64-128-128-256-256, strides 1-2-1-2-1-2-1, global average pool")),
    "vit_digits": (ViT, ("vision transformer: 4x4 patches (64 tokens), dim 64, depth 4, 4 heads, MLP ratio 2, "
                         "pre-norm LayerNorm, softmax attention, GELU, learned positions, mean-pooled tokens + LayerNorm")),
}


def train(name: str, split: DigitsSplit, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MODELS[name][0]()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = -(-len(split.train_y) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=epochs * steps_per_epoch, pct_start=0.15)
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
        print(f"{name} epoch {epoch + 1}/{epochs} loss {total / len(order):.4f}", flush=True)
    return model.eval()


@torch.no_grad()
def top1(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((model(preprocess(images)).argmax(dim=1) == labels).float().mean())


def export_onnx(model: nn.Module, dest: Path) -> None:
    example = torch.zeros((1, 1, INPUT_SIZE, INPUT_SIZE))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(WithEncoderOutput(model), (example,), str(dest), input_names=["input"],
                          output_names=["encoder", "logits"],
                          dynamic_axes={"input": {0: "batch"}, "encoder": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=ONNX_OPSET, dynamo=False)


def onnx_top1(path: Path, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Held-out top-1 of the exported file itself (ONNX Runtime, CPU): what the bench will run."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run(["logits"], {"input": preprocess(images).numpy()})[0]
    return float((logits.argmax(axis=1) == labels.numpy()).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args(argv)
    names = [m for m in args.models.split(",") if m]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        ap.error(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    split = load_split()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    import onnx
    import onnxruntime
    import sklearn

    for name in names:
        start, cpu_start = time.perf_counter(), time.process_time()
        model = train(name, split, args.epochs, args.seed)
        train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        acc = top1(model, split.test_x, split.test_y)
        onnx_path = args.out_dir / f"{name}.onnx"
        export_onnx(model, onnx_path)
        acc_onnx = onnx_top1(onnx_path, split.test_x, split.test_y)
        card = {
            "model": name,
            "architecture": MODELS[name][1],
            "param_count": sum(p.numel() for p in model.parameters()),
            "num_classes": 10,
            "onnx": {"file": onnx_path.name, "opset": ONNX_OPSET, "input": "input (N, 1, 32, 32) float32",
                     "outputs": {"encoder": "pooled features before the classifier", "logits": "(N, 10)"},
                     "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
                     "bytes": onnx_path.stat().st_size},
            "dataset": "sklearn.datasets.load_digits (1,797 8x8 grayscale images of handwritten digits, 10 classes)",
            "split_rule": SPLIT_RULE,
            "test_indices_sha256": split.test_indices_sha256(),
            "n_train": len(split.train_y),
            "n_test": len(split.test_y),
            "preprocessing": PREPROCESSING,
            "augmentation": f"random integer translation of the 8x8 image by up to {MAX_SHIFT} px (zero fill)",
            "optimizer": f"AdamW lr {LR} (one-cycle, 15% warm-up), weight decay {WEIGHT_DECAY}, batch {BATCH}, "
                         f"label smoothing {LABEL_SMOOTHING}",
            "budget": "the same for every model of the contrast: data, split, epochs, optimizer, schedule, batch, "
                      "augmentation, seed",
            "seed": args.seed,
            "epochs": args.epochs,
            "test_top1_torch": acc,
            "test_top1_onnxruntime": acc_onnx,
            "train_seconds": round(train_s, 1),
            "train_cpu_seconds": round(train_cpu_s, 1),
            "threads": torch.get_num_threads(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "versions": {"torch": torch.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
                         "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                         "python": platform.python_version()},
            "machine": cpu_model(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": "python scripts/train_contrast_encoders.py" + "".join(f" {a}" for a in (argv or sys.argv[1:])),
        }
        (args.out_dir / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
        print(f"{name}: held-out top-1 {acc:.4f} (torch) {acc_onnx:.4f} (onnxruntime) on {len(split.test_y)} digits, "
              f"{card['param_count']} parameters, {train_s:.1f} s wall / {train_cpu_s:.1f} s CPU -> {onnx_path}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
