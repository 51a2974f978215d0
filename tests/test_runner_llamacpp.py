"""The real llama.cpp runner on the bundled SmolLM2-135M model."""

import math

import numpy as np
import pytest

from mobeval.core.errors import RunnerError
from mobeval.core.orderings import orderings_for
from mobeval.text.prompts import load_template
from mobeval.text.runners.llamacpp import LlamaCppRunner
from mobeval.text.types import ChoiceRequest, GenerateRequest

TEMPLATE = load_template("mobile-mmlu", "mobile-mmlu")
OPTIONS = ["Paris", "Berlin", "Madrid", "Rome"]


def cyclic_requests(question="What is the capital of France?", options=OPTIONS, template=TEMPLATE):
    return [
        ChoiceRequest(template.render(question, [options[i] for i in o]), template.continuations(4))
        for o in orderings_for(4, "cyclic")
    ]


def from_scratch(runner, requests):
    out = []
    for r in requests:
        runner.llm.n_tokens = 0  # forget the cache: evaluate the whole prompt
        out.append(runner.score_choices([r])[0])
    return out


def test_shared_prefix_scores_equal_scoring_from_scratch(runner):
    reqs = cyclic_requests()
    runner.llm.n_tokens = 0
    shared = runner.score_choices(reqs)
    fresh = from_scratch(runner, reqs)
    for a, b in zip(shared, fresh):
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-4)
        assert a.prompt_tokens == b.prompt_tokens == b.evaluated_tokens
    assert shared[0].evaluated_tokens == shared[0].prompt_tokens
    # later orderings share the instruction and the question: only the options onward run again
    assert all(r.evaluated_tokens < r.prompt_tokens // 2 for r in shared[1:])


def test_consecutive_questions_share_the_instruction_header(runner):
    runner.llm.n_tokens = 0
    first = runner.score_choices(cyclic_requests("Which app shows a map?")[:1])[0]
    second = runner.score_choices(cyclic_requests("Which unit measures battery capacity?")[:1])[0]
    assert second.evaluated_tokens < second.prompt_tokens
    assert first.evaluated_tokens == first.prompt_tokens


def test_logprobs_are_log_probabilities_of_the_letters(runner):
    (resp,) = runner.score_choices(cyclic_requests()[:1])
    assert len(resp.logprobs) == 4
    assert all(lp < 0 for lp in resp.logprobs)
    assert sum(np.exp(resp.logprobs)) <= 1.0


def test_mmlu_letters_follow_a_space(runner):
    """MMLU's prompt ends at "Answer:" and the letters are scored as " A" ... " D": the tokens a model writes
    there. Scored without the space they are tokens the model almost never writes after a colon (SmolLM2 on
    AMD EPYC: 6.9% of the probability mass on the four letters with the space, 0.02% without)."""
    t = load_template("mmlu", "mmlu")
    prompt = t.render("2+2=?", ["3", "4", "5", "6"], "math")
    assert prompt.endswith("Answer:") and t.continuations(4) == (" A", " B", " C", " D")
    (spaced,) = runner.score_choices([ChoiceRequest(prompt, t.continuations(4))])
    (bare,) = runner.score_choices([ChoiceRequest(prompt, ("A", "B", "C", "D"))])
    mass = sum(math.exp(x) for x in spaced.logprobs)
    assert len(spaced.logprobs) == 4 and mass > 20 * sum(math.exp(x) for x in bare.logprobs), (spaced, bare)


def test_a_continuation_that_is_not_one_token_is_an_error(runner):
    with pytest.raises(RunnerError, match="does not tokenize as one token"):
        runner.score_choices([ChoiceRequest("Answer:", (" Paris is nice", " B"))])


def test_generate_is_greedy_and_bounded(runner):
    req = GenerateRequest(cyclic_requests()[0].prompt, max_tokens=5)
    a, b = runner.generate([req]), runner.generate([req])
    assert a[0].text == b[0].text
    assert 1 <= a[0].generated_tokens <= 5
    assert 0 < a[0].ttft_s <= a[0].latency_s


def test_prompt_longer_than_context_is_a_clear_error(runner):
    with pytest.raises(RunnerError, match="exceeds n_ctx"):
        runner.score_choices([ChoiceRequest("word " * 2000 + "Answer:", (" A", " B"))])


def test_tiny_context_is_a_clear_error_not_a_buffer_overflow(smollm2_path):
    """llama.cpp rounds a small n_ctx up, but llama-cpp-python's token buffer holds only what was asked
    (before the fix: ValueError "could not broadcast input array from shape (24,) into shape (0,)")."""
    r = LlamaCppRunner(smollm2_path, n_ctx=24)
    try:
        with pytest.raises(RunnerError, match="exceeds n_ctx=24"):
            r.score_choices([ChoiceRequest("word " * 30 + "Answer:", (" A", " B"))])
    finally:
        r.close()


def test_chat_template_from_gguf(smollm2_path):
    from mobeval.text.runners.llamacpp import LlamaCppRunner

    r = LlamaCppRunner(smollm2_path, n_ctx=512, chat=True)
    try:
        tokens = r._tokenize("Hi")
        text = r.llm.detokenize(tokens, special=True).decode()
        assert "<|im_start|>user" in text and text.rstrip().endswith("<|im_start|>assistant")
        (resp,) = r.score_choices(cyclic_requests()[:1])
        assert len(resp.logprobs) == 4
    finally:
        r.close()


def test_unloadable_model_file_is_a_clear_error(tmp_path):
    from mobeval.text.runners.llamacpp import LlamaCppRunner

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf")
    with pytest.raises(RunnerError, match="could not load"):
        LlamaCppRunner(bad)
