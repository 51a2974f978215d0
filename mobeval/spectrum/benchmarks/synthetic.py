"""The `synthetic-spectrum` benchmark: the generator's test split, made on the fly.

Which captures: split "test" of generator seed TEST_SEED, PER_LEVEL captures at each SNR level from
-20 to 10 dB in 2 dB steps (16 levels) plus EMPTY captures of empty spectrum: 16 x 5 + 10 = 90 captures.
Each is generated only when it is evaluated (about 0.1 s each on a 2-core AMD EPYC, from 0.02 s for
one signal to 0.2 s for ten; empty spectrum 3 ms), so a bare run takes about 10 s and holds one capture
at a time. The ids spell out generator version, seed, split, level and index (generate.CaptureKey),
and the result records the recipe and its sha256. A model trained on this seed's train and validation
splits can be evaluated here: the test split is a different random stream by construction.

`synthetic-spectrum-rayleigh` and `synthetic-spectrum-rician` (K = 6 dB) are the same split with flat
block fading per signal (generate.fading_gains): the signals, noise and SNR draws are those of the AWGN
set, each signal then scaled by its own complex gain, so the three sets differ only by the fading.
"""

from __future__ import annotations

import json

from mobeval.spectrum.benchmarks.dataset import CaptureRef, SpectrumSet
from mobeval.spectrum.benchmarks.generate import GENERATOR_VERSION, Recipe, SplitSpec, generate_capture
from mobeval.core.hashing import text_sha256

TEST_SEED = 14  # issue 14; the split is "test", so no training split of any seed shares a capture
PER_LEVEL = 5
EMPTY = 10
SPLIT = "test"


def recipe_sha256(recipe: Recipe) -> str:
    return text_sha256(json.dumps(recipe.record(), sort_keys=True))


def synthetic_set(seed: int = TEST_SEED, per_level: int = PER_LEVEL, empty: int = EMPTY,
                  recipe: Recipe | None = None, name: str = "synthetic-spectrum") -> SpectrumSet:
    recipe = recipe or Recipe()
    spec = SplitSpec(seed=seed, split=SPLIT, per_level=per_level, empty=empty)
    keys = {k.id: k for k in spec.capture_keys()}
    refs = tuple(
        CaptureRef(id=k.id, snr_level_db=None if k.snr_db is None else float(k.snr_db),
                   n_signals=0 if k.snr_db is None else None,
                   source={"kind": "synthetic", "generator_version": GENERATOR_VERSION, "seed": seed, "split": SPLIT})
        for k in keys.values()
    )
    digest = recipe_sha256(recipe)
    description = {
        "generator": {"version": GENERATOR_VERSION, "seed": seed, "split": SPLIT, "per_level": per_level,
                      "empty": empty, "levels_db": list(spec.levels_db), "recipe": recipe.record(),
                      "recipe_sha256": digest},
    }
    return SpectrumSet(
        name=name, refs=refs,
        sources=[f"mobeval generator v{GENERATOR_VERSION}, seed {seed}, split {SPLIT} (made on the fly)"],
        description=description,
        data_sha256=text_sha256(json.dumps(description, sort_keys=True)),
        make=lambda ref: generate_capture(keys[ref.id], recipe),
    )


def load(options) -> SpectrumSet:
    """The `synthetic-spectrum` benchmark (takes no options)."""
    return synthetic_set()


RICIAN_K_DB = 6.0


def load_rayleigh(options) -> SpectrumSet:
    """`synthetic-spectrum-rayleigh`: the same captures' recipe with Rayleigh flat block fading per signal."""
    return synthetic_set(recipe=Recipe(fading="rayleigh"), name="synthetic-spectrum-rayleigh")


def load_rician(options) -> SpectrumSet:
    """`synthetic-spectrum-rician`: Rician flat block fading per signal, K = 6 dB."""
    return synthetic_set(recipe=Recipe(fading="rician", rician_k_db=RICIAN_K_DB), name="synthetic-spectrum-rician")

