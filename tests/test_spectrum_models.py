"""Spectrum nets (architecture only, untrained): complex layers, parameter parity of the complex and
real ResNets, shapes and a backward pass through CReLU after complex batch norm."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mobeval.spectrum.benchmarks.generate import CaptureKey, generate_capture
from mobeval.spectrum.models.complex_layers import (
    ComplexBatchNorm2d,
    CReLU,
    complex_conv,
    real_parameter_count,
)
from mobeval.spectrum.models.resnet import (
    SpectrumResNet,
    complex_resnet,
    complex_sigmoid,
    matched_real_widths,
    occupancy,
    parameter_count,
    real_input,
    real_resnet,
    stage_widths,
)
from mobeval.spectrum.task.features import N_BINS, spectrum_image
from mobeval.spectrum.task.metrics import score_capture


@pytest.mark.parametrize("width", [2, 4, 8])
def test_closed_form_parameter_count_matches_the_modules(width):
    c, r = complex_resnet(width), real_resnet(width)
    assert real_parameter_count(c) == parameter_count(stage_widths(width), True)
    assert real_parameter_count(r) == parameter_count(r.widths, False)
    assert any(p.is_complex() for p in c.parameters()) and not any(p.is_complex() for p in r.parameters())


@pytest.mark.parametrize("width", [4, 8, 16, 32, 64])
def test_real_counterpart_has_the_same_parameter_count(width):
    pc = parameter_count(stage_widths(width), True)
    pr = parameter_count(matched_real_widths(width), False)
    assert abs(pr - pc) / pc < 1e-3, (width, pc, pr)
    if width == 64:
        assert 23e6 < pc < 24e6  # ResNet-18 widths: 11.9 M complex = 23.7 M real parameters


def test_complex_conv_is_the_four_real_convolutions():
    torch.manual_seed(0)
    conv = complex_conv(3, 5, 3)
    x = torch.randn(2, 3, 9, 9, dtype=torch.complex64)
    wr, wi = conv.weight.real, conv.weight.imag
    f = torch.nn.functional.conv2d
    want_r = f(x.real, wr, padding=1) - f(x.imag, wi, padding=1)
    want_i = f(x.imag, wr, padding=1) + f(x.real, wi, padding=1)
    got = conv(x)
    assert torch.allclose(got.real, want_r, atol=1e-5) and torch.allclose(got.imag, want_i, atol=1e-5)


def test_crelu_is_out_of_place():
    z = torch.complex(torch.tensor([-1.0, 2.0]), torch.tensor([3.0, -4.0]))
    keep = z.clone()
    out = CReLU()(z)
    assert torch.equal(z, keep) and out.data_ptr() != z.data_ptr()
    assert torch.equal(out, torch.complex(torch.tensor([0.0, 2.0]), torch.tensor([3.0, 0.0])))


def test_complex_batch_norm_whitens():
    torch.manual_seed(1)
    a = torch.randn(64, 2, 8, 8)
    b = torch.randn(64, 2, 8, 8)
    z = torch.complex(3 * a + 1, 2 * a + 0.5 * b - 2)  # correlated, scaled, shifted
    bn = ComplexBatchNorm2d(2)
    with torch.no_grad():
        bn.gamma.copy_(torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]))  # identity affine
    out = bn(z)
    r, i = out.real.transpose(0, 1).reshape(2, -1), out.imag.transpose(0, 1).reshape(2, -1)
    assert torch.allclose(r.mean(1), torch.zeros(2), atol=1e-4) and torch.allclose(i.mean(1), torch.zeros(2), atol=1e-4)
    assert torch.allclose((r * r).mean(1), torch.ones(2), atol=1e-3)
    assert torch.allclose((i * i).mean(1), torch.ones(2), atol=1e-3)
    assert torch.allclose((r * i).mean(1), torch.zeros(2), atol=1e-3)
    for _ in range(60):  # running statistics converge; eval mode then whitens the same way
        bn(z)
    bn.eval()
    assert torch.allclose(bn(z), out, atol=0.05)


def test_forward_shapes_and_backward_through_crelu_after_batch_norm():
    torch.manual_seed(2)
    image = torch.randn(2, 1, 128, 128, dtype=torch.complex64)
    for net, x in ((complex_resnet(2), image), (real_resnet(2), real_input(image))):
        net.train()
        logits = net(x)
        assert logits.shape == (2, N_BINS) and logits.is_complex() == net.complex_valued
        scores = occupancy(logits)
        assert scores.dtype == torch.float32 and bool(((scores >= 0) & (scores <= 1)).all())
        scores.mean().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert real_input(image).shape == (2, 2, 128, 128)
    s = complex_sigmoid(torch.complex(torch.tensor([0.0]), torch.tensor([100.0])))
    assert float(s.real) == 0.5 and float(s.imag) == pytest.approx(1.0)


def test_capture_to_scores_plumbing():
    """From a generated capture through the (untrained) complex net to the metrics: shapes only."""
    c = generate_capture(CaptureKey(40, "test", 0, 0))
    x = torch.from_numpy(spectrum_image(c.iq))[None]
    net = SpectrumResNet(True, (2, 4, 8, 16)).eval()
    with torch.no_grad():
        scores = occupancy(net(x))[0].numpy().astype(np.float64)
    s = score_capture(c, scores)
    assert s.n_bins == N_BINS and len(s.signal_ious) == len(c.signals)
