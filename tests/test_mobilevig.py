"""MobileViG: the paper's model sizes, SVGA's aggregation against hand-computed values, and the shipped
digits model scored on its 500 held-out images."""

from __future__ import annotations

import hashlib

import pytest
import torch

from mobeval.vision.models.arch import mobilevig_b, mobilevig_m, mobilevig_s, mobilevig_ti, param_count, svga_aggregate
from mobeval.vision.models.arch.mobilevig import MobileViG

# Paper, Table of ImageNet-1K results (millions of parameters, one decimal).
PAPER_PARAMS_M = {"ti": 5.2, "s": 7.2, "m": 14.0, "b": 26.7}
BUILDERS = {"ti": mobilevig_ti, "s": mobilevig_s, "m": mobilevig_m, "b": mobilevig_b}


def _batchnorm_params(model: MobileViG) -> int:
    norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    return sum(p.numel() for m in model.modules() if isinstance(m, norms) for p in m.parameters())


@pytest.mark.parametrize("name", ["ti", "s"])
def test_parameter_count_matches_paper(name: str) -> None:
    model = BUILDERS[name](num_classes=1000)
    total = param_count(model)
    assert abs(total / 1e6 - PAPER_PARAMS_M[name]) / PAPER_PARAMS_M[name] < 0.02, total
    # The paper's one-decimal figure is the count with BatchNorm folded into the convolutions.
    assert round((total - _batchnorm_params(model)) / 1e6, 1) == PAPER_PARAMS_M[name]


def test_distillation_head_averaged_at_inference() -> None:
    model = mobilevig_ti(num_classes=7).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        z = model.features(x)
        assert torch.allclose(model(x), (model.head(z) + model.dist_head(z)) / 2)
    assert model(x).shape == (1, 7)


def test_svga_row_every_second_pixel_both_directions() -> None:
    # One row of 6 pixels, K=2: pixel j's neighbours are j±2 (wrapping) and itself.
    x = torch.tensor([3.0, 0.0, 7.0, 1.0, 4.0, 9.0]).view(1, 1, 1, 6)
    # j=0: max(0, 7-3, 4-3)=4; j=1: max(0, 1-0, 9-0)=9; j=2: max(0, 4-7, 3-7)=0;
    # j=3: max(0, 9-1, 0-1)=8; j=4: max(0, 3-4, 7-4)=3; j=5: max(0, 0-9, 1-9)=0
    assert svga_aggregate(x, k=2).flatten().tolist() == [4.0, 9.0, 0.0, 8.0, 3.0, 0.0]
    # The authors' code takes x_i - x_j: j=0: max(0, 3-7, 3-4)=0; j=2: max(0, 7-4, 7-3)=4; j=5: 9-0=9
    assert svga_aggregate(x, k=2, center_minus_neighbor=True).flatten().tolist() == [0.0, 0.0, 4.0, 1.0, 1.0, 9.0]
    # K=3 on 6 pixels: only j±3.
    assert svga_aggregate(x, k=3).flatten().tolist() == [0.0, 4.0, 2.0, 2.0, 0.0, 0.0]


def test_svga_links_rows_and_columns_not_diagonals() -> None:
    # 4x4 map, a single 10 at (2, 2); K=2. Only (0, 2) (same column) and (2, 0) (same row) see it;
    # (0, 0) is diagonal to it and (1, 2), (2, 1), (3, 2) are 1 step away, not K.
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 2, 2] = 10.0
    expected = torch.zeros(4, 4)
    expected[0, 2] = expected[2, 0] = 10.0
    assert torch.equal(svga_aggregate(x, k=2)[0, 0], expected)


def test_svga_channels_independent() -> None:
    x = torch.tensor([[1.0, 5.0], [5.0, 1.0]]).view(1, 2, 1, 2)  # channel 0: [1, 5]; channel 1: [5, 1]
    # W=2, K=1: each pixel's neighbour is the other one.
    assert svga_aggregate(x, k=1).view(2, 2).tolist() == [[4.0, 0.0], [0.0, 4.0]]


def test_shipped_digits_model_scores_held_out_digits() -> None:
    from mobeval.vision.models.arch.digits import WEIGHTS, load_split, load_trained, read_sidecar, top1

    record = read_sidecar()
    split = load_split()
    assert split.test_indices_sha256() == record["test_indices_sha256"], "the held-out split changed"
    assert len(split.test_y) == 500 and len(split.train_y) == 1297
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == record["weights_sha256"]
    model = load_trained()
    assert param_count(model) == record["param_count"]
    acc = top1(model, split.test_x, split.test_y)
    assert acc >= record["test_top1"] - 0.005
    assert acc > 0.9  # chance is 0.1


def test_weights_sha256_matches_sidecar() -> None:
    from mobeval.vision.models.arch.digits import WEIGHTS, read_sidecar

    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == read_sidecar()["weights_sha256"]
    assert WEIGHTS.stat().st_size < 1_000_000
