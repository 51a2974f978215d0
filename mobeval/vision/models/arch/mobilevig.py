"""MobileViG (Munir, Avery, Marculescu, CVPRW 2023, arXiv 2307.00395): a CNN-GNN hybrid for mobile vision.

Layout: a stride-4 convolutional stem, local stages of inverted residual blocks (MobileNetV2-style),
a stride-2 convolution into global stages of Grapher (SVGA) + FFN blocks, stride-2 convolutions between
stages, then pooling, an embedding layer and the classifier (plus, as trained in the paper, a
distillation head whose logits are averaged with the classifier's at inference).

SVGA (Sparse Vision Graph Attention) links every pixel to the pixels K, 2K, ... steps away along its row
and its column (cyclically, as torch.roll does) and aggregates them with a max-relative graph convolution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn


def svga_aggregate(x: torch.Tensor, k: int = 2, center_minus_neighbor: bool = False) -> torch.Tensor:
    """Max-relative aggregation over SVGA's sparse row/column graph.

    For pixel i, returns the elementwise max of (x_j - x_i) over j in {i} and the pixels reached by
    rolling the map by K, 2K, ... (< H) along the height and by K, 2K, ... (< W) along the width. The pixel
    itself is a neighbour (so the result is >= 0), as in ViG's k-NN graph. When H (or W) is a multiple of K
    the cyclic shifts cover the every-K-th pixels in both directions. `center_minus_neighbor=True` takes
    x_i - x_j instead: the sign the authors' released code (and so their ImageNet checkpoints) uses.
    """
    if k < 1:
        raise ValueError(f"SVGA's K must be >= 1, got {k}")
    height, width = x.shape[-2:]
    out = torch.zeros_like(x)
    for dim, size in ((-2, height), (-1, width)):
        for shift in range(k, size, k):
            neighbor = torch.roll(x, shifts=shift, dims=dim)
            out = torch.maximum(out, x - neighbor if center_minus_neighbor else neighbor - x)
    return out


def _conv_bn(c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups), nn.BatchNorm2d(c_out))


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability `p` while training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Stem(nn.Sequential):
    """Two stride-2 3x3 convolutions (to half, then full width), each with BatchNorm and GELU."""

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__(_conv_bn(in_chans, dim // 2, 3, 2), nn.GELU(), _conv_bn(dim // 2, dim, 3, 2), nn.GELU())


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise, 1x1 project (BatchNorm after each, GELU after the first two), scaled residual."""

    def __init__(self, dim: int, expansion: int = 4, drop_path: float = 0.0, layer_scale_init: float = 1e-5) -> None:
        super().__init__()
        hidden = dim * expansion
        self.expand = _conv_bn(dim, hidden)
        self.depthwise = _conv_bn(hidden, hidden, 3, groups=hidden)
        self.project = _conv_bn(hidden, dim)
        self.act = nn.GELU()
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), layer_scale_init))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.act(self.depthwise(self.act(self.expand(x)))))
        return x + self.drop_path(self.layer_scale * y)


