"""`mobeval gen spectrum`: write generated captures to files (the paper's data.dat + meta-data.json
layout, or SigMF) with a spectrum-dataset.json manifest, readable by --bench spectrum-captures --data DIR."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from mobeval.core.console import err, fail, out
from mobeval.core.errors import MobevalError

gen_app = typer.Typer(no_args_is_help=True, help="Write a generated dataset to files.")


def _levels(text: str | None) -> tuple[int, ...]:
    from mobeval.spectrum.benchmarks.generate import SNR_LEVELS_DB

    if text is None:
        return SNR_LEVELS_DB
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise MobevalError(f"--snr {text}: a comma-separated list of whole dB levels, e.g. -10,0,10") from None


@gen_app.command("spectrum")
def spectrum(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write (one subfolder per capture + manifest)."),
    seed: int = typer.Option(14, "--seed", help="Generator seed."),
    captures: int = typer.Option(5, "--captures", help="Captures per SNR level."),
    split: str = typer.Option("test", "--split", help="train, validation or test (disjoint random streams)."),
    snr: Optional[str] = typer.Option(None, "--snr", help="SNR levels in dB, comma-separated [default: -20..10 "
                                      "in 2 dB steps]."),
    empty: int = typer.Option(0, "--empty", help="Captures of empty spectrum, besides."),
    fmt: str = typer.Option("paper", "--format", help="paper (data.dat + meta-data.json) or sigmf."),
    fading: str = typer.Option("none", "--fading", help="none (AWGN), rayleigh or rician: flat block fading, one "
                               "gain per signal and capture, E|h|^2 = 1."),
    rician_k_db: float = typer.Option(6.0, "--rician-k-db", help="Rician K-factor in dB (with --fading rician)."),
) -> None:
    """Generate captures (benchmarks.spectrum.generate: the CMuSeNet recipe, deterministic by seed) and
    write them; every capture's meta-data records the generator version, seed, split and recipe."""
    from mobeval.spectrum.benchmarks.capture_io import write_dataset
    from mobeval.spectrum.benchmarks.generate import (
        GENERATOR_VERSION,
        Recipe,
        SplitSpec,
        generate_split,
    )

    try:
        if captures < 0 or empty < 0:
            raise MobevalError("--captures and --empty must be >= 0")
        if out_dir.exists() and any(out_dir.iterdir()):
            raise MobevalError(f"--out {out_dir}: exists and is not empty; choose a new folder")
        spec = SplitSpec(seed=seed, split=split, per_level=captures, levels_db=_levels(snr), empty=empty)
        total = len(list(spec.capture_keys()))
        recipe = Recipe(fading=fading, rician_k_db=rician_k_db)
        t0 = time.perf_counter()

        def made():
            for i, c in enumerate(generate_split(spec, recipe), 1):
                if i % 20 == 0 or i == total:
                    err.print(f"  {i}/{total} captures ({time.perf_counter() - t0:.0f} s)", highlight=False)
                yield c

        description = {"generator": {"version": GENERATOR_VERSION, "seed": seed, "split": split,
                                     "per_level": captures, "levels_db": list(spec.levels_db), "empty": empty,
                                     "recipe": recipe.record()},
                       "command": f"mobeval gen spectrum --out {out_dir} --seed {seed} --captures {captures} "
                                  f"--split {split} --empty {empty} --format {fmt}"
                                  + (f" --snr {snr}" if snr else "")
                                  + ("" if fading == "none" else f" --fading {fading}")
                                  + (f" --rician-k-db {rician_k_db:g}" if fading == "rician" else "")}
        manifest = write_dataset(made(), out_dir, fmt, description)
    except MobevalError as exc:
        fail(str(exc))
    out.print(f"wrote {total} captures ({fmt} layout) under {out_dir}; manifest {manifest.name}\n"
              f"evaluate: mobeval run --bench spectrum-captures --data {out_dir}", highlight=False, markup=False)
