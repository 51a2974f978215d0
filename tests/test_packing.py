"""Packing prompts into one row: the layout, worked by hand, and the blocks' sizes."""

import numpy as np
import pytest

from mobeval.text.runners.packing import group_requests, pack_blocks, plan_block


def test_grouping_keeps_a_questions_orderings_together():
    header, q1, q2 = list(range(10)), [100] * 8, [200] * 8
    orderings = lambda q: [header + q + [i, 7, 7] for i in range(4)]  # noqa: E731
    assert group_requests(orderings(q1) + orderings(q2), 8) == [range(0, 4), range(4, 8)]
    assert group_requests(orderings(q1), 3) == [range(0, 3), range(3, 4)]
    long_header = list(range(100))  # a few-shot header outweighs the questions: one group
    seqs = [long_header + s[10:] for s in orderings(q1) + orderings(q2)]
    assert group_requests(seqs, 8) == [range(0, 8)]
    assert group_requests([[1, 2], [3, 4]], 8) == [range(0, 1), range(1, 2)]


# Header [1, 2]; question one [3] asked in two orderings ([4, 5] and [6]); question two [7, 8], one ordering.
SEQS = [[1, 2, 3, 4, 5], [1, 2, 3, 6], [1, 2, 7, 8]]


def test_layout_lays_every_shared_token_out_once():
    row = plan_block(SEQS).layout(0)
    # the trie depth first: header 1 2 | question one 3 | its orderings 4 5, 6 | question two 7 8
    assert row.tokens.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert row.positions.tolist() == [0, 1, 2, 3, 4, 3, 2, 3]
    assert row.last.tolist() == [4, 5, 7]
    assert row.evaluated == [5, 1, 2] and sum(row.evaluated) == len(row.tokens)


def test_each_token_sees_exactly_its_own_prompt_causally():
    row = plan_block(SEQS).layout(0)
    for seq, last in zip(SEQS, row.last):
        # walking back from a prompt's last token through what it sees gives the prompt itself
        seen = np.nonzero(row.allowed[last])[0]
        assert row.tokens[seen].tolist() == seq
        assert row.positions[seen].tolist() == list(range(len(seq)))
    for i in range(len(row.tokens)):  # and every token sees itself and nothing after it
        assert row.allowed[i, i] and not row.allowed[i, i + 1:].any()


def test_layout_after_a_cached_header():
    row = plan_block(SEQS).layout(2)  # both header tokens already in the KV cache
    assert row.tokens.tolist() == [3, 4, 5, 6, 7, 8]
    assert row.allowed.shape == (6, 8) and row.allowed[:, :2].all()
    assert row.evaluated == [3, 1, 2]
    with pytest.raises(ValueError):
        plan_block(SEQS).layout(3)


def test_a_prompt_inside_another_and_a_repeated_prompt():
    """A prompt that is another's prefix is read at its last token, inside the other's path; a prompt
    given twice is laid out once, and the header stops short of the shortest prompt's last token."""
    seqs = [[1, 2, 3], [1, 2, 3, 4], [1, 2, 3]]
    block = plan_block(seqs)
    row = block.layout(0)
    assert row.tokens.tolist() == [1, 2, 3, 4] and row.positions.tolist() == [0, 1, 2, 3]
    assert row.last.tolist() == [2, 3, 2] and row.evaluated == [3, 1, 0]
    assert block.header == 2
    with pytest.raises(ValueError):
        plan_block([[1, 2], []])


def test_blocks_are_about_equal_and_within_the_budget():
    seqs = [[1] * 170] * 8
    groups = [range(i, i + 1) for i in range(8)]
    assert [len(b) for b in pack_blocks(seqs, groups, 640)] == [3, 3, 2]  # not 3, 3, 1 + a scrap
    assert [len(b) for b in pack_blocks(seqs, groups, 10_000)] == [8]
    assert pack_blocks([[1] * 1000, [2] * 5], [range(0, 1), range(1, 2)], 640) == [[range(0, 1)], [range(1, 2)]]
    assert pack_blocks([], [], 640) == []
    # a group's shared part counts once: four orderings of 100 shared + 30 own tokens cost 220
    four = [[9] * 100 + [i] * 30 for i in range(4)]
    assert pack_blocks(four * 1, [range(0, 4)], 220) == [[range(0, 4)]]
