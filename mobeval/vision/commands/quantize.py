"""`mobeval quantize`: static QDQ quantization of a vision model with ONNX Runtime, calibrated on
images of a benchmark (mobeval.vision.quantize)."""

from __future__ import annotations

import shutil
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
) -> None:
    """Quantize a vision model (static QDQ, ONNX Runtime) on calibration images of a benchmark; then
    `mobeval run --model THE.onnx` reports its SQNR per layer and accuracy cost against the float model."""
    try:
        made = _quantize(model, scheme, per_channel, symmetric, calibration_method, reduce_range, bench, data, labels,
                         calibration, _ids(calibration_items), seed, preprocess, provider, output)
    except MobevalError as exc:
        fail(str(exc))
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


def _quantize(model_name, scheme_name, per_channel, symmetric, method, reduce_range, bench, data, labels, n, ids,
              seed, preprocess, providers, output):
    from mobeval.core.benchmarks import BenchOptions, bench_entry, load_benchmark
    from mobeval.vision.models.registry import onnx_file, resolve
    from mobeval.vision.quantize import QuantScheme, quantize_onnx, read_manifest
    from mobeval.vision.quantize.calibration import calibration_info, image_inputs, select_calibration
    from mobeval.vision.quantize.manifest import write_manifest
    from mobeval.vision.task.preprocess import load_spec

    if output is not None:  # checked before the (minutes of) quantization, not after it
        output = _checked_output(output.expanduser())
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
    items = select_calibration(dataset.items, n, ids, seed, f"--bench {bench}")
    spec = vision.preprocess
    q = quantize_onnx(
        onnx_file(vision), scheme, image_inputs(items, spec),
        calibration_info=calibration_info(items, spec, bench, data, None if ids else seed), providers=providers,
        source_model={"alias": vision.alias, "name": vision.name, "origin": vision.origin,
                      "num_classes": vision.num_classes, "preprocess": spec.model_dump(mode="json")},
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
