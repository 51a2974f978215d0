"""Flat block fading in the capture generator (Rayleigh, Rician): the gains' distributions against their
closed forms, each signal's received power scaled by its recorded gain, labels unchanged, and AWGN
captures byte-identical to what the generator made before fading existed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mobeval.spectrum.benchmarks.generate import CaptureKey, Recipe, fading_gains, generate_capture
from mobeval.core.errors import DataError

# sha256 of the samples of two AWGN captures, from the generator as committed before fading was added
AWGN_SHA256 = {-10: "d4bd89b7aa1e4620bef6d23bddaeb04693b15a55aa8027cd2cdffe3dce75e18d",
               4: "b9984459c018998f0a1bb851d36660c20f8ef9aba4b919ef4e56a5bd384c1523"}


def test_awgn_captures_are_unchanged_by_the_fading_code():
    for snr, digest in AWGN_SHA256.items():
        iq = generate_capture(CaptureKey(14, "test", snr, 3)).iq
        assert hashlib.sha256(iq.tobytes()).hexdigest() == digest
    assert "rician_k_db" not in Recipe().record()  # the AWGN recipe's record (and its hash) is as before


def test_gain_distributions_match_their_closed_forms():
    rng = np.random.default_rng(0)
    n = 200_000
    ray = np.abs(fading_gains(n, Recipe(fading="rayleigh"), rng)) ** 2
    # |h|^2 of CN(0,1) is exponential with mean 1: P(|h|^2 < 1) = 1 - e^-1 = 0.632
    assert ray.mean() == pytest.approx(1.0, abs=0.01)
    assert (ray < 1).mean() == pytest.approx(1 - np.exp(-1), abs=0.005)
    ric = np.abs(fading_gains(n, Recipe(fading="rician", rician_k_db=6.0), rng)) ** 2
    k = 10 ** 0.6
    # E|h|^2 = 1 and Var|h|^2 = (1 + 2K) / (1 + K)^2 = 0.361 at K = 6 dB
    assert ric.mean() == pytest.approx(1.0, abs=0.01)
    assert ric.var() == pytest.approx((1 + 2 * k) / (1 + k) ** 2, rel=0.03)
    assert np.all(fading_gains(5, Recipe(), rng) == 1)


def test_each_signal_arrives_with_its_recorded_gain_and_the_labels_do_not_move():
    key = CaptureKey(14, "test", 10, 0)
    recipe = Recipe(min_signals=1, max_signals=1)
    flat = generate_capture(key, recipe)
    faded = generate_capture(key, Recipe(min_signals=1, max_signals=1, fading="rayleigh"))
    assert [(s.lower_edge_hz, s.upper_edge_hz) for s in faded.signals] == [
        (s.lower_edge_hz, s.upper_edge_hz) for s in flat.signals]
    (detail,) = faded.source["signals"]
    gain_db = detail["fading_gain_db"]
    # the signal's in-band power (noise there is 10 dB + the band's processing gain below it)
    (sig,) = flat.signals
    freqs = np.fft.fftfreq(len(flat.iq), 1 / flat.sample_rate_hz)
    band = (freqs > sig.lower_edge_hz) & (freqs < sig.upper_edge_hz)
    power = lambda iq: float((np.abs(np.fft.fft(iq)[band]) ** 2).sum())
    assert 10 * np.log10(power(faded.iq) / power(flat.iq)) == pytest.approx(gain_db, abs=0.5)
    assert "before the fading gain" in faded.source["snr_definition"]


def test_unknown_fading_is_refused():
    with pytest.raises(DataError, match="fading 'nakagami': one of none, rayleigh, rician"):
        Recipe(fading="nakagami")


@pytest.mark.parametrize("bench, fading", [("synthetic-spectrum-rayleigh", "rayleigh"),
                                           ("synthetic-spectrum-rician", "rician")])
def test_fading_benchmarks_are_the_awgn_captures_faded(bench, fading):
    """The fading benchmarks hold the AWGN benchmark's captures (same ids, bands and modulations) with
    each signal scaled by its recorded gain, and say so in the recipe they record."""
    from mobeval.core.benchmarks import BENCHMARKS
    from mobeval.spectrum.benchmarks import synthetic

    assert BENCHMARKS[bench].kind == "spectrum-segmentation"
    faded = getattr(synthetic, "load_" + fading)(None)
    plain = synthetic.load(None)
    assert faded.name == bench and [r.id for r in faded.refs] == [r.id for r in plain.refs]
    assert faded.description["generator"]["recipe"]["fading"] == fading
    assert faded.data_sha256 != plain.data_sha256
    ref = next(r for r in faded.refs if r.snr_level_db == 0.0)
    a, b = faded.make(ref), plain.make(ref)
    assert [(s.lower_edge_hz, s.upper_edge_hz, s.modulation) for s in a.signals] == \
           [(s.lower_edge_hz, s.upper_edge_hz, s.modulation) for s in b.signals]
    assert all("fading_gain_db" in d for d in a.source["signals"]) and not np.array_equal(a.iq, b.iq)
