"""The `torchsig-wideband` benchmark: wideband captures from TorchSig's generator, where it installs
(`pip install 'mobeval[torchsig]'`, torchsig 2.2.0).

TorchSig is a second, independent source of captures: its own signal builders (QAM/PSK/FSK, OFDM, AM,
FM, chirps, LoRa, ... 69 classes), its own noise floor and its own labels. What mobeval asks of it
(`TorchSigRecipe`): the CMuSeNet capture (20 MS/s, 40,000 samples, band -10..10 MHz), 1 to 10 signals
of 100 kHz to 2 MHz requested bandwidth, no co-channel overlap, every signal lasting the whole capture
(the task labels frequency only), and every signal of a capture at one SNR level.

Definitions are TorchSig's, recorded with every capture:
- SNR: the peak of the signal's time-averaged spectrogram (fft_size-point Blackman FFTs) over the noise
  floor's average bin, in dB. This is not the synthetic-spectrum generator's SNR (signal power over
  noise power across the full 20 MHz), so the two benchmarks' levels are not comparable.
- Band edges: TorchSig's estimate after scaling: the outermost spectrogram bins whose max hold exceeds
  the noise floor by 3 dB, widened by half a bin. A weak signal's label is narrower than its occupied
  band.
- Signals do not overlap: TorchSig 2.2.0 lets overlapping signals through even with a co-channel
  overlap probability of 0 (19 of 40 draws at 10 dB: scripts/torchsig_overlap_rate.py), and the task
  gives each bin to one signal at most. A draw whose labelled bands overlap is redrawn from the same
  seeded stream, so a capture is still one fixed draw; each capture records how many draws it passed
  over. This biases the set toward fewer signals per capture than TorchSig's draw.
- The modulation is TorchSig's class name. Transmit power and per-sample noise power are not given by
  TorchSig: NaN.

Determinism: capture i of level L is TorchSig's dataset seeded with (seed, L, i) and drawn once, so a
capture does not depend on which others were made. No capture of empty spectrum (TorchSig draws at
least one signal).

TorchSig imports torchaudio; torchaudio 2.11 (the newest on PyPI) ships a native library built for an
older torch, whose load fails with torch 2.13. `import_torchsig` then imports torchaudio the way
torchaudio itself does when that library file is absent: without its native ops. TorchSig's generator
uses only torchaudio's Spectrogram, which is pure torch.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from types import ModuleType

import numpy as np

from mobeval.spectrum.benchmarks.dataset import CaptureRef, SpectrumSet
from mobeval.core.errors import DataError, MobevalError
from mobeval.core.hashing import text_sha256
from mobeval.spectrum.task.items import Capture, Signal

TORCHSIG_VERSION = "2.2.0"
INSTALL = "pip install 'mobeval[torchsig]'  (torchsig==2.2.0)"
SEED = 14
PER_LEVEL = 3
LEVELS_DB = (0, 4, 8, 12, 16, 20)  # TorchSig's SNR (peak spectrogram bin over the noise floor)


@dataclass(frozen=True)
class TorchSigRecipe:
    """The TorchSig dataset metadata mobeval sets; every field is recorded in the result."""

    sample_rate_hz: float = 20e6
    num_samples: int = 40_000
    min_signals: int = 1
    max_signals: int = 10
    bandwidth_min_hz: float = 100e3
    bandwidth_max_hz: float = 2e6
    fft_size: int = 128  # TorchSig's SNR and band-edge estimates are made on this FFT
    cochannel_overlap_probability: float = 0.0
    noise_power_db: float = 0.0

    def metadata(self, snr_db: float) -> dict:
        """TorchSig's dataset metadata for captures at one SNR level."""
        half = self.sample_rate_hz / 2
        return {
            "num_iq_samples_dataset": self.num_samples, "sample_rate": self.sample_rate_hz,
            "num_signals_min": self.min_signals, "num_signals_max": self.max_signals,
            "fft_size": self.fft_size, "fft_stride": self.fft_size,
            "noise_power_db": self.noise_power_db, "snr_db_min": snr_db, "snr_db_max": snr_db,
            "cochannel_overlap_probability": self.cochannel_overlap_probability,
            "signal_duration_in_samples_min": self.num_samples, "signal_duration_in_samples_max": self.num_samples,
            "bandwidth_min": self.bandwidth_min_hz, "bandwidth_max": self.bandwidth_max_hz,
            "signal_center_freq_min": -half + self.bandwidth_max_hz / 2,
            "signal_center_freq_max": half - self.bandwidth_max_hz / 2 - 1,
            "frequency_min": -half, "frequency_max": half - 1,
        }


def import_torchsig() -> ModuleType:
    """torchsig, importable with CPU torch 2.13 (see the module docstring); a clear error where it is not
    installed."""
    try:
        import torchaudio  # noqa: F401
    except ImportError as exc:
        raise MobevalError(f"the torchsig-wideband benchmark needs TorchSig: {INSTALL} ({exc})") from exc
    except OSError:
        utils = sys.modules.get("torchaudio._extension.utils")
        if utils is None:
            raise
        utils._load_lib = lambda lib: False  # torchaudio's own path for an absent native library
        import torchaudio  # noqa: F401
    try:
        import torchsig
        from torchsig.utils.defaults import default_dataset  # noqa: F401
    except ImportError as exc:
        raise MobevalError(f"the torchsig-wideband benchmark needs TorchSig: {INSTALL} ({exc})") from exc
    if torchsig.__version__ != TORCHSIG_VERSION:
        raise MobevalError(f"torchsig {torchsig.__version__} is installed; mobeval reads TorchSig {TORCHSIG_VERSION}'s "
                           f"metadata: {INSTALL}")
    return torchsig


