"""Write the bundled `vlm-digits` set (mobeval/vlm/benchmarks/digits/) from scikit-learn's digits.

Seeded and deterministic: the same scikit-learn data and Pillow give the same bytes (card.json records
every file's sha256, and loading checks them). Only evaluation-pool images (dataset index % 5 == 0) are
used; the digits-vlm model trains on the others.

    python scripts/make_vlm_digits.py [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from importlib.metadata import version
from pathlib import Path

import numpy as np

from mobeval.vlm.benchmarks.digits import (
    CARD, EVAL_MODULUS, OPEN_QUESTION, QUESTION, SCALE, folder, is_eval_index, render_digit,
)
from mobeval.core.hashing import stream_sha256

SEED = 15  # issue 15
PER_DIGIT = 20  # images per digit: 200 in all
OPEN_PER_DIGIT = 4  # of which open questions; the rest multiple choice with 4 options
N_OPTIONS = 4
LETTERS = "ABCD"


def build(out: Path) -> dict:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(SEED)
    pool = [i for i in range(len(digits.target)) if is_eval_index(i)]
    chosen: list[tuple[int, bool]] = []  # (dataset index, open question)
    for d in range(10):
        of_digit = [i for i in pool if digits.target[i] == d]
        picked = sorted(rng.choice(of_digit, size=PER_DIGIT, replace=False).tolist())
        open_ones = set(rng.choice(picked, size=OPEN_PER_DIGIT, replace=False).tolist())
        chosen += [(i, i in open_ones) for i in picked]
    chosen.sort()
    n_mc = sum(not o for _, o in chosen)
    positions = rng.permutation(np.arange(n_mc) % N_OPTIONS).tolist()  # each letter right equally often

    if out.exists():
        shutil.rmtree(out / "images", ignore_errors=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines, files = [], {}
    for index, is_open in chosen:
        digit = int(digits.target[index])
        name = f"images/digits-{index:05d}.png"
        render_digit(digits.images[index]).save(out / name, format="PNG")
        item = {"id": f"digits-{index:05d}", "images": [name], "category": f"digit {digit}"}
        if is_open:
            item.update(question=OPEN_QUESTION, answer=str(digit))
        else:
            others = rng.choice([x for x in range(10) if x != digit], size=N_OPTIONS - 1, replace=False).tolist()
            pos = positions.pop()
            options = others[:pos] + [digit] + others[pos:]
            item.update(question=QUESTION, options=[str(x) for x in options], answer=LETTERS[pos])
        lines.append(json.dumps(item, ensure_ascii=False))
        files[name] = stream_sha256(out / name)
    (out / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files["items.jsonl"] = stream_sha256(out / "items.jsonl")
    combined = hashlib.sha256()
    for index, _ in chosen:
        combined.update(files[f"images/digits-{index:05d}.png"].encode("ascii"))
    data_file = Path(__import__("sklearn.datasets", fromlist=["x"]).__file__).parent / "data" / "digits.csv.gz"
    card = {
        "name": "vlm-digits",
        "description": "Real handwritten digits shown as images: 'Which digit is shown?' with 4 options "
                       f"({n_mc} items, each letter right equally often), and {len(chosen) - n_mc} open items "
                       "answered with the digit.",
        "source": {
            "dataset": "Optical Recognition of Handwritten Digits (UCI, E. Alpaydin and C. Kaynak, 1998), test "
                       "set as shipped by scikit-learn: sklearn.datasets.load_digits(), 1,797 images, 8x8 pixels "
                       "of 0..16 (counts of ink in 4x4 blocks of 32x32 NIST bitmaps)",
            "scikit_learn_version": version("scikit-learn"),
            "data_file": "sklearn/datasets/data/digits.csv.gz",
            "data_file_sha256": stream_sha256(data_file),
            "dataset_indices": [i for i, _ in chosen],
        },
        "license": "scikit-learn's copy: BSD-3-Clause (scikit-learn); the UCI dataset: CC BY 4.0",
        "split": {
            "rule": f"evaluation pool = dataset index % {EVAL_MODULUS} == 0 (360 images); the digits-vlm model's "
                    "projector trains only on the others",
            "note": "image-disjoint, not writer-disjoint: the data does not record who wrote each digit",
        },
        "rendering": f"value v -> grey 255 - round(v * 255 / 16) (dark ink on white), mode L, x{SCALE} nearest "
                     f"neighbour to {8 * SCALE}x{8 * SCALE}, PNG (mobeval.vlm.benchmarks.digits.render_digit)",
        "counts": {"items": len(chosen), "multiple_choice": n_mc, "open": len(chosen) - n_mc,
                   "per_digit": PER_DIGIT, "options": N_OPTIONS},
        "seed": SEED,
        "script": "scripts/make_vlm_digits.py",
        "pillow_version": version("pillow"),
        "items_file": "items.jsonl",
        "images_sha256": combined.hexdigest(),
        "files_sha256": dict(sorted(files.items())),
    }
    (out / CARD).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=folder(), help="folder to write (default: the package's)")
    args = parser.parse_args()
    card = build(args.out)
    size = sum((args.out / f).stat().st_size for f in card["files_sha256"]) + (args.out / CARD).stat().st_size
    print(f"{args.out}: {card['counts']['items']} items, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
