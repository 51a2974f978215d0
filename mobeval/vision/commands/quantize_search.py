"""`mobeval quantize --target ...`: the mixed-precision search (mobeval.vision.quantize.search) on
calibration and validation images of a benchmark, its Pareto points cached as quantized models with
their manifests, and each point evaluated as an ordinary `mobeval run` on the images left."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mobeval.core.errors import MobevalError
from mobeval.vision.quantize.search import SearchOutcome, SearchTarget, Trial


class Point(BaseModel):
    """A Pareto point: the trial, its cached model, and its evaluation run (when evaluated)."""

    trial: Trial
    chosen: bool
    model: str  # the quantized .onnx (manifest beside it)
    run: str = ""  # the run folder
    top1: float | None = None  # evaluation images
    top1_low: float | None = None
    top1_high: float | None = None
    float_top1: float | None = None
    retention: float | None = None  # of the float model's top-1 on the evaluation images
    output_sqnr_db: float | None = None  # evaluation images
    latency_p50_ms: float | None = None
    latency_note: str = ""
    evaluated_n: int = 0


class SearchReport(BaseModel):
    format: str = "mobeval.quantize-search/1"
    model: str
    bench: str
    calibration_n: int
    validation_ids: list[str]
    outcome: SearchOutcome
    points: list[Point]
    machine: str = ""


def mixed_search(*, vision: Any, float_path: Path, scheme: Any, calib_items: list, val_items: list, spec: Any,
                 bench: str, data: Path | None, target: SearchTarget, order: str, keep_as: str,
                 providers: list[str], calib_info: dict[str, Any], source_model: dict[str, Any],
                 progress: Callable[[str], None]) -> tuple[SearchOutcome, list[Point]]:
    """Search, then cache every Pareto point (and the chosen model) with its manifest."""
    from mobeval.core.hashing import file_sha256
    from mobeval.vision.quantize.calibration import calibration_info, image_inputs
    from mobeval.vision.quantize.mixed import KeptLayers
    from mobeval.vision.quantize.qdq import baseline_layers, calibration_cache, inputs_sha256, quantize_onnx
    from mobeval.vision.quantize.search import Evaluator, pareto, search

    calib = image_inputs(calib_items, spec)
    cache = calibration_cache(file_sha256(float_path), scheme, inputs_sha256(calib))
    progress(f"calibrating on {len(calib)} images, finding the quantized layers")
    layers = baseline_layers(float_path, scheme, calib, cache)
    evaluator = Evaluator(float_path, image_inputs(val_items, spec), [i.label for i in val_items], target)
    progress(f"{len(layers)} quantized layers; float top-1 on the {len(val_items)} validation images: "
             + ("n/a" if evaluator.float_top1 is None else f"{100 * evaluator.float_top1:.1f}%")
             + (f"; ranking them by sensitivity ({len(layers)} quantizations)" if order == "sensitivity" else ""))
    outcome = search(float_path, scheme, calib, cache, layers, keep_as, evaluator, target, order, progress)
    front = pareto(outcome.trials)
    if outcome.chosen is not None and all(t.kept != outcome.chosen for t in front):
        front = sorted([*front, outcome.trial(outcome.chosen)], key=lambda t: t.size_bytes)
    vinfo = calibration_info(val_items, spec, bench, data, None)  # the same record as the calibration set's
    summary = {"target": target.model_dump(), "order": outcome.order, "validation_float_top1": outcome.float_top1}
    points = []
    for t in front:
        q = quantize_onnx(float_path, scheme, calib, calibration_info=calib_info, providers=providers,
                          source_model=source_model, kept=KeptLayers(keep_as=keep_as, layers=tuple(t.layers)),
                          layers=layers, validation_info=vinfo,
                          search={**summary, "validation_top1": t.top1, "validation_output_sqnr_db": t.output_sqnr_db,
                                  "meets_target": t.meets, "chosen": t.kept == outcome.chosen})
        points.append(Point(trial=t, chosen=t.kept == outcome.chosen, model=str(q.path)))
    return outcome, points


def evaluate_points(points: list[Point], *, bench: str, data: Path | None, labels: Path | None, out: Path,
                    progress: Callable[[str], None]) -> None:
    """Each point as an ordinary run on the benchmark's images less calibration and validation images."""
    import mobeval

    for k, p in enumerate(points, 1):
        progress(f"evaluating point {k}/{len(points)} ({p.trial.kept} layers kept) as a run")
        settings: dict[str, Any] = {"task": "image-classification", "runner": "onnxruntime", "model": p.model,
                                    "bench": bench, "exclude_calibration": True, "output_dir": str(out)}
        if data is not None:
            settings["data"] = str(data)
        if labels is not None:
            settings["labels"] = str(labels)
        r = mobeval.run(**settings)
        q = (r.file.task or {}).get("quantization") or {}
        cost = q.get("accuracy") or {}
        top1 = next((m for m in r.metrics if m.name == "top1"), None)
        lat = r.performance.get("inference_latency_p50")
        valid = r.performance.get("latency_valid")
        p.run = str(r.path)
        p.top1, p.top1_low, p.top1_high = (top1.value, top1.low, top1.high) if top1 else (None, None, None)
        p.float_top1, p.retention = cost.get("float_top1"), cost.get("retention")
        p.output_sqnr_db, p.evaluated_n = q.get("output_sqnr_db"), int(q.get("output_items") or 0)
        if lat is not None:
            p.latency_p50_ms = 1000 * float(lat.value)
            p.latency_note = "" if valid is None or valid.value else f"not valid: {valid.note}"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def table_rows(report: SearchReport) -> list[list[str]]:
    rows = []
    for p in report.points:
        t = p.trial
        interval = "" if p.top1_low is None else f" [{100 * p.top1_low:.1f}, {100 * p.top1_high:.1f}]"
        rows.append([
            f"{t.kept}{' (chosen)' if p.chosen else ''}", f"{t.size_bytes / 1e6:.2f}",
            f"{pct(t.top1)} ({pct(t.retention)})", f"{t.output_sqnr_db:.1f}",
            "not run" if not p.run else f"{pct(p.top1)}{interval}",
            "" if not p.run else pct(p.retention),
            "" if p.output_sqnr_db is None else f"{p.output_sqnr_db:.1f}",
            "" if p.latency_p50_ms is None else f"{p.latency_p50_ms:.2f}{' *' if p.latency_note else ''}",
            p.run and Path(p.run).name,
        ])
    return rows


