"""How often TorchSig 2.2.0's wideband generator, asked for no co-channel overlap, still returns signals
whose labelled bands overlap: the reason the torchsig-wideband benchmark redraws such captures.

Usage (in an environment with `mobeval[spectrum,torchsig]`):
    python scripts/torchsig_overlap_rate.py [--draws 40] [--snr 10] [--seed 5]
Draws --draws samples from one seeded TorchSig dataset with the benchmark's request
(torchsig_wideband.TorchSigRecipe) and prints how many have overlapping labelled bands.
"""

from __future__ import annotations

import argparse
import warnings

from mobeval.spectrum.benchmarks.torchsig_wideband import TorchSigRecipe, import_torchsig, overlapping


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--snr", type=float, default=10.0, help="TorchSig's SNR, dB")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    torchsig = import_torchsig()
    from torchsig.utils.defaults import default_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = default_dataset(**TorchSigRecipe().metadata(args.snr))
        ds.seed(args.seed)
        samples = [next(ds) for _ in range(args.draws)]
    bad = sum(overlapping([(float(c.lower_freq), float(c.upper_freq)) for c in s.component_signals]) for s in samples)
    signals = sum(len(s.component_signals) for s in samples) / len(samples)
    print(f"torchsig {torchsig.__version__}, SNR {args.snr:g} dB, seed {args.seed}: {bad} of {args.draws} draws have "
          f"overlapping labelled bands (co-channel overlap probability "
          f"{TorchSigRecipe().cochannel_overlap_probability}); {signals:.1f} signals per draw")


if __name__ == "__main__":
    main()
