"""The CMuSeNet paper's comparison on synthetic captures, in one run: the complex net (cmusenet-small)
vs its real-valued counterpart at the same parameter count (realnet-small) vs the energy detector.

What it measures, on the synthetic-spectrum benchmark's captures (generator test split, seed 14;
--per-level captures at each SNR level from -20 to 10 dB, --empty of empty spectrum), each system
reading the same captures:
- per-bin accuracy per SNR level with its 95% bootstrap interval, mobeval's definition (threshold 0.5
  on the score, no widening) and the paper's (predictions widened by one bin each side first);
- mean IoU per signal per SNR level (Hungarian-matched, an unmatched signal counts 0);
- the average per-bin accuracy over all captures (the paper's headline figure is 99.4%) and the
  complex net's gain over the real net per SNR level (the paper: up to +9.2 points);
- accuracy against training epochs, from the curves the weights' cards recorded (validation split),
  the nets a bundled net was fine-tuned from (--init-from) first;
- latency per capture (the runner's segment call; p50), on this machine.

Usage: python bench/spectrum_paper_comparison.py [--per-level 5] [--empty 10] [--threads N] [--fading F]
Writes bench/results/spectrum_paper_comparison.json (with --fading rayleigh|rician: ..._FADING.json, the
same captures with flat block fading per signal; the nets were trained on AWGN captures).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mobeval.spectrum.benchmarks.generate import FADING, Recipe, refuse_training_overlap
from mobeval.spectrum.benchmarks.synthetic import synthetic_set
from mobeval.measure.environment import cpu_model
from mobeval.spectrum.models.store import alias_path, read_card
from mobeval.core.runners import make_runner
from mobeval.spectrum.runners.net_model import resolve_model
from mobeval.spectrum.task.metrics import (
    MetricSettings,
    by_snr,
    group_figures,
    score_capture,
)

SYSTEMS = (("complex net (cmusenet-small)", "spectrum-torch", "cmusenet-small"),
           ("real net (realnet-small)", "spectrum-torch", "realnet-small"),
           ("energy detector", "energy-detector", None))
PAPER = {"avg_bin_accuracy_synthetic": 0.994, "avg_bin_accuracy_over_the_air": 0.9898,
         "max_gain_over_real_points": 9.2, "epochs_to_real_accuracy": {"complex": 2, "real": 27}}


def _est(e) -> dict | None:
    return None if e is None else {"value": e.value, "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n}


def full_curve(card: dict) -> list[dict]:
    """The card's validation curve after the curves of the nets it was fine-tuned from (--init-from),
    epochs numbered on from theirs."""
    start = card.get("initialised_from")
    before = full_curve(start) if isinstance(start, dict) and start.get("curve") else []
    return before + [{"epoch": len(before) + p["epoch"], "val_bin_accuracy": p["val_bin_accuracy"],
                      "fine_tuning": bool(before)} for p in card["curve"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-level", type=int, default=5)
    ap.add_argument("--empty", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fading", choices=FADING, default="none",
                    help="flat block fading per signal in the test captures (the nets were trained on AWGN)")
    ap.add_argument("--out", type=Path, default=None,
                    help="[default: bench/results/spectrum_paper_comparison[_FADING].json]")
    args = ap.parse_args()
    suffix = "" if args.fading == "none" else f"_{args.fading}"
    args.out = args.out or Path(f"bench/results/spectrum_paper_comparison{suffix}.json")

    data = synthetic_set(per_level=args.per_level, empty=args.empty, recipe=Recipe(fading=args.fading))
    t0 = time.perf_counter()
    captures = [data.capture(r) for r in data.refs]
    print(f"{len(captures)} captures generated in {time.perf_counter() - t0:.0f} s "
          f"(seed 14, test split, {args.per_level} per SNR level, {args.empty} empty, fading {args.fading})")
    ours, paper_def = MetricSettings(), MetricSettings(widen_bins=1)
    results = {}
    for label, runner_name, model_name in SYSTEMS:
        model = resolve_model(runner_name, model_name)
        refuse_training_overlap(captures, model.training)
        settings = {"threads": args.threads} if runner_name != "energy-detector" else {}
        runner = make_runner(runner_name, model, settings)
        scores_ours, scores_paper, latency = [], [], []
        for c in captures:
            x = runner.prepare(c)
            t = time.perf_counter()
            s = np.asarray(runner.segment(x))
            latency.append(time.perf_counter() - t)
            scores_ours.append(score_capture(c, s, ours))
            scores_paper.append(score_capture(c, s, paper_def))
        runner.close()
        per_ours, per_paper = by_snr(scores_ours, ours), by_snr(scores_paper, paper_def)
        all_ours, all_paper = group_figures(scores_ours, ours), group_figures(scores_paper, paper_def)
        results[label] = {
            "runner": runner_name, "model": model_name,
            "overall": {"bin_accuracy": _est(all_ours["bin_accuracy"]),
                        "bin_accuracy_widened_1": _est(all_paper["bin_accuracy"]),
                        "mean_iou": _est(all_ours.get("mean_iou")), "bin_f1": _est(all_ours["bin_f1"]),
                        "false_alarm_rate": _est(all_ours.get("false_alarm_rate"))},
            "per_snr": {str(k): {"bin_accuracy": _est(v["bin_accuracy"]),
                                 "bin_accuracy_widened_1": _est(per_paper[k]["bin_accuracy"]),
                                 "mean_iou": _est(v.get("mean_iou"))} for k, v in per_ours.items()},
            "latency_p50_ms": 1000 * float(np.median(latency)),
        }
        o = results[label]["overall"]
        print(f"{label}: bin accuracy {100 * o['bin_accuracy']['value']:.2f}% (widened {100 * o['bin_accuracy_widened_1']['value']:.2f}%), "
              f"mean IoU {o['mean_iou']['value']:.3f}, latency p50 {results[label]['latency_p50_ms']:.1f} ms")

    labels = [s[0] for s in SYSTEMS]
    levels = list(results[labels[0]]["per_snr"])
    print("\nPer-bin accuracy % (mobeval: threshold 0.5, no widening) | mean IoU per signal, per SNR level")
    head = f"{'SNR dB':>7} | " + " | ".join(f"{lab[:28]:>28}" for lab in labels) + " | complex - real (points)"
    print(head)
    print("-" * len(head))
    gains = {}
    for lv in levels:
        cells = []
        for lab in labels:
            p = results[lab]["per_snr"][lv]
            acc = 100 * p["bin_accuracy"]["value"]
            iou = p["mean_iou"]["value"] if p["mean_iou"] else None
            cells.append(f"{acc:6.2f} | " + ("  —  " if iou is None else f"{iou:.3f}"))
        gain = 100 * (results[labels[0]]["per_snr"][lv]["bin_accuracy"]["value"]
                      - results[labels[1]]["per_snr"][lv]["bin_accuracy"]["value"])
        gains[lv] = gain
        print(f"{lv:>7} | " + " | ".join(f"{c:>28}" for c in cells) + f" | {gain:+.2f}")

    curves = {label: full_curve(read_card(alias_path(model_name))) for label, _, model_name in SYSTEMS[:2]}
    print("\nValidation per-bin accuracy % against training epochs (from the weights' cards; * fine-tuning epochs "
          "of --init-from, on its own validation captures)")
    print("epoch | " + " | ".join(f"{lab[:28]:>28}" for lab in labels[:2]))
    for i in range(max(len(c) for c in curves.values())):
        row = [curves[lab][i] if i < len(curves[lab]) else None for lab in labels[:2]]
        cells = ["—" if p is None else f"{100 * p['val_bin_accuracy']:.2f}" + ("*" if p["fine_tuning"] else " ")
                 for p in row]
        print(f"{i + 1:>5} | " + " | ".join(f"{c:>28}" for c in cells))
    # on the first training's validation captures only (fine-tuning validates on its own)
    first = {lab: [p for p in curves[lab] if not p["fine_tuning"]] for lab in labels[:2]}
    real_final = first[labels[1]][-1]["val_bin_accuracy"]
    reach = next((p["epoch"] for p in first[labels[0]] if p["val_bin_accuracy"] >= real_final), None)
    print(f"complex net reaches the real net's final validation accuracy before fine-tuning "
          f"({100 * real_final:.2f}%) at epoch {reach if reach else 'never, within its epochs'}")

    machine = {"cpu": cpu_model(), "logical_cpus": __import__("os").cpu_count()}
    out = {"captures": len(captures), "data": data.description, "machine": machine, "results": results,
           "gain_complex_minus_real_points_per_snr": gains, "epoch_curves": curves,
           "complex_reaches_real_final_at_epoch": reach, "paper": PAPER}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str))
    print(f"\nmachine: {machine['cpu']} ({machine['logical_cpus']} logical CPUs); wrote {args.out}")


if __name__ == "__main__":
    main()
