"""Accuracy and order-invariance figures, computed from samples alone.

Definitions (the README works an example of each):
- accuracy_original: share of keyed questions answered right under the original order.
- accuracy_mean: per keyed question, the share of its orderings answered right; averaged.
- accuracy_strict: share of keyed questions answered right under every ordering.
- consistency: share of questions whose chosen underlying option is the same under every ordering
  (an invalid answer breaks consistency). Needs no key. Undefined with a single ordering.
- position bias: total variation distance between the observed share of each letter among the
  valid choices and the share a position-blind model would give (1/n per question with n options):
  0 is none; 1 - 1/n is always choosing the same letter.
- debiased: per question, the option with the highest log-probability averaged over orderings,
  each ordering's letter log-probabilities first normalised over the options (log-softmax), so
  every ordering weighs the same. Needs logprobs.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean

from pydantic import BaseModel

from mobeval.text.samples import Sample, log_softmax
from mobeval.text.types import LETTERS


class Scores(BaseModel):
    n_questions: int
    n_keyed: int
    n_samples: int
    orderings_per_question: float
    invalid: int
    accuracy_original: float | None
    accuracy_mean: float | None
    accuracy_strict: float | None
    accuracy_debiased: float | None
    consistency: float | None
    position_bias: float | None
    letter_share: dict[str, float] = {}  # observed share among valid choices
    letter_expected: dict[str, float] = {}  # share a position-blind model gives


class ScoreBlock(Scores):
    """Accuracy and order-invariance figures (mobeval.text.metrics); every rate is a fraction in [0, 1]."""

    unit: str = "fraction"


def group_by_question(samples: list[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.question_id].append(s)
    for g in groups.values():
        g.sort(key=lambda s: s.ordering)
    return dict(groups)


def debiased_choice(group: list[Sample]) -> int | None:
    """The original option index with the highest mean normalised log-probability over orderings."""
    if any(s.logprobs is None for s in group):
        return None
    n = len(group[0].order)
    totals = [0.0] * n
    for s in group:
        norm = log_softmax(s.logprobs)
        for pos, option in enumerate(s.order):
            totals[option] += norm[pos]
    return max(range(n), key=lambda i: (totals[i], -i))


def position_bias(samples: list[Sample]) -> tuple[float | None, dict[str, float], dict[str, float]]:
    valid = [s for s in samples if s.choice is not None]
    if not valid:
        return None, {}, {}
    n_letters = max(len(s.order) for s in samples)
    observed = [0.0] * n_letters
    expected = [0.0] * n_letters
    for s in valid:
        observed[s.choice] += 1
        for pos in range(len(s.order)):
            expected[pos] += 1 / len(s.order)
    total = len(valid)
    tvd = 0.5 * sum(abs(o - e) for o, e in zip(observed, expected)) / total
    letters = LETTERS[:n_letters]
    return (
        tvd,
        {letters[i]: observed[i] / total for i in range(n_letters)},
        {letters[i]: expected[i] / total for i in range(n_letters)},
    )


def _mean_or_none(values: list[float]) -> float | None:
    return fmean(values) if values else None


def score(samples: list[Sample]) -> Scores:
    groups = group_by_question(samples)
    keyed = [g for g in groups.values() if g[0].answer is not None]
    multi = [g for g in groups.values() if len(g) > 1]
    debiased = [(debiased_choice(g), g[0].answer) for g in keyed]
    bias, share, expected = position_bias(samples)
    return Scores(
        n_questions=len(groups),
        n_keyed=len(keyed),
        n_samples=len(samples),
        orderings_per_question=(len(samples) / len(groups)) if groups else 0.0,
        invalid=sum(s.choice is None for s in samples),
        accuracy_original=_mean_or_none([float(g[0].correct) for g in keyed if g[0].ordering == 0]),
        accuracy_mean=_mean_or_none([fmean(float(s.correct) for s in g) for g in keyed]),
        accuracy_strict=_mean_or_none([float(all(s.correct for s in g)) for g in keyed]),
        accuracy_debiased=(
            None
            if any(c is None for c, _ in debiased)
            else _mean_or_none([float(c == a) for c, a in debiased])
        ),
        consistency=_mean_or_none(
            [float(len({s.chosen_option for s in g}) == 1 and g[0].choice is not None) for g in multi]
        ),
        position_bias=bias,
        letter_share=share,
        letter_expected=expected,
    )


def score_by(samples: list[Sample], key: str) -> dict[str, Scores]:
    """Scores per value of a sample attribute ("field" or "category"), sorted by name."""
    parts: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        parts[getattr(s, key) or "-"].append(s)
    return {k: score(v) for k, v in sorted(parts.items())}