def capture_seed(seed: int, level_db: float, index: int) -> int:
    """TorchSig's seed for capture `index` of `level_db`: one 63-bit integer from numpy's SeedSequence."""
    words = np.random.SeedSequence([seed, int(round(level_db * 10)) + 1000, index]).generate_state(2, np.uint32)
    return int(words[0]) << 31 | int(words[1]) >> 1


def capture_id(seed: int, level_db: float, index: int) -> str:
    return f"torchsig{TORCHSIG_VERSION}-s{seed}-snr{level_db:g}-{index:05d}"


MAX_DRAWS = 100


def overlapping(edges: list[tuple[float, float]]) -> bool:
    """Whether any two of these bands share a frequency."""
    ordered = sorted(edges)
    return any(a[1] > b[0] for a, b in zip(ordered, ordered[1:]))


def make_capture(seed: int, level_db: float, index: int, recipe: TorchSigRecipe = TorchSigRecipe()) -> Capture:
    """Capture `index` of `level_db`: TorchSig's sample and its component signals' labels."""
    import warnings

    import_torchsig()
    from torchsig.utils.defaults import default_dataset

    cid = capture_id(seed, level_db, index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TorchSig warns of truncation at full-length signals
        ds = default_dataset(**recipe.metadata(level_db))
        ds.seed(capture_seed(seed, level_db, index))
        for redrawn in range(MAX_DRAWS):
            sample = next(ds)
            if not overlapping([(float(c.lower_freq), float(c.upper_freq)) for c in sample.component_signals]):
                break
        else:
            raise DataError(f"capture {cid}: TorchSig put signals on top of each other in {MAX_DRAWS} draws")
    iq = np.asarray(sample.data)
    if iq.shape != (recipe.num_samples,) or not np.isfinite(iq).all():
        raise DataError(f"capture {cid}: TorchSig gave {iq.shape} samples (finite: {np.isfinite(iq).all()}), "
                        f"expected {recipe.num_samples}")
    signals, details = [], []
    for c in sorted(sample.component_signals, key=lambda c: float(c.lower_freq)):
        lower, upper = float(c.lower_freq), float(c.upper_freq)
        signals.append(Signal(lower, upper, str(c["class_name"]), float("nan"), float(c["snr_db"])))
        details.append({"class_name": str(c["class_name"]), "center_freq_hz": float(c["center_freq"]),
                        "bandwidth_hz": float(c["bandwidth"]),
                        "start_in_samples": int(c["start_in_samples"]),
                        "duration_in_samples": int(c["duration_in_samples"])})
    source = {"kind": "torchsig", "torchsig_version": TORCHSIG_VERSION, "seed": seed, "index": index,
              "torchsig_seed": capture_seed(seed, level_db, index), "recipe": asdict(recipe),
              "snr_definition": "TorchSig's: peak of the signal's time-averaged spectrogram over the noise floor's "
                                "average bin (dB)",
              "band_edges": "TorchSig's: spectrogram max hold 3 dB over the noise floor, widened by half a bin",
              "draws_with_overlap_redrawn": redrawn,
              "signals": details}
    return Capture(cid, iq.astype(np.complex64), recipe.sample_rate_hz, 0.0, tuple(signals), float("nan"),
                   float(level_db), source)


def torchsig_set(seed: int = SEED, per_level: int = PER_LEVEL, levels_db: tuple[float, ...] = LEVELS_DB,
                 recipe: TorchSigRecipe = TorchSigRecipe()) -> SpectrumSet:
    """The benchmark's index; TorchSig is imported (and checked) now, each capture made when read."""
    import_torchsig()
    keys = {capture_id(seed, level, i): (level, i) for level in levels_db for i in range(per_level)}
    refs = tuple(CaptureRef(id=cid, snr_level_db=float(level), n_signals=None,
                            source={"kind": "torchsig", "torchsig_version": TORCHSIG_VERSION, "seed": seed})
                 for cid, (level, _) in keys.items())
    description = {"torchsig": {"version": TORCHSIG_VERSION, "seed": seed, "per_level": per_level,
                                "levels_db": list(levels_db), "recipe": asdict(recipe),
                                "snr_definition": "TorchSig's (peak spectrogram bin over the noise floor), not "
                                                  "synthetic-spectrum's"}}
    return SpectrumSet(
        name="torchsig-wideband", refs=refs,
        sources=[f"torchsig {TORCHSIG_VERSION} wideband generator, seed {seed} (made on the fly)"],
        description=description, data_sha256=text_sha256(json.dumps(description, sort_keys=True)),
        make=lambda ref: make_capture(seed, *keys[ref.id], recipe),
    )


def load(options) -> SpectrumSet:
    """The `torchsig-wideband` benchmark (takes no options)."""
    return torchsig_set()
