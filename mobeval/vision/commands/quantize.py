"""`mobeval quantize`: static QDQ quantization of a vision model with ONNX Runtime, calibrated on
images of a benchmark (mobeval.vision.quantize)."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from mobeval.core.console import fail, out
from mobeval.core.errors import MobevalError


def _ids(text: str | None) -> list[str] | None:
    """--calibration-items: comma-separated ids, or @FILE with one id a line."""
    if not text:
        return None
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise MobevalError(f"--calibration-items {text}: {exc.strerror}") from exc
        return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [t.strip() for t in text.split(",") if t.strip()]


def quantize(
    model: str = typer.Argument(..., help="Vision model alias (efficientnet-lite0, ...) or a .onnx/.pt2/.pt file."),
    scheme: str = typer.Option("w8a8", "--scheme", help="w8a8 | w8a16 | w4a16 (weight bits, activation bits)."),
    per_channel: bool = typer.Option(True, "--per-channel/--per-tensor", help="One weight scale per output "
                                     "channel, or one per tensor."),
    symmetric: Optional[bool] = typer.Option(None, "--symmetric/--asymmetric", show_default=False, help=(
        "Weights and activations both symmetric (zero point 0), or both asymmetric (default: ONNX Runtime's, "
        "weights symmetric and activations asymmetric).")),
    calibration_method: str = typer.Option("minmax", "--calibration-method", help="minmax | entropy | percentile."),
    reduce_range: bool = typer.Option(False, "--reduce-range", help="7-bit weights: avoids the saturation of "
                                      "u8s8 integer kernels on x86 CPUs without VNNI (ONNX Runtime's advice)."),
    bench: str = typer.Option("imagenet-photos", "--bench", help="Image benchmark the calibration images come from."),
    data: Optional[Path] = typer.Option(None, "--data", help="The benchmark's folder (imagefolder, imagenet)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="imagefolder: labels file."),
    calibration: Optional[int] = typer.Option(None, "--calibration", help="Calibrate on N images of the "
                                              "benchmark, a sample stratified over classes (--seed)."),
    calibration_items: Optional[str] = typer.Option(None, "--calibration-items", help="Calibrate on these image "
                                                    "ids: comma-separated, or @FILE with one a line."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --calibration sample."),
    preprocess: Optional[str] = typer.Option(None, "--preprocess", help="Preprocessing preset or JSON file "
                                             "(default: the model's own)."),
    provider: list[str] = typer.Option(["cpu"], "--provider", help="Execution provider the quantized model must "
                                       "run on (checked now); repeatable: cpu, qnn, xnnpack, ..."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also copy the model (and its manifest) "
                                          "to this .onnx path; it is cached either way."),
    target: Optional[float] = typer.Option(None, "--target", rich_help_panel="Mixed precision", help=(
        "Search for the fewest layers to keep at a higher precision so the model keeps this share of the float "
        "model's top-1 on the validation images (e.g. 0.98).")),
    target_sqnr: Optional[float] = typer.Option(None, "--target-sqnr", rich_help_panel="Mixed precision", help=(
        "As --target, with an output SQNR in dB (logits against the float model's) as the target.")),
    validation: Optional[int] = typer.Option(None, "--validation", rich_help_panel="Mixed precision", help=(
        "The search's validation images: N images of the benchmark, none of them calibration images (a sample "
        "stratified over classes, --seed).")),
    validation_items: Optional[str] = typer.Option(None, "--validation-items", rich_help_panel="Mixed precision",
                                                   help="The search's validation images by id: comma-separated, "
                                                   "or @FILE with one a line."),
    order: str = typer.Option("sensitivity", "--order", rich_help_panel="Mixed precision", help=(
        "sensitivity | sqnr. Which layers to keep first: sensitivity (each layer quantized alone, lowest output SQNR first; one "
        "pass per layer) or sqnr (lowest weight SQNR first; no extra pass).")),
    keep_as: Optional[str] = typer.Option(None, "--keep-as", rich_help_panel="Mixed precision", help=(
        "w8 | float. Precision of the layers kept: w8 (8-bit weights; the default for a 4-bit scheme) or float (not "
        "quantized; the default otherwise).")),
    search_dir: Optional[Path] = typer.Option(None, "--search-dir", rich_help_panel="Mixed precision", help=(
        "Where the search writes search.json, pareto.md, pareto.html and its runs (default: a new folder "
        "under results/).")),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", rich_help_panel="Mixed precision", help=(
        "Evaluate each Pareto point as an ordinary run on the benchmark's images that neither calibrated "
        "nor validated it.")),
) -> None:
    """Quantize a vision model (static QDQ, ONNX Runtime) on calibration images of a benchmark; then
    `mobeval run --model THE.onnx` reports its SQNR per layer and accuracy cost against the float model.
    With --target or --target-sqnr, search for the layers to keep at a higher precision (mixed precision)."""
    mixed = MixedRequest(target, target_sqnr, validation, _ids(validation_items), order, keep_as, search_dir,
                         evaluate)
    try:
        if mixed.wanted:
            return _search(model, scheme, per_channel, symmetric, calibration_method, reduce_range, bench, data,
                           labels, calibration, _ids(calibration_items), seed, preprocess, provider, output, mixed)
        mixed.refuse_unwanted()
        made = _quantize(model, scheme, per_channel, symmetric, calibration_method, reduce_range, bench, data, labels,
                         calibration, _ids(calibration_items), seed, preprocess, provider, output)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    path, q = made
    c = q.manifest.calibration
    out.print(f"{'cached' if q.cached else 'quantized'}: {q.scheme.label} (ONNX Runtime "
              f"{q.manifest.onnxruntime_version}), runs on {', '.join(q.manifest.providers_checked)}", highlight=False,
              markup=False)
    out.print(f"calibration: {c.n} images of {c.bench} ({', '.join(c.ids[:5])}{', ...' if c.n > 5 else ''}; "
              f"ids sha256 {c.ids_sha256[:12]}…)", highlight=False, markup=False)
    out.print(f"model: {path}\nmanifest: {path.with_name(path.stem + '.quant.json')}", highlight=False, soft_wrap=True,
              markup=False)
    out.print(f"size: {q.manifest.float_model_size_bytes:,} -> {q.manifest.size_bytes:,} bytes", highlight=False)
    out.print(f"next: mobeval run --task image-classification --runner onnxruntime --model {path} --bench {bench}"
              f"{f' --data {data}' if data else ''} --exclude-calibration", highlight=False, soft_wrap=True,
              markup=False)


@dataclass(frozen=True)
class MixedRequest:
    target: float | None
    target_sqnr: float | None
    validation: int | None
    validation_ids: list[str] | None
    order: str
    keep_as: str | None
    search_dir: Path | None
    evaluate: bool

    @property
    def wanted(self) -> bool:
        return self.target is not None or self.target_sqnr is not None

    def refuse_unwanted(self) -> None:
        given = [flag for flag, v in (("--validation", self.validation), ("--validation-items", self.validation_ids),
                                      ("--keep-as", self.keep_as), ("--search-dir", self.search_dir)) if v]
        given += ["--order"] if self.order != "sensitivity" else []
        given += ["--no-evaluate"] if not self.evaluate else []
        if given:
            raise MobevalError(f"{', '.join(given)}: for a mixed-precision search only; give --target or --target-sqnr")

    def search_target(self):
        from mobeval.vision.quantize.search import ORDERS, SearchTarget

        if self.target is not None and self.target_sqnr is not None:
            raise MobevalError("--target and --target-sqnr: give one target")
        if self.target is not None and not 0 < self.target <= 1:
            raise MobevalError(f"--target {self.target}: a share of the float model's top-1, in (0, 1] (e.g. 0.98)")
        if self.target_sqnr is not None and not math.isfinite(self.target_sqnr):
            raise MobevalError(f"--target-sqnr {self.target_sqnr}: a finite number of dB")
        if self.order not in ORDERS:
            raise MobevalError(f"--order {self.order}: one of {', '.join(ORDERS)}")
        if (self.validation is None) == (not self.validation_ids):
            raise MobevalError("a mixed-precision search needs validation images, other than the calibration "
                               "images: give --validation N or --validation-items, one of them")
        return (SearchTarget(kind="top1", value=self.target) if self.target is not None
                else SearchTarget(kind="sqnr", value=self.target_sqnr))


def _search(model_name, scheme_name, per_channel, symmetric, method, reduce_range, bench, data, labels, n, ids,
            seed, preprocess, providers, output, mixed: MixedRequest) -> None:
    import time

    from mobeval.core.console import err
    from mobeval.core.hashing import stream_sha256
    from mobeval.core.sampling import stratified_sample
    from mobeval.vision.commands.quantize_search import (
        SearchReport,
        evaluate_points,
        markdown,
        mixed_search,
        write_report,
    )
    from mobeval.vision.models.registry import onnx_file
    from mobeval.vision.quantize.calibration import calibration_info
    from mobeval.vision.quantize.manifest import write_manifest
    from mobeval.vision.quantize.mixed import check_keep_as, default_keep_as

    target = mixed.search_target()
    if output is not None:
        output = _checked_output(output.expanduser())
    scheme, vision, dataset, calib_items = _prepare(model_name, scheme_name, per_channel, symmetric, method,
                                                    reduce_range, bench, data, labels, n, ids, seed, preprocess)
    keep_as = check_keep_as(scheme, mixed.keep_as) if mixed.keep_as else default_keep_as(scheme)
    used = {i.id for i in calib_items} | {stream_sha256(i.path) for i in calib_items}
    rest = [i for i in dataset.items if i.id not in used and stream_sha256(i.path) not in used]
    if mixed.validation_ids:
        clash = [i for i in mixed.validation_ids if i in {c.id for c in calib_items}]
        if clash:
            raise MobevalError(f"--validation-items: {', '.join(clash[:5])} also calibrate the model; the search's "
                               "validation images must be other images")
        by_id = {i.id: i for i in rest}
        missing = [i for i in mixed.validation_ids if i not in by_id]
        if missing:
            raise MobevalError(f"--validation-items: {', '.join(missing[:5])} not in --bench {bench} (or the same "
                               "picture as a calibration image)")
        val_items = [by_id[i] for i in dict.fromkeys(mixed.validation_ids)]
    else:
        if not 1 <= mixed.validation <= len(rest):
            raise MobevalError(f"--validation {mixed.validation}: {len(rest)} images of --bench {bench} are not "
                               f"calibration images; give 1..{len(rest)}")
        val_items = stratified_sample(rest, mixed.validation, seed + 1, key=lambda i: str(i.label))
    if mixed.evaluate and len(rest) == len(val_items):
        raise MobevalError(f"--bench {bench}: no image is left to evaluate after {len(calib_items)} calibration and "
                           f"{len(val_items)} validation images; use fewer, or --no-evaluate")
    spec = vision.preprocess
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder = (mixed.search_dir or Path("results") / f"quantize-search-{vision.alias}-{scheme.name}-{stamp}").expanduser()

    def progress(line: str) -> None:
        err.print(line, highlight=False, markup=False, soft_wrap=True)

    outcome, points = mixed_search(
        vision=vision, float_path=onnx_file(vision), scheme=scheme, calib_items=calib_items, val_items=val_items,
        spec=spec, bench=bench, data=data, target=target, order=mixed.order, keep_as=keep_as, providers=providers,
        calib_info=calibration_info(calib_items, spec, bench, data, None if ids else seed),
        source_model=_source_model(vision, spec), progress=progress)
    report = SearchReport(model=vision.alias, bench=bench, calibration_n=len(calib_items),
                          validation_ids=[i.id for i in val_items], outcome=outcome, points=points,
                          machine=_machine())
    write_report(report, folder)  # the search is kept even if an evaluation run fails
    if mixed.evaluate:
        evaluate_points(points, bench=bench, data=data, labels=labels, out=folder / "runs", progress=progress)
        write_report(report, folder)
    out.print(markdown(report), highlight=False, markup=False, soft_wrap=True)
    chosen = next((p for p in points if p.chosen), None)
    if chosen is not None and output is not None:
        from mobeval.vision.quantize import read_manifest

        shutil.copyfile(chosen.model, output)
        write_manifest(output, read_manifest(Path(chosen.model)).model_copy(update={"file": output.name}))
    out.print(f"search: {folder}", highlight=False, markup=False, soft_wrap=True)
    if chosen is None:
        fail(f"no trial met the target ({target.label}), not even with every layer kept at {keep_as}")
    out.print(f"model: {output.resolve() if output else chosen.model}", highlight=False, markup=False, soft_wrap=True)


def _machine() -> str:
    from mobeval.measure.environment import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} CPUs"


def _source_model(vision, spec) -> dict:
    return {"alias": vision.alias, "name": vision.name, "origin": vision.origin,
            "num_classes": vision.num_classes, "preprocess": spec.model_dump(mode="json")}


def _prepare(model_name, scheme_name, per_channel, symmetric, method, reduce_range, bench, data, labels, n, ids,
             seed, preprocess):
    """The scheme, the float model, the benchmark and its calibration items, all checked."""
    from mobeval.core.benchmarks import BenchOptions, bench_entry, load_benchmark
    from mobeval.vision.models.registry import resolve
    from mobeval.vision.quantize import QuantScheme, read_manifest
    from mobeval.vision.quantize.calibration import select_calibration
    from mobeval.vision.task.preprocess import load_spec

    scheme = QuantScheme.parse(scheme_name, per_channel=per_channel, weight_symmetric=symmetric,
                               activation_symmetric=symmetric, calibration_method=method, reduce_range=reduce_range)
    if bench_entry(bench).kind != "image-classification":
        raise MobevalError(f"--bench {bench}: a {bench_entry(bench).kind} benchmark; calibration takes images")
    vision = resolve(model_name, load_spec(preprocess) if preprocess else None)
    if vision.format == "onnx" and read_manifest(vision.path) is not None:
        raise MobevalError(f"{model_name}: already quantized by mobeval; quantize its float model")
    if vision.preprocess is None:
        raise MobevalError(f"{model_name}: its preprocessing is not known; give --preprocess")
    dataset = load_benchmark(bench, BenchOptions(data=data, labels=labels))
    return scheme, vision, dataset, select_calibration(dataset.items, n, ids, seed, f"--bench {bench}")


def _quantize(model_name, scheme_name, per_channel, symmetric, method, reduce_range, bench, data, labels, n, ids,
              seed, preprocess, providers, output):
    from mobeval.vision.models.registry import onnx_file
    from mobeval.vision.quantize import quantize_onnx
    from mobeval.vision.quantize.calibration import calibration_info, image_inputs
    from mobeval.vision.quantize.manifest import write_manifest

    if output is not None:  # checked before the (minutes of) quantization, not after it
        output = _checked_output(output.expanduser())
    scheme, vision, _, items = _prepare(model_name, scheme_name, per_channel, symmetric, method, reduce_range, bench,
                                        data, labels, n, ids, seed, preprocess)
    spec = vision.preprocess
    q = quantize_onnx(
        onnx_file(vision), scheme, image_inputs(items, spec),
        calibration_info=calibration_info(items, spec, bench, data, None if ids else seed), providers=providers,
        source_model=_source_model(vision, spec),
    )
    if output is None:
        return q.path, q
    shutil.copyfile(q.path, output)
    write_manifest(output, q.manifest.model_copy(update={"file": output.name}))
    return output.resolve(), q


def _checked_output(output: Path) -> Path:
    """--output: a new .onnx path in a folder that exists, or a model mobeval quantized before (its manifest
    beside it, so it is ours to replace); never an unrelated file."""
    from mobeval.vision.quantize import read_manifest

    if output.suffix.lower() != ".onnx":
        raise MobevalError(f"--output {output}: give a path ending in .onnx")
    if not output.parent.is_dir():
        raise MobevalError(f"--output {output}: the folder {output.parent} does not exist; create it first")
    if output.is_dir():
        raise MobevalError(f"--output {output}: a folder; give the .onnx file's path")
    if output.exists() and read_manifest(output) is None:
        raise MobevalError(f"--output {output}: the file exists and is not a model mobeval quantized (no "
                           f"{output.stem}.quant.json beside it); choose another path or remove it")
    return output
