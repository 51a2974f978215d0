"""The complex net computed in real arithmetic: the same function, with real and imaginary parts as
real tensors, for ONNX export (torch's ONNX exporter does not take complex tensors) and faster CPU
training (torch's complex batch norm and CReLU run as many small complex element-wise kernels).

Layout: a complex feature map with C channels is a real one with 2C channels, the C real parts first,
then the C imaginary parts. With a complex weight W = A + iB and input x = xr + i xi, a convolution is
one real convolution with the block weight [[A, -B], [B, A]] (yr = A*xr - B*xi, yi = B*xr + A*xi); a
transposed convolution (weight laid out in x out) the block [[A, B], [-B, A]]. Complex batch norm is
the same whitening on the two halves; CReLU is ReLU on all 2C channels.

`RealArithmeticResNet(net)` copies the complex net's weights into real parameters A and B (and its
batch-norm parameters and running statistics); `write_back(net)` copies them back, so a model trained
in this form is saved, loaded and run natively as the complex net. tests/test_spectrum_train.py checks
the two agree on generated captures, in train and eval mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobeval.spectrum.task.features import N_BINS

from .complex_layers import ComplexBatchNorm2d, CReLU, whiten_halves
from .resnet import BasicBlock, SpectrumResNet


def _halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c = x.shape[1] // 2
    return x[:, :c], x[:, c:]


class RealConv(nn.Module):
    """A complex nn.Conv2d / nn.ConvTranspose2d (no bias) as one real convolution."""

    def __init__(self, conv: nn.Conv2d | nn.ConvTranspose2d):
        super().__init__()
        if conv.bias is not None:
            raise ValueError("complex convolutions with a bias are not used by SpectrumResNet")
        self.transposed = isinstance(conv, nn.ConvTranspose2d)
        self.stride, self.padding = conv.stride, conv.padding
        w = conv.weight.detach()
        self.a = nn.Parameter(w.real.clone())
        self.b = nn.Parameter(w.imag.clone())

    def weight(self) -> torch.Tensor:
        a, b = self.a, self.b
        if self.transposed:  # (in, out, k, k): rows take xr then xi
            return torch.cat([torch.cat([a, b], 1), torch.cat([-b, a], 1)], 0)
        return torch.cat([torch.cat([a, -b], 1), torch.cat([b, a], 1)], 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transposed:
            return F.conv_transpose2d(x, self.weight(), stride=self.stride)
        return F.conv2d(x, self.weight(), stride=self.stride, padding=self.padding)

    def write_back(self, conv: nn.Module) -> None:
        conv.weight.data.copy_(torch.complex(self.a.detach(), self.b.detach()))


class RealBatchNorm(nn.Module):
    """ComplexBatchNorm2d on the (real, imaginary) halves; holds the same parameters and buffers."""

    def __init__(self, bn: ComplexBatchNorm2d):
        super().__init__()
        self.eps, self.momentum = bn.eps, bn.momentum
        self.gamma = nn.Parameter(bn.gamma.detach().clone())
        self.beta = nn.Parameter(bn.beta.detach().clone())
        self.register_buffer("running_mean", bn.running_mean.clone())
        self.register_buffer("running_cov", bn.running_cov.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(whiten_halves(self, *_halves(x)), dim=1)

    def write_back(self, bn: nn.Module) -> None:
        for name in ("gamma", "beta", "running_mean", "running_cov"):
            getattr(bn, name).data.copy_(getattr(self, name).detach())


class _Block(nn.Module):
    def __init__(self, body: nn.Module, skip: nn.Module, act: nn.Module):
        super().__init__()
        self.body, self.skip, self.act = body, skip, act

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


def _convert(m: nn.Module) -> nn.Module:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        return RealConv(m)
    if isinstance(m, ComplexBatchNorm2d):
        return RealBatchNorm(m)
    if isinstance(m, CReLU):
        return nn.ReLU()
    if isinstance(m, nn.Identity):
        return nn.Identity()
    if isinstance(m, BasicBlock):
        return _Block(_convert(m.body), _convert(m.skip), _convert(m.act))
    if isinstance(m, nn.Sequential):
        return nn.Sequential(*(_convert(c) for c in m))
    if isinstance(m, nn.ModuleList):
        return nn.ModuleList(_convert(c) for c in m)
    raise TypeError(f"no real-arithmetic form for {type(m).__name__}")


def _pairs(ours: nn.Module, theirs: nn.Module):
    """(real-arithmetic leaf, complex leaf) pairs, in the same order."""
    mine = [m for m in ours.modules() if isinstance(m, (RealConv, RealBatchNorm))]
    orig = [m for m in theirs.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, ComplexBatchNorm2d))]
    assert len(mine) == len(orig)
    return zip(mine, orig)


class RealArithmeticResNet(nn.Module):
    """SpectrumResNet(complex_valued=True) in real arithmetic.

    Input (B, 2, 128, 128): the image's real and imaginary parts as channels (resnet.real_input).
    Output (B, 2, N_BINS): the complex logits' real and imaginary parts."""

    def __init__(self, net: SpectrumResNet):
        super().__init__()
        if not net.complex_valued:
            raise ValueError("RealArithmeticResNet takes the complex net")
        self.widths = net.widths
        self.stem = _convert(net.stem)
        self.stages = _convert(net.stages)
        self.ups = _convert(net.ups)
        self.up_norms = _convert(net.up_norms)
        self.head = _convert(net.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        skips = []
        for stage in self.stages:
            h = stage(h)
            skips.append(h)
        for up, norm, skip in zip(self.ups, self.up_norms, reversed(skips[:-1])):
            h = norm(up(h) + skip)
        return self.head(h).reshape(h.shape[0], 2, N_BINS)

    def write_back(self, net: SpectrumResNet) -> SpectrumResNet:
        """Copy the weights and running statistics into the complex net (returned)."""
        for ours, theirs in _pairs(self, net):
            ours.write_back(theirs)
        return net


def as_complex_logits(out: torch.Tensor) -> torch.Tensor:
    """(B, 2, N_BINS) real and imaginary parts -> (B, N_BINS) complex."""
    return torch.complex(out[:, 0], out[:, 1])
