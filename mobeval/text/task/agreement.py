"""Per-question agreement between two multiple-choice runs: same option chosen, letter log-prob gaps."""

from __future__ import annotations

from dataclasses import dataclass

from mobeval.text.metrics import group_by_question
from mobeval.text.samples import Sample


@dataclass
class Agreement:
    shared_questions: int  # questions both runs answered
    same_choice: float | None  # share whose original-order choice is the same option
    same_every_ordering: float | None  # share choosing the same option under every shared ordering
    max_logprob_gap: float | None  # largest |difference| of a letter log-probability


def agreement(a: list[Sample], b: list[Sample]) -> Agreement:
    ga, gb = group_by_question(a), group_by_question(b)
    shared = sorted(set(ga) & set(gb))
    if not shared:
        return Agreement(0, None, None, None)
    same, every, gap = 0, 0, None
    for q in shared:
        pa = {s.ordering: s for s in ga[q]}
        pb = {s.ordering: s for s in gb[q]}
        orderings = sorted(set(pa) & set(pb))
        same += pa[0].chosen_option == pb[0].chosen_option if 0 in orderings else 0
        every += all(pa[k].chosen_option == pb[k].chosen_option for k in orderings)
        for k in orderings:
            if pa[k].logprobs and pb[k].logprobs and pa[k].order == pb[k].order:
                g = max(abs(x - y) for x, y in zip(pa[k].logprobs, pb[k].logprobs))
                gap = g if gap is None else max(gap, g)
    n = len(shared)
    return Agreement(n, same / n, every / n, gap)
