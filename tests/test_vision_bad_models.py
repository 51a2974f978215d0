"""Model files that are not what they claim are one clear error, never a traceback: a truncated .onnx given to
`mobeval quantize`, a .pt2 that is not a torch.export archive, an ONNX model with two inputs, and one whose
input shape is not the preprocessing's."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("skimage", reason="the bundled photographs ship inside scikit-image (the vision extra)")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from mobeval.cli import app  # noqa: E402

cli = CliRunner()


def refused(*args: str, code: int) -> str:
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and "File \"" not in res.output, res.output
    return " ".join(res.output.split())


def _model(path, inputs: list[tuple[str, list[int]]]) -> None:
    vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    out = helper.make_tensor_value_info("z", TensorProto.FLOAT, inputs[0][1])
    op = helper.make_node("Add", [n for n, _ in inputs], ["z"]) if len(inputs) == 2 else \
        helper.make_node("Relu", [inputs[0][0]], ["z"])
    model = helper.make_model(helper.make_graph([op], "g", vis, [out]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what every ONNX Runtime since 1.16 reads
    onnx.save(model, str(path))


def test_a_truncated_onnx_to_quantize_is_named(tmp_path):
    whole = tmp_path / "whole.onnx"
    _model(whole, [("x", [1, 3, 224, 224])])
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(whole.read_bytes()[:40])
    out = refused("quantize", str(cut), "--bench", "imagenet-photos", "--calibration", "1", "--preprocess",
                  "efficientnet-lite0", code=2)
    assert f"{cut}: not an ONNX model onnx can read" in out


def test_a_pt2_that_is_not_an_archive_is_named(tmp_path):
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip archive\n" * 100)
    out = refused("run", "--task", "image-classification", "--runner", "torch", "--model", str(bad), "--preprocess",
                  "efficientnet-lite0", "--output-dir", str(tmp_path / "out"), code=1)
    assert f"{bad}: not a torch.export archive" in out


def test_an_onnx_model_with_two_inputs_is_named(tmp_path):
    two = tmp_path / "two.onnx"
    _model(two, [("x", [1, 3, 224, 224]), ("y", [1, 3, 224, 224])])
    out = refused("run", "--task", "image-classification", "--runner", "onnxruntime", "--model", str(two),
                  "--preprocess", "efficientnet-lite0", "--output-dir", str(tmp_path / "out"), code=1)
    assert "takes one input (the image batch); this model takes 2 (x, y)" in out


def test_an_onnx_input_shape_the_preprocessing_does_not_give_is_named(tmp_path):
    small = tmp_path / "small.onnx"
    _model(small, [("x", [1, 1, 28, 28])])
    out = refused("run", "--task", "image-classification", "--runner", "onnxruntime", "--model", str(small),
                  "--preprocess", "efficientnet-lite0", "--output-dir", str(tmp_path / "out"), code=1)
    assert "has shape [1, 1, 28, 28], the preprocessing gives [1, 3, 224, 224]" in out


def test_a_quantized_onnx_without_its_manifest_is_run_with_a_note(tmp_path):
    """Quantization nodes and no `mobeval quantize` manifest: nothing says which images calibrated it."""
    from PIL import Image

    from mobeval.vision.quantize.manifest import manifest_path

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1000])  # ImageNet's 1000 logits
    consts = [helper.make_tensor("s", TensorProto.FLOAT, [], [0.05]), helper.make_tensor("zp", TensorProto.UINT8, [], [128]),
              helper.make_tensor("w", TensorProto.FLOAT, [3, 1000], [(k % 7) / 7 for k in range(3000)])]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["dq"]),
             helper.make_node("GlobalAveragePool", ["dq"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], consts), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path / "tiny-qdq.onnx"
    onnx.save(model, str(path))
    for cls, colour in (("a", (250, 20, 20)), ("b", (20, 250, 20))):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.new("RGB", (64, 64), colour).save(tmp_path / "imgs" / cls / "1.png")
    res = cli.invoke(app, ["run", "--task", "image-classification", "--runner", "onnxruntime", "--model", str(path),
                           "--preprocess", "efficientnet-lite0", "--bench", "imagefolder", "--data",
                           str(tmp_path / "imgs"), "--output-dir", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    import json
    from pathlib import Path

    result = json.loads((Path(res.stdout.strip()) / "result.json").read_text())
    (note,) = result["runner"]["notes"]
    assert "tiny-qdq.onnx is a quantized model (2 quantization nodes) without the manifest" in note
    assert not manifest_path(path).exists()
    res = cli.invoke(app, ["report", res.stdout.strip()], env={"COLUMNS": "200"})
    assert "runner note: tiny-qdq.onnx is a quantized model" in " ".join(res.output.split())


def test_a_strip_image_is_refused_before_its_resize_takes_gigabytes(tmp_path):
    """A 1 x 30000 PNG (a few hundred bytes) resized to short side 256 would be 256 x 7.7M pixels (~6 GB)."""
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
    Image.new("L", (1, 30000)).save(tmp_path / "imgs" / "a" / "strip.png")
    Image.new("RGB", (64, 64)).save(tmp_path / "imgs" / "b" / "ok.png")
    out = refused("run", "--task", "image-classification", "--bench", "imagefolder", "--data", str(tmp_path / "imgs"),
                  "--output-dir", str(tmp_path / "out"), code=1)
    assert "strip.png: a 1x30000 image would be resized to 256x7680000" in out


def test_init_from_is_named_as_init_from(tmp_path):
    out = refused("train", "spectrum", "--out", str(tmp_path / "net"), "--init-from", "nope", code=2)
    assert "--init-from nope: not a bundled spectrum net" in out and "--model" not in out
