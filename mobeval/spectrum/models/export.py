"""A trained spectrum net as ONNX, in real arithmetic (torch's ONNX exporter does not take complex
tensors): input (B, 2, 128, 128) float32, the image's real and imaginary parts as channels; output
(B, 16384) float32 occupancy scores, the sigmoid of the (real part of the) logits. The complex net goes
through real_arithmetic.RealArithmeticResNet, the same function; the real net is exported as it is.
Made once per weights file and cached (MOBEVAL_CACHE or ~/.cache/mobeval, spectrum/) by its sha256."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from mobeval.core.hashing import file_sha256
from mobeval.core.paths import cache_dir

ONNX_OPSET = 17
INPUT, OUTPUT = "iq_image", "scores"


def scoring_module(net):
    """torch module: (B, 2, 128, 128) real input -> (B, N_BINS) scores, in real arithmetic only."""
    import torch

    from .real_arithmetic import RealArithmeticResNet

    inner = RealArithmeticResNet(net).eval() if net.complex_valued else net.eval()

    class Scores(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            out = self.inner(x)
            return torch.sigmoid(out[:, 0] if out.dim() == 3 else out)

    return Scores().eval()


def export_onnx(weights: Path, dest: Path) -> Path:
    import torch

    from .store import load_net

    module = scoring_module(load_net(weights))
    tmp = dest.with_name(dest.name + f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(module, (torch.zeros(1, 2, 128, 128),), str(tmp), input_names=[INPUT],
                          output_names=[OUTPUT], dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    os.replace(tmp, dest)
    return dest


def onnx_file(weights: Path) -> Path:
    """The cached ONNX export of a weights file (made now if missing)."""
    folder = cache_dir() / "spectrum"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{Path(weights).stem}-{file_sha256(weights)[:16]}-opset{ONNX_OPSET}.onnx"
    return dest if dest.is_file() else export_onnx(weights, dest)
