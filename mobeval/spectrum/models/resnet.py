"""CMuSeNet-style segmenters: a complex ResNet-18 and its real-valued counterpart at equal parameter count.

Input: the complex 1x128x128 spectrum image (features.spectrum_image). Output: one logit per FFT bin
(16,384); `occupancy()` turns it into a score in [0, 1].

Architecture (the paper's exact segmentation head is not public here, so this one is ours): a
ResNet-18 encoder, a 3x3 stem at full resolution then four stages of two basic blocks (widths w, 2w, 4w,
8w; strides 1, 2, 2, 2), and a decoder of three transposed convolutions (x2 each) that adds the
encoder's feature map of the same size (U-Net-like skips) back to 128x128, then a 1x1 convolution to
one channel, flattened row by row to the 16,384 bins.

Complex net: every layer complex (complex_layers), CReLU, complex batch norm; its output is the
paper's complex sigmoid, sigmoid(Re) + i sigmoid(Im), and the occupancy score is its real part (the
imaginary part is returned by `complex_sigmoid` but not scored). Real net: the same graph with real
layers, ReLU and batch norm, I and Q of the image as two input channels, and stage widths chosen so
its real parameter count is nearest the complex net's (a complex parameter counts as two real ones;
within 0.01% at width 64, measured by tests/test_spectrum_models.py).
"""

from __future__ import annotations

import torch
from torch import nn

from mobeval.spectrum.task.features import IMAGE_SHAPE, N_BINS

from .complex_layers import ComplexBatchNorm2d, CReLU, complex_conv, complex_conv_transpose


class _Ops:
    """The layer vocabulary of one number field."""

    def __init__(self, complex_valued: bool):
        self.complex = complex_valued

    def conv(self, cin, cout, k, stride=1):
        if self.complex:
            return complex_conv(cin, cout, k, stride)
        return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)

    def up(self, cin, cout):
        return complex_conv_transpose(cin, cout) if self.complex else nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False)

    def norm(self, c):
        return ComplexBatchNorm2d(c) if self.complex else nn.BatchNorm2d(c)

    def act(self):
        return CReLU() if self.complex else nn.ReLU(inplace=False)


class BasicBlock(nn.Module):
    def __init__(self, ops: _Ops, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(ops.conv(cin, cout, 3, stride), ops.norm(cout), ops.act(),
                                  ops.conv(cout, cout, 3), ops.norm(cout))
        self.skip = (nn.Sequential(ops.conv(cin, cout, 1, stride), ops.norm(cout))
                     if stride != 1 or cin != cout else nn.Identity())
        self.act = ops.act()

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


class SpectrumResNet(nn.Module):
    """ResNet-18 encoder-decoder segmenter; `complex_valued` picks the number field."""

    def __init__(self, complex_valued: bool = True, widths: tuple[int, int, int, int] = (64, 128, 256, 512)):
        super().__init__()
        ops = _Ops(complex_valued)
        self.complex_valued, self.widths = complex_valued, tuple(widths)
        cin = 1 if complex_valued else 2
        width = widths[0]
        self.stem = nn.Sequential(ops.conv(cin, width, 3), ops.norm(width), ops.act())
        stages, prev = [], width
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(ops, prev, w, stride), BasicBlock(ops, w, w, 1)))
            prev = w
        self.stages = nn.ModuleList(stages)
        self.ups = nn.ModuleList(ops.up(widths[i], widths[i - 1]) for i in (3, 2, 1))
        self.up_norms = nn.ModuleList(nn.Sequential(ops.norm(widths[i - 1]), ops.act()) for i in (3, 2, 1))
        self.head = ops.conv(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 128, 128) complex for the complex net, (B, 2, 128, 128) real (I, Q) for the real net.
        Returns (B, 16384) logits: complex for the complex net, real for the real net."""
        h = self.stem(x)
        skips = []
        for stage in self.stages:
            h = stage(h)
            skips.append(h)
        for up, norm, skip in zip(self.ups, self.up_norms, reversed(skips[:-1])):
            h = norm(up(h) + skip)
        return self.head(h).reshape(h.shape[0], N_BINS)


def complex_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """The paper's output non-linearity: sigmoid on the real and imaginary parts separately."""
    return torch.complex(torch.sigmoid(z.real), torch.sigmoid(z.imag))


def occupancy(logits: torch.Tensor) -> torch.Tensor:
    """Score per bin in [0, 1]: the real part of the complex sigmoid (complex net) or the sigmoid (real net)."""
    return complex_sigmoid(logits).real if logits.is_complex() else torch.sigmoid(logits)


def real_input(image: torch.Tensor) -> torch.Tensor:
    """(B, 1, 128, 128) complex image -> (B, 2, 128, 128) real: I and Q as channels."""
    return torch.cat([image.real, image.imag], dim=1)


def stage_widths(width: int) -> tuple[int, int, int, int]:
    return (width, 2 * width, 4 * width, 8 * width)


def parameter_count(widths: tuple[int, int, int, int], complex_valued: bool) -> int:
    """Real parameter count of SpectrumResNet(complex_valued, widths), in closed form (a complex weight
    counts 2; complex batch norm has 5 real parameters per channel, real batch norm 2)."""
    conv = 2 if complex_valued else 1
    bn = 5 if complex_valued else 2
    cin = 1 if complex_valued else 2
    total = conv * cin * widths[0] * 9 + bn * widths[0]
    prev = widths[0]
    for i, w in enumerate(widths):
        total += conv * (prev * w * 9 + w * w * 9) + 2 * bn * w
        if i > 0 or prev != w:
            total += conv * prev * w + bn * w
        total += conv * 2 * w * w * 9 + 2 * bn * w
        prev = w
    for i in (3, 2, 1):
        total += conv * widths[i] * widths[i - 1] * 4 + bn * widths[i - 1]
    return total + conv * widths[0]


def complex_resnet(width: int = 64) -> SpectrumResNet:
    """The complex net at ResNet-18 widths (width, 2, 4, 8 x width); 64 is ResNet-18's."""
    return SpectrumResNet(True, stage_widths(width))


def matched_real_widths(complex_width: int) -> tuple[int, int, int, int]:
    """Real-net stage widths nearest in parameter count to complex_resnet(complex_width): the first two
    stages at round(sqrt(2) x) the complex widths, the last two searched (they hold most parameters)."""
    target = parameter_count(stage_widths(complex_width), True)
    b = round(complex_width * 2**0.5)
    candidates = ((b, 2 * b, w3, w4) for w3 in range(3 * b, 5 * b + 1) for w4 in range(6 * b, 10 * b + 1))
    return min(candidates, key=lambda ws: (abs(parameter_count(ws, False) - target), ws))


def real_resnet(complex_width: int = 64) -> SpectrumResNet:
    """The real-valued counterpart of complex_resnet(complex_width), at (nearly) the same parameter count."""
    return SpectrumResNet(False, matched_real_widths(complex_width))


assert IMAGE_SHAPE == (1, 128, 128)  # the decoder's three x2 steps assume 128 = 16 * 8