HEADERS = ["layers kept", "size (MB)", "validation top-1 (of float)", "validation SQNR (dB)",
           "evaluation top-1 [95% CI]", "of float", "evaluation SQNR (dB)", "latency p50 (ms)", "run"]


def markdown(report: SearchReport) -> str:
    o = report.outcome
    lines = [f"# Mixed-precision search: {report.model}, {o.scheme.label}", "",
             f"Target: {o.target.label} ({o.validation_n} images). Layers kept at {o.keep_as}, in "
             f"{o.order} order; {o.passes} quantized models run on the validation images. Float model "
             f"{o.float_size_bytes / 1e6:.2f} MB. Calibration: {report.calibration_n} images of {report.bench}."
             + (f" Machine: {report.machine}." if report.machine else ""), "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(report)]
    lines += ["", "Validation figures are the search's; evaluation figures are each point's own run on the "
              "benchmark's other images (`mobeval report RUN`); latency is that run's median per image on this "
              "machine, one image a call"
              + ("; * marks a latency the run itself calls not valid (too short a measurement, or a busy "
                 "machine: its result.json says which)." if any(p.latency_note for p in report.points) else "."),
              "" if o.chosen is not None else "\nNo trial met the target, not even with every layer kept."]
    return "\n".join(lines) + "\n"


def write_plot(report: SearchReport, path: Path) -> bool:
    """Pareto plot (size against validation and evaluation top-1); False when plotly is not installed."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        return False
    pts = report.points
    trials = report.outcome.trials
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[t.size_bytes / 1e6 for t in trials], y=[100 * (t.top1 or 0) for t in trials],
                             mode="markers", name="every trial (validation)", marker={"color": "#bbbbbb"},
                             text=[f"{t.kept} kept" for t in trials]))
    fig.add_trace(go.Scatter(x=[p.trial.size_bytes / 1e6 for p in pts], y=[100 * (p.trial.top1 or 0) for p in pts],
                             mode="lines+markers", name="Pareto front (validation)",
                             text=[f"{p.trial.kept} kept" for p in pts]))
    ran = [p for p in pts if p.run and p.top1 is not None]
    if ran:
        fig.add_trace(go.Scatter(
            x=[p.trial.size_bytes / 1e6 for p in ran], y=[100 * p.top1 for p in ran], mode="markers",
            name="evaluation run (95% Wilson)", text=[f"{p.trial.kept} kept" for p in ran],
            error_y={"type": "data", "symmetric": False, "array": [100 * (p.top1_high - p.top1) for p in ran],
                     "arrayminus": [100 * (p.top1 - p.top1_low) for p in ran]}))
    fig.update_layout(title=html.escape(f"{report.model} {report.outcome.scheme.name}: layers kept at "
                                        f"{report.outcome.keep_as} against size"),
                      xaxis_title="model size (MB)", yaxis_title="top-1 (%)", template="plotly_white")
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return True


def write_report(report: SearchReport, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("search.json", report.model_dump_json(indent=1) + "\n"), ("pareto.md", markdown(report))):
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
        written.append(folder / name)
    if write_plot(report, folder / "pareto.html"):
        written.append(folder / "pareto.html")
    return written


def load_report(folder: Path) -> SearchReport:
    try:
        return SearchReport.model_validate(json.loads((folder / "search.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise MobevalError(f"{folder / 'search.json'}: not a search report ({exc})") from exc
