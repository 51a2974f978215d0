"""The training loss: a focal loss per frequency bin on the complex sigmoid's real and imaginary parts.

The paper trains with a "complex Fourier-spectrum focal loss" whose exact form is not public here. What
is implemented, and why:

- Per bin of the (fftshifted) Fourier spectrum, the binary focal loss of Lin et al. (2017),
  FL(p, y) = -(1 - p_t)^gamma log(p_t), p_t = p if y = 1 else 1 - p, gamma = 2, no class weight
  (alpha = 0.5 for both classes): most bins are easy noise-floor bins, and the focal factor keeps them
  from swamping the few hard bins at band edges and at low SNR.
- Complex net: the output is the complex sigmoid sigmoid(Re z) + i sigmoid(Im z). Both parts are
  trained towards the same binary mask, L = FL(sigmoid(Re z), y) + FL(sigmoid(Im z), y), because the
  paper's own evaluation code reads both parts (thresholding "real AND imaginary" in one place, "OR"
  in another); mobeval scores the real part alone (resnet.occupancy).
- Real net: L = FL(sigmoid(z), y), the same loss on its one real output.
Each term is the mean over bins and captures. It is computed from logits (log-sigmoid), which is exact
and stable where a sigmoid saturates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAMMA = 2.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = GAMMA) -> torch.Tensor:
    """Mean binary focal loss of real logits against a 0/1 target of the same shape."""
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    log_pt = torch.where(target > 0.5, log_p, log_not_p)
    pt = log_pt.exp()
    return (-((1 - pt) ** gamma) * log_pt).mean()


def spectrum_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = GAMMA) -> torch.Tensor:
    """The loss above for (B, N_BINS) logits, complex (complex net) or real (real net), or (B, 2, N_BINS)
    real and imaginary parts (the complex net in real arithmetic); target (B, N_BINS) in {0, 1}."""
    if logits.is_complex():
        return focal_loss(logits.real, target, gamma) + focal_loss(logits.imag, target, gamma)
    if logits.dim() == 3:
        return focal_loss(logits[:, 0], target, gamma) + focal_loss(logits[:, 1], target, gamma)
    return focal_loss(logits, target, gamma)