class SVGAGraphConv(nn.Module):
    """Max-relative graph convolution on SVGA's graph: [x, max_j(x_j - x_i)] -> 1x1 conv, BatchNorm, GELU."""

    def __init__(self, dim: int, out_dim: int, k: int = 2, center_minus_neighbor: bool = False) -> None:
        super().__init__()
        self.k = k
        self.center_minus_neighbor = center_minus_neighbor
        self.update = nn.Sequential(nn.Conv2d(2 * dim, out_dim, 1), nn.BatchNorm2d(out_dim), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relative = svga_aggregate(x, self.k, self.center_minus_neighbor)
        return self.update(torch.cat([x, relative], dim=1))


class Grapher(nn.Module):
    """FC (1x1 conv + BN), SVGA graph convolution to 2x width, FC back to the width, plus the input."""

    def __init__(self, dim: int, k: int = 2, drop_path: float = 0.0, center_minus_neighbor: bool = False) -> None:
        super().__init__()
        self.fc_in = _conv_bn(dim, dim)
        self.graph_conv = SVGAGraphConv(dim, 2 * dim, k, center_minus_neighbor)
        self.fc_out = _conv_bn(2 * dim, dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.fc_out(self.graph_conv(self.fc_in(x))))


class FFN(nn.Module):
    """Two 1x1 convolutions (BN after each, GELU between, 4x hidden width) with a residual."""

    def __init__(self, dim: int, expansion: int = 4, drop_path: float = 0.0) -> None:
        super().__init__()
        self.fc1 = _conv_bn(dim, dim * expansion)
        self.act = nn.GELU()
        self.fc2 = _conv_bn(dim * expansion, dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.fc2(self.act(self.fc1(x))))


class GraphBlock(nn.Sequential):
    """One global-stage block: Grapher then FFN."""

    def __init__(self, dim: int, k: int, drop_path: float, center_minus_neighbor: bool) -> None:
        super().__init__(Grapher(dim, k, drop_path, center_minus_neighbor), FFN(dim, drop_path=drop_path))


@dataclass(frozen=True)
class MobileViGConfig:
    """Depths and widths of the local (inverted residual) and global (SVGA) stages."""

    local_depths: tuple[int, ...]
    local_widths: tuple[int, ...]
    global_depths: tuple[int, ...]
    global_widths: tuple[int, ...]
    embed_dim: int
    k: int = 2
    in_chans: int = 3
    distillation: bool = True
    drop_path_rate: float = 0.1
    dropout: float = 0.0
    center_minus_neighbor: bool = False

    def __post_init__(self) -> None:
        if len(self.local_depths) != len(self.local_widths) or len(self.global_depths) != len(self.global_widths):
            raise ValueError("MobileViGConfig: each stage needs one depth and one width")
        if not self.local_depths or not self.global_depths:
            raise ValueError("MobileViGConfig: at least one local and one global stage")


class MobileViG(nn.Module):
    """MobileViG classifier. In eval mode with distillation, returns the mean of both heads' logits;
    in training mode with distillation, returns (classifier logits, distillation logits)."""

    def __init__(self, config: MobileViGConfig, num_classes: int = 1000) -> None:
        super().__init__()
        self.config = config
        c = config
        n_blocks = sum(c.local_depths) + sum(c.global_depths)
        rates = iter(torch.linspace(0, c.drop_path_rate, n_blocks).tolist())

        self.stem = Stem(c.in_chans, c.local_widths[0])
        local: list[nn.Module] = []
        for i, (depth, width) in enumerate(zip(c.local_depths, c.local_widths)):
            if i > 0:
                local.append(_conv_bn(c.local_widths[i - 1], width, 3, 2))
            local.extend(InvertedResidual(width, drop_path=next(rates)) for _ in range(depth))
        self.local_stages = nn.Sequential(*local)

        glob: list[nn.Module] = [_conv_bn(c.local_widths[-1], c.global_widths[0], 3, 2)]
        for i, (depth, width) in enumerate(zip(c.global_depths, c.global_widths)):
            if i > 0:
                glob.append(_conv_bn(c.global_widths[i - 1], width, 3, 2))
            glob.extend(GraphBlock(width, c.k, next(rates), c.center_minus_neighbor) for _ in range(depth))
        self.global_stages = nn.Sequential(*glob)

        self.embed = nn.Sequential(nn.Linear(c.global_widths[-1], c.embed_dim), nn.BatchNorm1d(c.embed_dim),
                                   nn.GELU(), nn.Dropout(c.dropout))
        self.head = nn.Linear(c.embed_dim, num_classes)
        self.dist_head = nn.Linear(c.embed_dim, num_classes) if c.distillation else None
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled embedding (B, embed_dim)."""
        x = self.global_stages(self.local_stages(self.stem(x)))
        return self.embed(x.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        z = self.features(x)
        if self.dist_head is None:
            return self.head(z)
        logits, dist = self.head(z), self.dist_head(z)
        return (logits, dist) if self.training else (logits + dist) / 2


def param_count(model: nn.Module) -> int:
    """Number of parameters (BatchNorm running statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


# Widths and depths from the paper's configurations (as in the authors' released code).
CONFIGS: dict[str, MobileViGConfig] = {
    "ti": MobileViGConfig((2, 2, 6), (42, 84, 168), (2,), (256,), embed_dim=512),
    "s": MobileViGConfig((3, 3, 9), (42, 84, 176), (3,), (256,), embed_dim=512),
    "m": MobileViGConfig((3, 3, 9), (42, 84, 224), (3,), (400,), embed_dim=768),
    "b": MobileViGConfig((5, 5, 15), (42, 84, 240), (5,), (464,), embed_dim=768),
    # Same blocks, one local and one global stage, for 1-channel 32x32 input (digits upsampled 4x):
    # the stem gives 8x8, the transition 4x4, where SVGA's K=2 links each pixel to the one 2 away.
    "digits": MobileViGConfig((2,), (32,), (2,), (64,), embed_dim=128, in_chans=1, distillation=False,
                              drop_path_rate=0.0),
}


def _build(name: str, num_classes: int, **overrides: object) -> MobileViG:
    return MobileViG(replace(CONFIGS[name], **overrides), num_classes)  # type: ignore[arg-type]


def mobilevig_ti(num_classes: int = 1000, **overrides: object) -> MobileViG:
    """MobileViG-Ti (paper: 5.2 M parameters, 75.7% ImageNet-1K top-1)."""
    return _build("ti", num_classes, **overrides)


def mobilevig_s(num_classes: int = 1000, **overrides: object) -> MobileViG:
    """MobileViG-S (paper: 7.2 M parameters, 78.2% top-1)."""
    return _build("s", num_classes, **overrides)


def mobilevig_m(num_classes: int = 1000, **overrides: object) -> MobileViG:
    """MobileViG-M (paper: 14.0 M parameters, 80.6% top-1)."""
    return _build("m", num_classes, **overrides)


def mobilevig_b(num_classes: int = 1000, **overrides: object) -> MobileViG:
    """MobileViG-B (paper: 26.7 M parameters, 82.6% top-1)."""
    return _build("b", num_classes, **overrides)


def mobilevig_digits(num_classes: int = 10, **overrides: object) -> MobileViG:
    """Small MobileViG for 1x32x32 input (no distillation head, no stochastic depth)."""
    return _build("digits", num_classes, **overrides)


_AUTHORS_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^stem\.stem\.0\.", "stem.0.0."), (r"^stem\.stem\.1\.", "stem.0.1."),
    (r"^stem\.stem\.3\.", "stem.2.0."), (r"^stem\.stem\.4\.", "stem.2.1."),
    (r"\.mlp\.fc1\.", ".expand.0."), (r"\.mlp\.norm1\.", ".expand.1."),
    (r"\.mlp\.mid\.", ".depthwise.0."), (r"\.mlp\.mid_norm\.", ".depthwise.1."),
    (r"\.mlp\.fc2\.", ".project.0."), (r"\.mlp\.norm2\.", ".project.1."),
    (r"\.layer_scale_2$", ".layer_scale"), (r"\.conv\.(\d)\.", r".\1."),
    (r"\.0\.fc1\.", ".0.fc_in."), (r"\.0\.fc2\.", ".0.fc_out."), (r"\.graph_conv\.nn\.", ".graph_conv.update."),
    (r"^prediction\.1\.", "embed.0."), (r"^prediction\.2\.", "embed.1."),
)


def convert_authors_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a state_dict of the authors' released MobileViG code (SLDGroup/MobileViG) to this module's keys.

    Accepts the bare state_dict or a checkpoint holding it under "model" (a "module." prefix is dropped).
    The 1x1-conv head weights become Linear weights. Build the model with center_minus_neighbor=True to
    compute what the authors' code computes.
    """
    import re

    if "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    local_ids = [int(m.group(1)) for k in state if (m := re.match(r"local_backbone\.(\d+)\.", k))]
    transition = max(local_ids)  # the authors keep the local-to-global downsample last in local_backbone
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if m := re.match(r"local_backbone\.(\d+)\.(.*)", key):
            n = int(m.group(1))
            key = f"global_stages.0.{m.group(2)}" if n == transition else f"local_stages.{n}.{m.group(2)}"
        elif m := re.match(r"backbone\.(\d+)\.(.*)", key):
            key = f"global_stages.{int(m.group(1)) + 1}.{m.group(2)}"
        for pattern, repl in _AUTHORS_RENAMES:
            key = re.sub(pattern, repl, key)
        if key.startswith(("embed.0.weight", "head.weight", "dist_head.weight")) and value.ndim == 4:
            value = value.flatten(1)
        out[key] = value
    return out
