"""A model whose outputs are not finite is an error naming the item, never a score: argmax over NaN logits is
class 0, which once passed as a 50% top-1 on a balanced two-class set."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.text.samples import bad_logprobs

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _nan_classifier(path) -> None:
    """A real ONNX graph with EfficientNet-Lite0's input (1x3x224x224) and 1,000 outputs, all NaN: a global
    average pool of the image times a weight matrix of NaN."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.full((3, 1000), np.nan, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "nan-classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        initializer=[weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_nan_logits_are_an_error_naming_the_image(tmp_path):
    model = tmp_path / "nan.onnx"
    _nan_classifier(model)
    res = CliRunner().invoke(app, ["run", "--task", "image-classification", "--model", str(model), "--preprocess",
                                   "efficientnet-lite0", "--runner", "onnxruntime", "--output-dir", str(tmp_path / "o")])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "1000 of the model's 1000 logits are NaN or infinite" in " ".join(res.output.split())
    assert "image " in res.output
    # nothing was scored: no result claims an accuracy
    for result in (tmp_path / "o").rglob("result.json"):
        data = json.loads(result.read_text())
        assert data["task"].get("n_labelled", 0) == 0 or data["status"] != "complete"


@pytest.mark.parametrize("logprobs, why", [
    ((-0.1, float("nan")), "NaN"),
    ((-0.1, float("inf")), "above 0"),
    ((0.5, -1.0), "above 0"),
    ((-0.1, -math.inf), ""),  # a probability of zero is a valid answer
    ((0.0, -2.0), ""),
])
def test_bad_logprobs(logprobs, why):
    assert (why in bad_logprobs(logprobs)) if why else bad_logprobs(logprobs) == ""
