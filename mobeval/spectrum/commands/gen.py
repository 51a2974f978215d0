"""`mobeval gen spectrum`: write generated captures to files (the paper's data.dat + meta-data.json
layout, or SigMF) with a spectrum-dataset.json manifest, readable by --bench spectrum-captures --data DIR."""

from __future__ import annotations

import math
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
        levels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise MobevalError(f"--snr {text}: a comma-separated list of whole dB levels, e.g. -10,0,10") from None
    if not levels:
        raise MobevalError(f"--snr {text!r}: no level given; a comma-separated list of whole dB levels, e.g. -10,0,10")
    twice = sorted({lv for lv in levels if levels.count(lv) > 1})
    if twice:
        raise MobevalError(f"--snr {text}: level {', '.join(map(str, twice))} is given twice; list each level once")
    outside = [lv for lv in levels if not -100 < lv < 100]
    if outside:
        raise MobevalError(f"--snr {text}: level {outside[0]} dB is outside (-100, 100)")
    return levels


def _recipe(fading: str, rician_k_db: float | None):
    """The generator recipe of --fading and --rician-k-db (None: not given), refusing what would be ignored
    or would write NaN samples."""
    from mobeval.spectrum.benchmarks.generate import FADING, Recipe

    if fading not in FADING:
        raise MobevalError(f"--fading {fading}: one of {', '.join(FADING)}")
    if rician_k_db is not None and fading != "rician":
        raise MobevalError(f"--rician-k-db {rician_k_db:g}: the K-factor applies only with --fading rician "
                           f"(--fading is {fading})")
    if rician_k_db is not None and not math.isfinite(rician_k_db):
        raise MobevalError(f"--rician-k-db {rician_k_db}: the K-factor must be a finite number of dB, e.g. 6")
    return Recipe(fading=fading) if rician_k_db is None else Recipe(fading=fading, rician_k_db=rician_k_db)


@gen_app.command("spectrum")
def spectrum(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write (one subfolder per capture + manifest)."),
    seed: int = typer.Option(14, "--seed", help="Generator seed."),
    captures: int = typer.Option(5, "--captures", help="Captures per SNR level."),
    split: str = typer.Option("test", "--split", help="train, validation or test (disjoint random streams)."),
    snr: Optional[str] = typer.Option(None, "--snr", help="SNR levels in dB, comma-separated \\[default: -20..10 "
                                      "in 2 dB steps]."),
    empty: int = typer.Option(0, "--empty", help="Captures of empty spectrum, besides."),
    fmt: str = typer.Option("paper", "--format", help="paper (data.dat + meta-data.json) or sigmf."),
    fading: str = typer.Option("none", "--fading", help="none (AWGN), rayleigh or rician: flat block fading, one "
                               "gain per signal and capture, E|h|^2 = 1."),
    rician_k_db: Optional[float] = typer.Option(None, "--rician-k-db", help="Rician K-factor in dB (only with "
                                                "--fading rician) \\[default: 6]."),
) -> None:
    """Generate captures (benchmarks.spectrum.generate: the CMuSeNet recipe, deterministic by seed) and
    write them; every capture's meta-data records the generator version, seed, split and recipe."""
    from mobeval.spectrum.benchmarks.capture_io import check_out_folder, write_dataset
    from mobeval.spectrum.benchmarks.generate import (
        GENERATOR_VERSION,
        SplitSpec,
        generate_split,
    )

    try:
        if captures < 0 or empty < 0:
            raise MobevalError("--captures and --empty must be >= 0")
        check_out_folder(out_dir)
        if out_dir.exists() and any(out_dir.iterdir()):
            raise MobevalError(f"--out {out_dir}: exists and is not empty; choose a new folder")
        spec = SplitSpec(seed=seed, split=split, per_level=captures, levels_db=_levels(snr), empty=empty)
        total = len(list(spec.capture_keys()))
        if total == 0:
            raise MobevalError(f"--captures {captures} and --empty {empty}: no captures to write; give --captures "
                               "(per SNR level) or --empty at least 1")
        recipe = _recipe(fading, rician_k_db)
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
                                  + (f" --rician-k-db {recipe.rician_k_db:g}" if fading == "rician" else "")}
        manifest = write_dataset(made(), out_dir, fmt, description)
    except OSError as exc:  # the folder cannot be written (permissions, a full disk)
        fail(f"--out {out_dir}: cannot write {exc.filename or out_dir} ({exc.strerror or exc})")
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    out.print(f"wrote {total} captures ({fmt} layout) under {out_dir}; manifest {manifest.name}\n"
              f"evaluate: mobeval run --bench spectrum-captures --data {out_dir}", highlight=False, markup=False)
