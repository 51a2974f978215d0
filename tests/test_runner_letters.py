"""Letter scoring shared by the HTTP and MLC runners, on recorded (and labelled written) server replies."""

import json

import pytest

from mobeval.core.errors import RunnerError
from mobeval.text.runners.letters import (FLOOR_MARGIN, NoLogprobsError, letter_request, letter_token_ids, needs_generate,
                                     parse_letters, reply_text, token_counts)

from tests.recorded import fixture


def legacy(top: dict, sampled: tuple[str, float] | None = None) -> dict:
    tokens, values = ([sampled[0]], [sampled[1]]) if sampled else ([], [])
    return {"choices": [{"text": "", "logprobs": {"tokens": tokens, "token_logprobs": values, "top_logprobs": [top]}}]}


def content(top: list[tuple[str, float]]) -> dict:
    first = {"token": top[0][0], "logprob": top[0][1], "top_logprobs": [{"token": t, "logprob": v} for t, v in top]}
    return {"choices": [{"message": {"content": top[0][0]}, "logprobs": {"content": [first]}}]}


def test_completions_request_biases_the_letters_equally():
    body = letter_request("Q\nAnswer:", 20, [330, 389], seed=0, model="m")
    assert body == {"prompt": "Q\nAnswer:", "max_tokens": 1, "logprobs": 20, "temperature": 0.0,
                    "logit_bias": {330: 100.0, 389: 100.0}, "seed": 0, "model": "m"}
    assert json.loads(json.dumps(body))["logit_bias"] == {"330": 100.0, "389": 100.0}  # JSON keys are strings
    assert "logit_bias" not in letter_request("Q", 5, None)


def test_chat_request_uses_messages_and_top_logprobs():
    body = letter_request("Q", 20, [1], chat=True, temperature=1.0)
    assert body["messages"] == [{"role": "user", "content": "Q"}]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["temperature"] == 1.0
    assert "prompt" not in body


def test_recorded_legacy_reply_floors_the_letter_outside_the_top_20():
    rec = fixture("llamacpp_completion_biased")
    top = rec["response"]["choices"][0]["logprobs"]["top_logprobs"][0]
    scores = parse_letters(rec["response"], rec["continuations"])
    assert scores.logprobs[0] == top[" A"] and scores.logprobs[2] == top[" C"] and scores.logprobs[3] == top[" D"]
    assert " B" not in top and scores.logprobs[1] == min(top.values()) - FLOOR_MARGIN
    assert scores.floored == 1 and scores.whitespace_matched == 0


def test_recorded_chat_reply_in_the_content_list_shape():
    rec = fixture("llamacpp_chat_biased")
    top = {t["token"]: t["logprob"] for t in rec["response"]["choices"][0]["logprobs"]["content"][0]["top_logprobs"]}
    scores = parse_letters(rec["response"], rec["continuations"])
    assert scores.logprobs == tuple(top[c] for c in "ABCD") and scores.floored == 0


def test_recorded_llama_server_reply_in_the_content_list_shape():
    """llama.cpp's own server (recorded): logprobs.content[] of {id, token, bytes, logprob, top_logprobs},
    and timings.prompt_n, the prompt tokens it evaluated after its cache (cache_n) supplied the rest."""
    rec = fixture("llama_server_completion")
    content = rec["response"]["choices"][0]["logprobs"]["content"][0]
    top = {t["token"]: t["logprob"] for t in content["top_logprobs"]}
    scores = parse_letters(rec["response"], rec["continuations"])
    assert scores.logprobs == tuple(top[c] for c in rec["continuations"]) and scores.floored == 0
    timings = rec["response"]["timings"]
    assert token_counts(rec["response"]) == (77, 45) == (timings["cache_n"] + timings["prompt_n"], timings["prompt_n"])


