"""The report's quantization tables: what the quantized model costs against its float model, and its
layers ranked by SQNR, worst first, so a user sees where the error comes from."""

from __future__ import annotations

import statistics

from rich.text import Text

from mobeval.core.printing import Table, pct
from mobeval.vision.quantize.analysis import QuantizationSection

TOP_LAYERS = 15
FOLDED = {"Clip", "Relu"}  # activations the QDQ quantizer removes, its Q/DQ range clipping instead


def db(x: float) -> str:
    return f"{x:.1f} dB"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def ranked_layers(s: QuantizationSection) -> list:
    """Layers worst first, without all-zero tensors (their 0 dB is the epsilon floors, not an error)."""
    return [r for r in s.layers if not r.zero_signal]


def cost_rows(s: QuantizationSection) -> list[tuple[str, str | Text, str]]:
    rows = [
        ("output SQNR (logits)", db(s.output_sqnr_db), f"the runner's logits vs the float model's, {s.output_items} images"),
    ]
    if s.weights:
        worst = s.weights[0]
        rows.append(("weight SQNR, worst / median",
                     f"{db(worst.sqnr_db)} / {db(statistics.median(w.sqnr_db for w in s.weights))}",
                     f"{len(s.weights)} weights; worst {worst.name}"))
    ranked = ranked_layers(s)
    if ranked:
        zeros = len(s.layers) - len(ranked)
        rows.append(("layer SQNR, worst / median",
                     f"{db(ranked[0].sqnr_db)} / {db(statistics.median(r.sqnr_db for r in ranked))}",
                     f"{len(ranked)} quantized activations over {s.layer_items} images"
                     + (f" ({zeros} all-zero constants left out)" if zeros else "")))
    a = s.accuracy
    if a is not None:
        rows += [
            ("top-1, float -> quantized", f"{pct(a.float_top1)} -> {pct(a.quant_top1)}", f"{a.n} labelled images"),
            ("difference (95% CI)", f"{_pts(a.difference)} [{_pts(a.ci_low)}, {_pts(a.ci_high)}]",
             f"paired bootstrap over images, {a.resamples:,} resamples"),
            ("McNemar p", f"{a.mcnemar_p:.3g}",
             f"exact; right in float only {a.only_float}, quantized only {a.only_quant}"),
        ]
    rows.append(("prediction flips", f"{s.flips} of {s.output_items} ({pct(s.flip_rate)})",
                 "top-1 differs from the float model's"))
    if a is not None:
        kept = "n/a" if a.retention is None else pct(a.retention)
        colour = {"pass": "green", "fail": "red"}.get(a.verdict, "yellow")
        rows.append(("verdict", Text(a.verdict, style=colour),
                     f"keeps {kept} of float top-1; target {pct(a.target)} (MLPerf Mobile rule)"))
    excluded = f"; {s.excluded_from_evaluation} left out of this run" if s.excluded_from_evaluation else ""
    where = f"{s.calibration_bench or 'inputs'}, ids sha256 {s.calibration_ids_sha256[:12] or 'n/a'}…"
    rows.append(("calibration", f"{s.calibration_n} images", f"{where}, none evaluated{excluded}"))
    if s.kept_layers:
        rows.append(("layers kept precise", f"{len(s.kept_layers)} of {s.precision_layers} at {s.keep_as}",
                     f"chosen by a mixed-precision search on {s.validation_n} other images, none evaluated"))
    return rows


def quantization_tables(s: QuantizationSection, top: int = TOP_LAYERS) -> list[Table]:
    cost = Table(title=f"Quantization: {s.scheme_label} (ONNX Runtime {s.onnxruntime_version}) vs the float model",
                 header_style="bold")
    for col in ("figure", "value", "how"):
        cost.add_column(col)
    for row in cost_rows(s):
        cost.add_row(*row)
    ranked = ranked_layers(s)
    shown = ranked[:top]
    layers = Table(title=f"SQNR per layer, worst first ({len(shown)} of {len(ranked)}; float vs quantized "
                         f"over {s.layer_items} images)", header_style="bold")
    kept = set(s.kept_layers)
    columns = [("#", True), ("tensor", False), ("op", False), ("SQNR", True), ("own Q/DQ", True)]
    for col, right in columns + ([(f"kept at {s.keep_as}", False)] if kept else []):
        layers.add_column(col, justify="right" if right else "left")
    for k, r in enumerate(shown, 1):
        layers.add_row(str(k), r.tensor, r.op_type, db(r.sqnr_db), db(r.qdq_sqnr_db),
                       *(["yes" if r.node in kept else ""] if kept else []))
    if any(r.op_type in FOLDED for r in shown):
        layers.caption = ("own Q/DQ: the tensor before vs after its own quantize/dequantize pair; ONNX Runtime folds "
                          f"{'/'.join(sorted(FOLDED))} into that pair's range, so for them it includes the activation")
    return [cost, layers]
