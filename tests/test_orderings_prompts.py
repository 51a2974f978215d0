import pytest

from mobeval.core.errors import MobevalError
from mobeval.core.orderings import orderings_for
from mobeval.text.prompts import load_template
from mobeval.text.samples import choose_by_logprob, parse_letter


def test_cyclic_puts_every_option_in_every_position_once():
    orders = orderings_for(4, "cyclic")
    assert orders[0] == (0, 1, 2, 3)
    assert orders == [(0, 1, 2, 3), (1, 2, 3, 0), (2, 3, 0, 1), (3, 0, 1, 2)]
    for pos in range(4):
        assert sorted(o[pos] for o in orders) == [0, 1, 2, 3]


def test_all_and_original():
    assert len(orderings_for(4, "all")) == 24
    assert orderings_for(4, "all")[0] == (0, 1, 2, 3)
    assert orderings_for(5, "original") == [(0, 1, 2, 3, 4)]


def test_random_is_seeded_per_question_and_starts_with_the_original():
    a = orderings_for(4, "random:5", seed=1, key="q1")
    assert a == orderings_for(4, "random:5", seed=1, key="q1")
    assert a[0] == (0, 1, 2, 3) and len(set(a)) == 5
    assert a != orderings_for(4, "random:5", seed=2, key="q1")
    with pytest.raises(MobevalError, match="only 2 orderings"):
        orderings_for(2, "random:3")


@pytest.mark.parametrize("spec", ["shuffle", "random:0", "random:x", "cyclic:2"])
def test_bad_spec_is_a_clear_error(spec):
    with pytest.raises(MobevalError, match="--orderings"):
        orderings_for(4, spec)


def test_mobile_mmlu_template_is_the_authors_prompt_byte_for_byte():
    t = load_template("mobile-mmlu", "mobile-mmlu")
    q, opts = "  How do I save battery?\n", ["Dim the screen", "Max brightness", "Play games", "Turn on GPS"]
    expected = (
        "Answer the following multiple choice question and provide only letter of the correct answer.\n"
        + q.strip() + "\n"
        + "A. {}\nB. {}\nC. {}\nD. {}\n".format(*opts)
        + "Answer\uff1a\n"
    )
    assert t.render(q, opts) == expected
    assert t.continuations(4) == ("A", "B", "C", "D")


def test_template_fields_can_be_overridden_from_config():
    t = load_template({"name": "mmlu", "answer": "Answer (letter):"}, "mobile-mmlu")
    assert t.render("Q?", ["x", "y"]).endswith("B. y\nAnswer (letter):")
    with pytest.raises(MobevalError, match="unknown prompt template"):
        load_template("nope", "mmlu")


@pytest.mark.parametrize(
    "text,expected",
    [("B", 1), (" C.", 2), ("(D) because", 3), ("A\nThe", 0), ("Answer: B", 1), ("answer is C", 2),
     ("E", None), ("The capital", None), ("", None), ("b", None), ("Because A", None)],
)
def test_parse_letter(text, expected):
    assert parse_letter(text, 4) == expected


def test_choose_by_logprob_takes_first_on_tie():
    assert choose_by_logprob((-1.0, -0.5, -0.5)) == 1
