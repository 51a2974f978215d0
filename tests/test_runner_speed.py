"""`mobeval fastest`: the same questions through each runner, timed as an evaluation runs them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.config import load_config
from mobeval.studies.runner_speed import candidate_runners, compare_runners


def test_candidates_follow_the_model_kind():
    assert candidate_runners(None) == ["llama.cpp", "transformers"]  # the bundled GGUF
    assert "llama.cpp" not in candidate_runners("some-org/some-model")  # a hub id: not a GGUF


def test_times_each_runner_on_the_same_questions_and_orderings(tmp_path):
    cfg = load_config(None, {"orderings": "cyclic", "threads": 2})
    result = compare_runners(cfg, ["llama.cpp", "mlc"], limit=2)
    llama, mlc = result.runners
    assert llama.error is None and llama.questions == 2 and llama.prompts == 2 * 4
    assert len(llama.seconds) == 1 and llama.seconds[0] > 0 and llama.seconds_per_question > 0
    assert all(len(c) == 4 for c in llama.choices.values()) and len(llama.choices) == 2
    assert mlc.error and mlc.seconds_per_question is None  # not installed here: said, not crashed
    assert result.ranked() == [llama]
    assert result.verdict() == "only llama.cpp could run here"
    assert llama.seconds_per_question == llama.seconds[0] / 2  # the one round's time over its 2 questions
    # the questions the bundled model answered, each ordering's choice an option (0-3) or None (no answer)
    assert all(c is None or 0 <= c < 4 for cs in llama.choices.values() for c in cs)


def test_agreement_counts_the_pairs_both_runners_answered_alike():
    from mobeval.studies.runner_speed import RunnerSpeed, SpeedComparison

    a = RunnerSpeed("a", choices={"q1": [0, 1, 2, 3], "q2": [1, 1, None, 0], "only-a": [2, 2, 2, 2]})
    b = RunnerSpeed("b", choices={"q1": [0, 1, 3, 3], "q2": [1, 0, None, 0], "only-b": [1, 1, 1, 1]})
    result = SpeedComparison([a, b], bench="b", model="m", orderings="cyclic", rounds=1)
    assert result.agreement(a, b) == 6 / 8  # q1: 3 of 4 alike, q2: 3 of 4 (None with None counts as alike)
    assert result.agreement(a, RunnerSpeed("c", choices={"other": [0]})) is None  # no question in common


def test_cli_prints_the_ranking_and_writes_json(tmp_path):
    done = CliRunner().invoke(app, ["fastest", "--runners", "llama.cpp", "--limit", "1", "--orderings",
                                    "original", "--output-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "only llama.cpp could run here" in done.output
    data = json.loads(next(tmp_path.glob("fastest__smollm2-135m__*.json")).read_text())
    assert data["schema_version"] == "mobeval.fastest/1" and data["runners"][0]["prompts"] == 1
    assert data["environment"]["cpu"]


def test_unknown_runner_is_an_error():
    done = CliRunner().invoke(app, ["fastest", "--runners", "nope", "--limit", "1"])
    assert done.exit_code == 2 and "unknown runner 'nope'" in done.output


def test_verdict_names_the_fastest_and_how_much_longer_the_others_take():
    from mobeval.studies.runner_speed import RunnerSpeed, SpeedComparison

    fast = RunnerSpeed("transformers", seconds=[1.0, 1.2, 1.1], questions=10)  # median 1.1 s: 0.110 s each
    slow = RunnerSpeed("llama.cpp", seconds=[3.3], questions=10)
    verdict = SpeedComparison([slow, fast], "b", "m", "cyclic", 3).verdict()
    assert verdict == "use --runner transformers: 0.110 s per question here (llama.cpp takes 3.00x as long)"
