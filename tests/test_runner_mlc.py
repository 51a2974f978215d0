"""The MLC runner's request building and parsing on MLC-shaped replies; the missing-install error.

mlc_llm is not installable here (its wheels come from MLC's own index), so the engine itself is not run.
"""

import math
import sys
from pathlib import Path

import pytest

from mobeval.core.errors import RunnerError
from mobeval.core.runners import make_runner
from mobeval.text.runners.mlc import INSTALL, MLCRunner, mlc_letter_request, mlc_letter_scores

from tests.recorded import fixture


def log_softmax(values):
    lse = math.log(sum(math.exp(v) for v in values))
    return [v - lse for v in values]


def test_completions_request_within_mlc_limits():
    kw = mlc_letter_request("Q\nAnswer:", [330, 389, 340, 422], chat=False, seed=7)
    assert kw["prompt"] == "Q\nAnswer:" and kw["max_tokens"] == 1 and kw["seed"] == 7
    assert kw["logprobs"] == 5  # MLC's COMPLETION_MAX_TOP_LOGPROBS
    assert kw["temperature"] == 1.0  # MLC's logprobs are degenerate at temperature 0
    assert kw["logit_bias"] == {330: 100.0, 389: 100.0, 340: 100.0, 422: 100.0}  # MLC wants int keys
    assert "model" not in kw


def test_chat_request_within_mlc_limits():
    kw = mlc_letter_request("Q", [49, 50], chat=True, seed=0)
    assert kw["messages"] == [{"role": "user", "content": "Q"}]
    assert kw["logprobs"] is True and kw["top_logprobs"] == 20  # CHAT_COMPLETION_MAX_TOP_LOGPROBS


@pytest.mark.parametrize("name", ["mlc_completion", "mlc_chat"])
def test_mlc_replies_give_the_same_choice_as_full_vocabulary_logprobs(name):
    rec = fixture(name)
    scores, prompt, evaluated = mlc_letter_scores(rec["response"], rec["continuations"])
    full = [rec["full_vocabulary_logprobs"][c] for c in rec["continuations"]]
    assert scores.floored == 0  # under the bias every letter is in MLC's top 5
    # normalised over the letters: the same after a log-softmax over the options, the same choice
    assert log_softmax(scores.logprobs) == pytest.approx(log_softmax(full), abs=1e-9)
    assert scores.logprobs.index(max(scores.logprobs)) == full.index(max(full))
    assert prompt == evaluated == rec["response"]["usage"]["prompt_tokens"]


def test_missing_install_is_a_clear_error_with_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlc_llm", None)  # as if not installed, even where it is
    with pytest.raises(RunnerError) as err:
        MLCRunner("dist/Model-MLC/mlc-chat-config.json")
    assert INSTALL in str(err.value) and "https://mlc.ai/wheels" in str(err.value)
    with pytest.raises(RunnerError, match="mlc-llm-nightly-cpu"):
        make_runner("mlc", Path("dist/Model-MLC/mlc-chat-config.json"), {"chat": False, "seed": 0, "endpoint": None})


def test_cli_with_an_mlc_folder_reaches_the_runner_and_names_the_install(tmp_path):
    from typer.testing import CliRunner

    from mobeval.cli import app

    res = CliRunner().invoke(app, ["run", "--runner", "mlc", "--model", "dist/Model-MLC", "--limit", "1",
                                   "--output-dir", str(tmp_path)])
    assert res.exit_code == 1 and "mlc.ai/wheels" in res.output and "Traceback" not in res.output
