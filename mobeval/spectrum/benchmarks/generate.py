"""Synthetic wideband captures after the CMuSeNet recipe, deterministic by seed and versioned.

Recipe (every value is a field of `Recipe` and is recorded in each capture's `source`):
20 MS/s complex baseband (a 20 MHz span), 40,000 samples (2 ms); 1 to 10 signals, non-overlapping, at
least 100 kHz apart and 50 kHz clear of the band edges; occupied bandwidths drawn from {0.1, 0.2, 0.5,
1, 2} MHz; modulations QPSK, BPSK, 8PSK, 8QAM, 16QAM, GMSK, 2FSK; transmit powers uniform in 0-20 dB;
AWGN set so that the weakest signal's SNR is the capture's level (-20..10 dB in 2 dB steps).

Waveforms. Linear modulations are root-raised-cosine shaped (roll-off 0.35, span 10 symbols) at symbol
rate Rs = bandwidth / 1.35, so the occupied band Rs(1 + roll-off) is the label. GMSK (BT 0.3, h 0.5) runs
at bandwidth / 1.35 bit/s and 2FSK (continuous phase, h 1, rectangular) at bandwidth / 3 symbol/s;
neither is band-limited by nature, so both pass through an ideal channel filter (an FFT mask) at
± bandwidth / 2 (their skirts are below -30 dB of the peak within the outer 15% of the band; the RRC
spectrum ends at the band edge itself, apart from the -30 dB floor its 10-symbol truncation leaves).
8QAM is the rectangular 4 x 2 grid. Symbol timing and carrier phase are random; every signal is normalised to exactly its
power over the capture. SNR is signal power over the noise power in the full 20 MHz band (the noise
variance per complex sample); `in_band_snr_db` in the source adds 10 log10(sample_rate / bandwidth).

Seeds. A capture is named by its key (generator version, seed, split, SNR level, index); its random
stream is numpy's SeedSequence(seed, spawn_key=(version, split, level, index)), so train, validation and
test captures are distinct streams by construction, and the capture id spells the key out.
`refuse_training_overlap` stops an evaluation on captures that a model was trained on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from mobeval.core.errors import DataError
from mobeval.spectrum.task.items import Capture, Signal

GENERATOR_VERSION = 1
SPLITS = ("train", "validation", "test")
SNR_LEVELS_DB = tuple(range(-20, 11, 2))
BANDWIDTHS_HZ = (100e3, 200e3, 500e3, 1e6, 2e6)
MODULATIONS = ("QPSK", "BPSK", "8PSK", "8QAM", "16QAM", "GMSK", "2FSK")
_LINEAR = {
    "BPSK": np.array([1, -1], dtype=complex),
    "QPSK": np.exp(1j * (np.pi / 4 + np.pi / 2 * np.arange(4))),
    "8PSK": np.exp(1j * np.pi / 4 * np.arange(8)),
    "8QAM": np.array([x + 1j * y for x in (-3, -1, 1, 3) for y in (-1, 1)], dtype=complex),
    "16QAM": np.array([x + 1j * y for x in (-3, -1, 1, 3) for y in (-3, -1, 1, 3)], dtype=complex),
}


@dataclass(frozen=True)
class Recipe:
    sample_rate_hz: float = 20e6
    centre_freq_hz: float = 0.0
    num_samples: int = 40_000
    min_signals: int = 1
    max_signals: int = 10
    min_gap_hz: float = 100e3
    edge_guard_hz: float = 50e3
    bandwidths_hz: tuple[float, ...] = BANDWIDTHS_HZ
    modulations: tuple[str, ...] = MODULATIONS
    rrc_rolloff: float = 0.35
    rrc_span_symbols: int = 10
    power_db_range: tuple[float, float] = (0.0, 20.0)
    gmsk_bt: float = 0.3
    fsk_modulation_index: float = 1.0
    fading: str = "none"  # "none" (AWGN), or flat block fading per signal: "rayleigh", "rician"
    rician_k_db: float = 6.0  # the Rician K-factor (line-of-sight power over scattered power), dB

    def __post_init__(self) -> None:
        unknown = set(self.modulations) - set(MODULATIONS)
        if unknown:
            raise DataError(f"unknown modulation(s) {sorted(unknown)}; known: {', '.join(MODULATIONS)}")
        if not 0 <= self.min_signals <= self.max_signals:
            raise DataError(f"need 0 <= min_signals <= max_signals, got {self.min_signals}, {self.max_signals}")
        if self.fading not in FADING:
            raise DataError(f"fading {self.fading!r}: one of {', '.join(FADING)}")
        k = self.rician_k_db
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not np.isfinite(k):
            raise DataError(f"rician_k_db {k!r}: the Rician K-factor must be a finite number of dB")

    def record(self) -> dict:
        """Every parameter; the K-factor only where it is used, so an AWGN recipe's record (and the
        hashes made of it) is what it was before fading existed."""
        kept = asdict(self)
        if self.fading != "rician":
            kept.pop("rician_k_db")
        return kept | {"generator_version": GENERATOR_VERSION}


FADING = ("none", "rayleigh", "rician")


def fading_gains(n: int, recipe: Recipe, rng: np.random.Generator) -> np.ndarray:
    """One complex gain per signal, E|h|^2 = 1 (flat block fading over the capture). Rayleigh: h ~ CN(0, 1).
    Rician with K = 10^(rician_k_db / 10): h = sqrt(K / (K + 1)) e^{j phi} + sqrt(1 / (K + 1)) CN(0, 1),
    phi uniform. "none": all ones."""
    if recipe.fading == "none":
        return np.ones(n, dtype=complex)
    scattered = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    if recipe.fading == "rayleigh":
        return scattered
    k = 10 ** (recipe.rician_k_db / 10)
    los = np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    return np.sqrt(k / (k + 1)) * los + np.sqrt(1 / (k + 1)) * scattered


# --- keys and ids -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureKey:
    """What names a generated capture; `snr_db` None is a capture of empty spectrum."""

    seed: int
    split: str
    snr_db: int | None
    index: int
    version: int = GENERATOR_VERSION

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise DataError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.seed < 0 or self.index < 0:
            raise DataError(f"seed and index must be >= 0, got {self.seed}, {self.index}")
        if self.snr_db is not None and not -100 < self.snr_db < 100:
            raise DataError(f"SNR level {self.snr_db} dB is outside (-100, 100)")

    @property
    def id(self) -> str:
        level = "empty" if self.snr_db is None else f"snr{self.snr_db:+03d}"
        return f"synth-v{self.version}-s{self.seed}-{self.split}-{level}-{self.index:06d}"

    def seed_sequence(self) -> np.random.SeedSequence:
        level = 0 if self.snr_db is None else self.snr_db + 101
        return np.random.SeedSequence(self.seed, spawn_key=(self.version, SPLITS.index(self.split) + 1, level, self.index))

    @classmethod
    def parse(cls, capture_id: str) -> CaptureKey:
        m = re.fullmatch(r"synth-v(\d+)-s(\d+)-(\w+)-(empty|snr[+-]\d+)-(\d+)", capture_id)
        if not m:
            raise DataError(f"{capture_id!r} is not a generated capture id (synth-vV-sSEED-SPLIT-snr±LL-INDEX)")
        level = None if m[4] == "empty" else int(m[4][3:])
        return cls(int(m[2]), m[3], level, int(m[5]), int(m[1]))


# --- waveforms --------------------------------------------------------------------------------------


def rrc_pulse(x: np.ndarray, rolloff: float) -> np.ndarray:
    """Root-raised-cosine impulse response at x = t / T (unit energy per symbol up to a constant)."""
    x = np.asarray(x, dtype=float)
    a = rolloff
    out = np.empty_like(x)
    zero = np.isclose(x, 0.0)
    sing = np.isclose(np.abs(x), 1 / (4 * a)) if a > 0 else np.zeros_like(zero)
    rest = ~(zero | sing)
    xr = x[rest]
    out[rest] = (np.sin(np.pi * xr * (1 - a)) + 4 * a * xr * np.cos(np.pi * xr * (1 + a))) / (
        np.pi * xr * (1 - (4 * a * xr) ** 2)
    )
    out[zero] = 1 - a + 4 * a / np.pi
    out[sing] = a / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * a)) + (1 - 2 / np.pi) * np.cos(np.pi / (4 * a)))
    return out


_PHASES = 4096


def _pulse_train(values: np.ndarray, t: np.ndarray, period: float, pulse, span: int) -> np.ndarray:
    """sum_k values[k] * pulse(t/period - k) over |t/period - k| <= span/2 (even span); values[0] is k = -span.

    The pulse is tabulated at 4,096 phases per symbol and each sample's timing phase is rounded to the
    nearest (a timing error of at most 1/8,192 symbol, about -70 dB against the signal), which keeps a
    40,000-sample capture fast to generate.
    """
    half = span // 2
    grid = (np.arange(span * _PHASES + 1) - half * _PHASES) / _PHASES
    table = np.concatenate([pulse(grid), np.zeros(_PHASES)])
    pos = t / period
    base = np.floor(pos).astype(int)
    phase = np.rint((pos - base) * _PHASES).astype(int)
    offsets = np.arange(-half, half + 1)
    h = table[phase[:, None] + ((half - offsets) * _PHASES)[None, :]]
    return np.einsum("nk,nk->n", values[base[:, None] + (offsets + span)[None, :]], h)


def _band_limit(x: np.ndarray, sample_rate: float, bandwidth: float) -> np.ndarray:
    """Ideal channel filter: zero every FFT bin beyond ± bandwidth / 2."""
    f = np.fft.fftfreq(x.shape[0], 1 / sample_rate)
    spec = np.fft.fft(x)
    spec[np.abs(f) > bandwidth / 2] = 0
    return np.fft.ifft(spec)


def _gaussian_freq_pulse(x: np.ndarray, bt: float) -> np.ndarray:
    """GMSK frequency pulse at x = t / T: a rectangle of one symbol convolved with a Gaussian (area 1)."""
    from scipy.special import erf

    c = np.pi * bt * np.sqrt(2 / np.log(2))
    return 0.5 * (erf(c * (x + 0.5)) - erf(c * (x - 0.5)))


def baseband_waveform(
    modulation: str, bandwidth: float, n: int, recipe: Recipe, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """Unit-power complex baseband waveform occupying ± bandwidth / 2, and its parameters."""
    fs = recipe.sample_rate_hz
    span = recipe.rrc_span_symbols
    if modulation in _LINEAR or modulation == "GMSK":
        rate = bandwidth / (1 + recipe.rrc_rolloff)
    else:
        rate = bandwidth / (2 + recipe.fsk_modulation_index)
    period = 1 / rate
    timing = float(rng.uniform(0, period))
    t = np.arange(n) / fs + timing
    n_sym = int(np.ceil(t[-1] / period)) + 2 * span + 2
    params = {"symbol_rate_hz": rate, "timing_offset_s": timing}
    if modulation in _LINEAR:
        const = _LINEAR[modulation]
        syms = const[rng.integers(0, const.size, n_sym)]
        x = _pulse_train(syms, t, period, lambda u: rrc_pulse(u, recipe.rrc_rolloff), span)
        params |= {"pulse": "rrc", "rolloff": recipe.rrc_rolloff, "span_symbols": span}
    else:
        bits = rng.integers(0, 2, n_sym) * 2 - 1.0
        if modulation == "GMSK":
            h = 0.5
            freq = _pulse_train(bits, t, period, lambda u: _gaussian_freq_pulse(u, recipe.gmsk_bt), span)
            params |= {"bt": recipe.gmsk_bt, "modulation_index": h}
        else:
            h = recipe.fsk_modulation_index
            freq = _pulse_train(bits, t, period, lambda u: ((u >= -0.5) & (u < 0.5)).astype(float), 2)
            params |= {"modulation_index": h, "frequency_pulse": "rectangular"}
        # Instantaneous frequency h * Rs / 2 * sum(bits * pulse); the phase is its integral.
        phase = np.cumsum(np.pi * h * freq / (fs * period))
        x = _band_limit(np.exp(1j * phase), fs, bandwidth)
        params |= {"band_limit": "fft mask at ± bandwidth/2"}
    x = x * np.exp(1j * rng.uniform(0, 2 * np.pi))
    return x / np.sqrt(np.mean(np.abs(x) ** 2)), params


# --- captures ---------------------------------------------------------------------------------------


def _draw_layout(recipe: Recipe, rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """n non-overlapping bands (lower, upper) in Hz around 0, >= min_gap apart, inside the guarded span."""
    usable = recipe.sample_rate_hz - 2 * recipe.edge_guard_hz
    for _ in range(1000):
        bws = rng.choice(np.asarray(recipe.bandwidths_hz), n)
        free = usable - bws.sum() - (n - 1) * recipe.min_gap_hz
        if free >= 0:
            break
    else:
        raise DataError(f"{n} signals from {recipe.bandwidths_hz} Hz do not fit in {usable} Hz")
    cuts = np.sort(rng.uniform(0, free, n))
    spaces = np.diff(np.concatenate([[0.0], cuts]))
    lower = -recipe.sample_rate_hz / 2 + recipe.edge_guard_hz
    bands = []
    for bw, space in zip(bws, spaces):
        lower += space
        bands.append((float(lower), float(lower + bw)))
        lower += bw + recipe.min_gap_hz
    return bands


def generate_capture(key: CaptureKey, recipe: Recipe = Recipe()) -> Capture:
    """The capture named by `key`: the same key and recipe give the same samples on any machine."""
    if key.version != GENERATOR_VERSION:
        raise DataError(f"capture {key.id} needs generator version {key.version}; this is version {GENERATOR_VERSION}")
    rng = np.random.default_rng(key.seed_sequence())
    fs, n = recipe.sample_rate_hz, recipe.num_samples
    n_signals = 0 if key.snr_db is None else int(rng.integers(max(1, recipe.min_signals), recipe.max_signals + 1))
    bands = _draw_layout(recipe, rng, n_signals) if n_signals else []
    powers_db = rng.uniform(*recipe.power_db_range, n_signals)
    noise_power = 1.0 if key.snr_db is None else float(10 ** ((powers_db.min() - key.snr_db) / 10))
    t = np.arange(n) / fs
    iq = np.sqrt(noise_power / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    # the fading draws come from their own stream, so an AWGN capture is the same with or without this code
    gains = fading_gains(n_signals, recipe, np.random.default_rng(key.seed_sequence().spawn(1)[0]))
    signals, details = [], []
    for (lo, hi), p_db, h in zip(bands, powers_db, gains):
        modulation = str(rng.choice(recipe.modulations))
        wave, params = baseband_waveform(modulation, hi - lo, n, recipe, rng)
        centre = (lo + hi) / 2
        iq += h * np.sqrt(10 ** (p_db / 10)) * wave * np.exp(2j * np.pi * centre * t)
        snr = float(p_db - 10 * np.log10(noise_power))
        signals.append(Signal(recipe.centre_freq_hz + lo, recipe.centre_freq_hz + hi, modulation, float(p_db), snr))
        fade = {} if recipe.fading == "none" else {"fading_gain_db": float(20 * np.log10(abs(h))),
                                                    "fading_phase_rad": float(np.angle(h))}
        details.append(params | {"in_band_snr_db": snr + 10 * np.log10(fs / (hi - lo))} | fade)
    source = {
        "kind": "synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": key.seed,
        "split": key.split,
        "index": key.index,
        "recipe": recipe.record(),
        "snr_definition": "signal power / noise power over the full sample rate"
                          + ("" if recipe.fading == "none" else "; transmit power, before the fading gain (average SNR)"),
        "signals": details,
    }
    return Capture(key.id, iq.astype(np.complex64), fs, recipe.centre_freq_hz, tuple(signals), noise_power,
                   None if key.snr_db is None else float(key.snr_db), source)


@dataclass(frozen=True)
class SplitSpec:
    """Which captures of one split: `per_level` per SNR level, plus `empty` captures of empty spectrum."""

    seed: int
    split: str
    per_level: int
    levels_db: tuple[int, ...] = SNR_LEVELS_DB
    empty: int = 0
    first_index: int = 0

    def __post_init__(self) -> None:
        twice = sorted({lv for lv in self.levels_db if list(self.levels_db).count(lv) > 1})
        if twice:
            raise DataError(f"SNR level(s) {', '.join(f'{lv:g}' for lv in twice)} dB listed twice: each level is one "
                            "group of captures")
        if self.per_level < 0 or self.empty < 0:
            raise DataError(f"per_level and empty must be >= 0, got {self.per_level}, {self.empty}")

    def capture_keys(self) -> Iterator[CaptureKey]:
        for level in self.levels_db:
            for i in range(self.first_index, self.first_index + self.per_level):
                yield CaptureKey(self.seed, self.split, int(level), i)
        for i in range(self.first_index, self.first_index + self.empty):
            yield CaptureKey(self.seed, self.split, None, i)


def generate_split(spec: SplitSpec, recipe: Recipe = Recipe()) -> Iterator[Capture]:
    """Generate a split on the fly, level by level (ascending), then the empty captures."""
    for key in spec.capture_keys():
        yield generate_capture(key, recipe)


# --- no evaluation on training data -----------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRecord:
    """What a model was trained (and early-stopped) on: generated splits by seed, and any other capture ids."""

    generator_version: int
    seed: int
    splits: tuple[str, ...] = ("train", "validation")
    capture_ids: frozenset[str] = field(default_factory=frozenset)


def refuse_training_overlap(captures: Iterable[Capture], training: TrainingRecord | None) -> None:
    """DataError if any capture was used in training: same generator version, seed and split, or same id."""
    if training is None:
        return
    used = []
    for c in captures:
        src = c.source
        same_split = (
            src.get("kind") == "synthetic"
            and src.get("generator_version") == training.generator_version
            and src.get("seed") == training.seed
            and src.get("split") in training.splits
        )
        if same_split or c.id in training.capture_ids:
            used.append(c.id)
    if used:
        raise DataError(
            f"{len(used)} capture(s) were used to train this model (first: {used[0]}); evaluate on the "
            f"'test' split or another seed (trained on seed {training.seed}, splits {', '.join(training.splits)})"
        )