def test_empty_reply_is_an_error_but_not_a_missing_logprobs_one():
    rec = fixture("llamacpp_completion_unbiased")  # no bias: end-of-text first, nothing to read
    with pytest.raises(RunnerError, match="empty reply") as err:
        parse_letters(rec["response"], rec["continuations"])
    assert not isinstance(err.value, NoLogprobsError)
    assert not needs_generate(rec["response"])


def test_no_logprobs_at_all_calls_for_generate():
    rec = fixture("llamacpp_completion_no_logprobs")
    assert needs_generate(rec["response"])
    assert not needs_generate(fixture("llamacpp_completion_biased")["response"])
    with pytest.raises(NoLogprobsError):
        parse_letters(rec["response"], rec["continuations"])


@pytest.mark.parametrize("reply", [legacy, lambda top: content(list(top.items()))])
def test_whitespace_only_difference_is_used_only_without_an_exact_match(reply):
    # " A" asked, only "A" returned: "A" stands in, and is counted
    scores = parse_letters(reply({"A": -1.0, " B": -2.0, "x": -5.0}), (" A", " B"))
    assert scores.logprobs == (-1.0, -2.0) and scores.whitespace_matched == 1 and scores.floored == 0
    # both returned: the exact one, never the other
    scores = parse_letters(reply({"A": -0.5, " A": -3.0, "x": -5.0}), (" A",))
    assert scores.logprobs == (-3.0,) and scores.whitespace_matched == 0
    # "A" asked: " A" or "\nA" stand in; a longer token never does
    scores = parse_letters(reply({"\nA": -2.5, " AB": -1.0, "Ab": -1.5, "x": -5.0}), ("A",))
    assert scores.logprobs == (-2.5,) and scores.whitespace_matched == 1
    scores = parse_letters(reply({" AB": -1.0, "x": -5.0}), ("A",))
    assert scores.logprobs == (-6.0,) and scores.floored == 1


def test_duplicates_take_the_highest_and_the_sentinel_counts_as_absent():
    scores = parse_letters(content([("B", -1.0), ("A", -2.0), ("A", -4.0), ("C", -9999.0)]), ("A", "B", "C"))
    assert scores.logprobs == (-2.0, -1.0, -5.0) and scores.floored == 1  # one below -4.0, not -9999


def test_the_sampled_token_fills_in_only_where_the_list_lacks_it():
    assert parse_letters(legacy({"x": -1.0}, (" A", -6.0)), (" A",)).logprobs == (-6.0,)
    # the list's value wins over a sampled value that may carry the bias
    assert parse_letters(legacy({" A": -3.0}, (" A", 0.0)), (" A",)).logprobs == (-3.0,)


def test_unknown_shape_and_no_choices_are_errors():
    with pytest.raises(RunnerError, match="unrecognised"):
        parse_letters({"choices": [{"logprobs": {"something": []}}]}, ("A",))
    with pytest.raises(RunnerError, match="no choices"):
        parse_letters({"error": "x"}, ("A",))


def test_letter_token_ids_drop_what_comes_before_any_text():
    assert letter_token_ids([[1, 330], [1, 389]], prefix=[1]) == [330, 389]
    assert letter_token_ids([[330], [389]]) == [330, 389]
    assert letter_token_ids([[330], [12, 389]]) is None  # a letter that is two tokens: no bias
    assert letter_token_ids([[330], [330]]) is None  # not distinct


def test_token_counts_from_usage_and_cache_reports():
    assert token_counts({"usage": {"prompt_tokens": 40}}) == (40, 40)
    assert token_counts({"usage": {"prompt_tokens": 40, "prompt_tokens_details": {"cached_tokens": 32}}}) == (40, 8)
    assert token_counts({}) == (0, 0)


def test_reply_text_of_completions_chats_and_chunks():
    assert reply_text({"choices": [{"text": " A"}]}) == " A"
    assert reply_text({"choices": [{"message": {"content": "B"}}]}) == "B"
    assert reply_text({"choices": [{"delta": {"role": "assistant"}}]}) == ""
    assert reply_text({"choices": []}) == ""
