"""Opt-in: the llama.cpp-mtmd, openai and transformers VLM runners against a REAL vision-language model you
give, on the bundled vlm-digits questions, end to end through `mobeval run`. Skipped unless given:

    MOBEVAL_TEST_VLM_GGUF=/models/SmolVLM-256M-Instruct-Q8_0.gguf   # an mmproj*.gguf must lie beside it
    MOBEVAL_TEST_VLM_ENDPOINT=http://127.0.0.1:8080/v1              # e.g. llama-server -m X.gguf --mmproj Y.gguf
    MOBEVAL_TEST_VLM_HF=HuggingFaceTB/SmolVLM-256M-Instruct         # a folder, or a hub id with the network

The same runners are tested in the default suite against digits-clip, the small VLM this project trains
and ships in both formats (tests/test_vlm_runners.py); these say whether they hold on a model made by others.
"""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from mobeval.cli import app

pytestmark = pytest.mark.slow
CASES = {
    "llama.cpp-mtmd": ("MOBEVAL_TEST_VLM_GGUF", "--model"),
    "openai": ("MOBEVAL_TEST_VLM_ENDPOINT", "--endpoint"),
    "transformers": ("MOBEVAL_TEST_VLM_HF", "--model"),
}


@pytest.mark.parametrize("runner", list(CASES))
def test_a_real_vlm_answers_the_bundled_questions(runner, tmp_path):
    variable, flag = CASES[runner]
    given = os.environ.get(variable)
    if not given:
        pytest.skip(f"no real VLM given for --runner {runner}: set {variable} (see this file's docstring)")
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, ["run", "--bench", "vlm-digits", "--runner", runner, flag, given, "--limit", "6",
                                   "--orderings", "cyclic", "--output-dir", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "accuracy, original order" in res.output and "time to first token" in res.output
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert records and all(r["ttft_ms"] and r["ttft_ms"] > 0 for r in records)
    assert all(r["prompt_tokens"] and r["prompt_tokens"] > 5 for r in records)
    if runner != "openai":  # the runners in this process see the encoder and count the image's tokens
        assert all(r["encode_ms"] and r["encode_ms"] > 0 and r["image_tokens"] > 0 for r in records)
    # a real VLM reads a clear digit: most multiple-choice answers are valid letters
    mc = [r for r in records if len(r["order"]) > 1]
    assert sum(r["choice"] is not None for r in mc) >= len(mc) / 2
