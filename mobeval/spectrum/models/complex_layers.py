"""Complex-valued layers on torch's native complex tensors (complex64).

Convolutions are torch's own (`nn.Conv2d` / `nn.ConvTranspose2d` with a complex dtype). Batch norm is
the complex whitening of Trabelsi et al. ("Deep Complex Networks", 2018). CReLU applies ReLU to the
real and imaginary parts separately and builds a new tensor: never in place, because the batch norm
before it keeps its output for backward (complextorch's in-place default breaks exactly there).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def real_parameter_count(module: nn.Module) -> int:
    """Trainable parameters counted in real numbers: a complex parameter counts twice."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters() if p.requires_grad)


def complex_conv(cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=bias, dtype=torch.complex64)


def complex_conv_transpose(cin: int, cout: int) -> nn.ConvTranspose2d:
    """Doubles the height and width."""
    return nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False, dtype=torch.complex64)


class CReLU(nn.Module):
    """ReLU(Re z) + i ReLU(Im z), out of place."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.complex(torch.relu(z.real), torch.relu(z.imag))


class ComplexBatchNorm2d(nn.Module):
    """Complex batch norm: whiten (Re, Im) per channel with the inverse square root of their 2x2
    covariance, then a 2x2 affine map (gamma_rr, gamma_ri, gamma_ii) and a complex shift. 5 real
    parameters per channel; gamma starts at I/sqrt(2) so the output starts with E|z|^2 = 1."""

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        g = 1 / math.sqrt(2)
        self.gamma = nn.Parameter(torch.tensor([g, 0.0, g]).repeat(channels, 1).T.contiguous())  # rr, ri, ii
        self.beta = nn.Parameter(torch.zeros(2, channels))
        self.register_buffer("running_mean", torch.zeros(2, channels))
        self.register_buffer("running_cov", torch.tensor([0.5, 0.0, 0.5]).repeat(channels, 1).T.contiguous())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.complex(*whiten_halves(self, z.real, z.imag))


def whiten_halves(bn: nn.Module, xr: torch.Tensor, xi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ComplexBatchNorm2d's arithmetic on the real and imaginary parts: (Re, Im) of its output. `bn` holds
    its parameters and buffers (the complex layer, or its real-arithmetic twin); in training the running
    statistics are updated. Indexing rather than unpacking the buffers keeps the ONNX export traceable."""
    shape = (1, -1, 1, 1)
    if bn.training:
        mr, mi = xr.mean(dim=(0, 2, 3)), xi.mean(dim=(0, 2, 3))
        cr, ci = xr - mr.view(shape), xi - mi.view(shape)
        vrr, vii, vri = (cr * cr).mean(dim=(0, 2, 3)), (ci * ci).mean(dim=(0, 2, 3)), (cr * ci).mean(dim=(0, 2, 3))
        with torch.no_grad():
            m = bn.momentum
            bn.running_mean.mul_(1 - m).add_(m * torch.stack([mr, mi]))
            bn.running_cov.mul_(1 - m).add_(m * torch.stack([vrr, vri, vii]))
    else:
        mr, mi = bn.running_mean[0], bn.running_mean[1]
        vrr, vri, vii = bn.running_cov[0], bn.running_cov[1], bn.running_cov[2]
        cr, ci = xr - mr.view(shape), xi - mi.view(shape)
    vrr, vii = vrr + bn.eps, vii + bn.eps
    # inverse square root of [[vrr, vri], [vri, vii]]
    s = torch.sqrt(vrr * vii - vri * vri)
    t = torch.sqrt(vrr + vii + 2 * s)
    inv = 1 / (s * t)
    wrr, wii, wri = ((vii + s) * inv).view(shape), ((vrr + s) * inv).view(shape), (-vri * inv).view(shape)
    yr, yi = wrr * cr + wri * ci, wri * cr + wii * ci
    grr, gri, gii = (bn.gamma[i].view(shape) for i in range(3))
    br, bi = bn.beta[0].view(shape), bn.beta[1].view(shape)
    return grr * yr + gri * yi + br, gri * yr + gii * yi + bi
