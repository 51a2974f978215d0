"""Why a run may stop on a confidence sequence and not on an ordinary 95% interval: the simulation of
tests/test_sequential.py (same streams, same seeds), printed.

    python bench/sequential_coverage.py [--reps 2000] [--items 300]

For each true accuracy: 2,000 streams of 300 right/wrong answers. An interval "covers at the worst stopping time"
when it holds the true accuracy after every one of the 300 items: only then is it right wherever a reader
decides to stop (as soon as it looks narrow, or looks good). The Wilson interval recomputed after every item
(what watching an ordinary 95% interval amounts to) against the betting confidence sequence mobeval uses. A few
seconds of CPU; prints a table (no file).
"""

from __future__ import annotations

import argparse

import numpy as np

from mobeval.measure.sequential import confidence_sequence, running_wilson


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--items", type=int, default=300)
    args = ap.parse_args()
    print(f"{args.reps} streams of {args.items} right/wrong answers per true accuracy; coverage = share of streams "
          "whose interval holds the truth after every item")
    print(f"{'true accuracy':>13} {'Wilson, watched':>16} {'confidence seq.':>16} {'Wilson ±, end':>14} "
          f"{'sequence ±, end':>16}")
    for mu in (0.25, 0.5, 0.9):
        rng = np.random.default_rng(27 + int(100 * mu))  # the test's seeds
        x = (rng.random((args.reps, args.items)) < mu).astype(float)
        covered, half = [], []
        for chunk in np.array_split(x, 8):
            cs = confidence_sequence(chunk, alpha=0.05, grid=200)
            covered.append(np.all((cs.low <= mu) & (mu <= cs.high), axis=-1))
            half.append((cs.high[:, -1] - cs.low[:, -1]) / 2)
        lo, hi = running_wilson(x)
        peek = np.all((lo <= mu) & (mu <= hi), axis=-1).mean()
        print(f"{mu:>13.2f} {100 * peek:>15.1f}% {100 * np.concatenate(covered).mean():>15.1f}% "
              f"{100 * np.median((hi[:, -1] - lo[:, -1]) / 2):>10.1f} pts {100 * np.median(np.concatenate(half)):>12.1f}"
              " pts")


if __name__ == "__main__":
    main()
