"""Stratified sampling: proportional per field, stable under a seed, original order kept."""

from __future__ import annotations

from collections import Counter

from mobeval.core.sampling import allocate, stratified_sample
from mobeval.text.types import Question


def questions(sizes: dict[str, int]) -> list[Question]:
    """Fields interleaved, so that keeping the original order is a real test."""
    out, left = [], dict(sizes)
    while any(left.values()):
        for f in sizes:
            if left[f]:
                out.append(Question(id=f"{f}{left[f]}", question="?", options=("a", "b"), field=f))
                left[f] -= 1
    return out


def test_proportional_counts():
    # 50/30/20 of 100, limit 10: quotas 5, 3, 2 exactly.
    qs = questions({"a": 50, "b": 30, "c": 20})
    assert Counter(q.field for q in stratified_sample(qs, 10, 0)) == {"a": 5, "b": 3, "c": 2}


def test_largest_remainder():
    # 7 of 6/3/1 (10): quotas 4.2, 2.1, 0.7 -> floors 4, 2, 0; the one slot left goes to c (0.7).
    assert allocate({"a": 6, "b": 3, "c": 1}, 7) == {"a": 4, "b": 2, "c": 1}
    # 5 of 4/4/4 (12): quotas 5/3 each -> floors 1, 1, 1; 2 left, ties by name: a, b.
    assert allocate({"c": 4, "b": 4, "a": 4}, 5) == {"a": 2, "b": 2, "c": 1}


def test_every_field_represented_when_slots_allow():
    # 10 of 90/5/5: quotas 9, 0.5, 0.5 -> 9, 1 (b wins the tie), 0; c takes a slot from a.
    assert allocate({"a": 90, "b": 5, "c": 5}, 10) == {"a": 8, "b": 1, "c": 1}
    qs = questions({"a": 90, "b": 5, "c": 5})
    assert set(q.field for q in stratified_sample(qs, 3, 1)) == {"a", "b", "c"}


def test_stable_under_seed_and_order_kept():
    qs = questions({"a": 40, "b": 25, "c": 9})
    first = stratified_sample(qs, 20, 7)
    assert first == stratified_sample(qs, 20, 7)
    assert first != stratified_sample(qs, 20, 8)
    index = {q.id: i for i, q in enumerate(qs)}
    assert [index[q.id] for q in first] == sorted(index[q.id] for q in first)
    assert len(first) == 20 and len({q.id for q in first}) == 20


def test_a_fields_choice_does_not_depend_on_other_fields():
    a_only = [q for q in questions({"a": 40, "b": 40}) if q.field == "a"]
    both = stratified_sample(questions({"a": 40, "b": 40}), 20, 3)
    alone = stratified_sample(a_only + questions({"b": 40}), 20, 3)
    assert [q.id for q in both if q.field == "a"] == [q.id for q in alone if q.field == "a"]


def test_limit_at_or_above_size_returns_everything():
    qs = questions({"a": 3, "b": 2})
    assert stratified_sample(qs, 5, 0) == qs and stratified_sample(qs, 50, 0) == qs
