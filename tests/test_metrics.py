"""Each metric against the worked example in the README, computed by hand."""

import math

import pytest

from mobeval.text.metrics import debiased_choice, group_by_question, score, score_by
from mobeval.text.samples import Sample

CYCLIC = [(0, 1, 2, 3), (1, 2, 3, 0), (2, 3, 0, 1), (3, 0, 1, 2)]


def make(qid, answer, field, probs_per_ordering, choices=None):
    """Samples of one question under the 4 cyclic orderings; probabilities per position."""
    out = []
    for k, probs in enumerate(probs_per_ordering):
        logprobs = tuple(math.log(p) for p in probs)
        choice = max(range(4), key=lambda i: probs[i]) if choices is None else choices[k]
        out.append(Sample(qid, k, CYCLIC[k], choice, answer, field, "", "h", logprobs, None, 40, 10, 0.1))
    return out


# Q1 (key: option 0): right under orderings 0-2, then picks option 3 under ordering 3.
Q1 = make("q1", 0, "travel", [(.7, .1, .1, .1), (.1, .1, .1, .7), (.1, .1, .7, .1), (.5, .3, .1, .1)])
# Q2 (key: option 1): always answers "A"; right only under ordering 1; the mean over orderings
# still favours option 1.
Q2 = make("q2", 1, "travel", [(.4, .3, .15, .15), (.5, .2, .15, .15), (.4, .15, .15, .3), (.4, .15, .3, .15)])
# Q3 (no key): always picks option 2, at positions C, B, A, D.
Q3 = make("q3", None, "money", [(.1, .1, .7, .1), (.1, .7, .1, .1), (.7, .1, .1, .1), (.1, .1, .1, .7)])
ALL = Q1 + Q2 + Q3


def test_chosen_options_are_mapped_back_through_the_ordering():
    assert [s.chosen_option for s in Q1] == [0, 0, 0, 3]
    assert [s.chosen_option for s in Q2] == [0, 1, 2, 3]
    assert [s.chosen_option for s in Q3] == [2, 2, 2, 2]


def test_accuracies_use_keyed_questions_only():
    s = score(ALL)
    assert s.n_questions == 3 and s.n_keyed == 2 and s.n_samples == 12
    assert s.accuracy_original == pytest.approx(0.5)  # Q1 right, Q2 wrong
    assert s.accuracy_mean == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert s.accuracy_strict == 0.0


def test_consistency_needs_no_key():
    assert score(ALL).consistency == pytest.approx(1 / 3)  # only Q3
    assert score(Q3).consistency == 1.0
    assert score(Q3).accuracy_original is None


def test_position_bias_is_total_variation_from_uniform():
    s = score(ALL)
    # letters chosen: A 7, B 1, C 2, D 2 of 12; uniform would be 3 each
    assert s.letter_share == pytest.approx({"A": 7 / 12, "B": 1 / 12, "C": 2 / 12, "D": 2 / 12})
    assert s.letter_expected == pytest.approx({k: 0.25 for k in "ABCD"})
    assert s.position_bias == pytest.approx(0.5 * (4 + 2 + 1 + 1) / 12)
    assert score(Q2).position_bias == pytest.approx(0.75)  # always "A": the maximum, 1 - 1/4


def test_debiased_prediction_averages_normalised_logprobs_over_orderings():
    # Q2: option 1 has mean probability-product .3*.5*.3*.3 = .0135, above option 2 (.0018)
    # and options 0 and 3 (.00135 each), although "A" was chosen every time.
    assert debiased_choice(group_by_question(Q2)["q2"]) == 1
    assert debiased_choice(group_by_question(Q1)["q1"]) == 0
    assert score(ALL).accuracy_debiased == 1.0


def test_debiased_normalises_each_ordering_first():
    # Unnormalised logprobs shifted by a constant per ordering must not change the prediction.
    shifted = [Sample(s.question_id, s.ordering, s.order, s.choice, s.answer, s.field, "", "h",
                      tuple(x - 5.0 * s.ordering for x in s.logprobs), None, 1, 1, 0.1) for s in Q2]
    assert debiased_choice(shifted) == 1


def test_per_field_breakdown():
    parts = score_by(ALL, "field")
    assert list(parts) == ["money", "travel"]
    assert parts["travel"].accuracy_original == 0.5
    assert parts["money"].n_keyed == 0 and parts["money"].consistency == 1.0


def test_invalid_generation_counts_and_breaks_consistency():
    base = make("g", 2, "f", [(.1, .1, .7, .1)] * 4, choices=[2, 1, None, 3])
    gen = [Sample(s.question_id, s.ordering, s.order, s.choice, s.answer, s.field, "", "h", None,
                  "x", 1, 1, 0.1) for s in base]
    s = score(gen)
    assert s.invalid == 1
    assert [x.chosen_option for x in gen] == [2, 2, None, 2]
    assert s.consistency == 0.0
    assert s.accuracy_mean == pytest.approx(3 / 4)
    assert s.accuracy_debiased is None  # no logprobs under generate
    assert sum(s.letter_share.values()) == pytest.approx(1.0)  # shares over the 3 valid answers


def test_single_ordering_has_no_consistency():
    s = score([Q1[0], Q2[0]])
    assert s.consistency is None
    assert s.accuracy_original == s.accuracy_mean == s.accuracy_strict == 0.5
