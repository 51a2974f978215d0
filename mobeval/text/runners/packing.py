"""Packing many prompts that share prefixes into one row of tokens, each token attending to exactly the
tokens it would see if its prompt ran alone.

A block's prompts are laid out as their token trie, depth first: a token shared by several prompts (the
instruction header, a question under each ordering of its options) appears once. A mask lets each token
see its ancestors in the trie and itself, nothing else, and each token keeps its position in its prompt:
exactly the tokens, positions and order it has when its prompt runs alone. One forward pass then scores
the block with no padding and no token run twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all sequences share."""
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = seqs[0][i]
        if any(s[i] != t for s in seqs[1:]):
            return i
    return n


def group_requests(seqs: Sequence[Sequence[int]], max_size: int) -> list[range]:
    """Consecutive runs of sequences that share one prefix (a group).

    n sequences sharing a prefix of P tokens run (n-1)*P tokens fewer than alone; a sequence joins a
    group of g (prefix P, left with P' once it joins) when the larger group saves more: g*P' > (g-1)*P.
    So one question's orderings group together, and consecutive questions join only where their
    common part (a long few-shot header) outweighs their questions.
    """
    groups: list[range] = []
    start, prefix = 0, 0
    for j in range(1, len(seqs)):
        size = j - start
        shared = common_prefix([seqs[start][:prefix] if size > 1 else seqs[start], seqs[j]])
        if size < max_size and shared > 0 and size * shared > (size - 1) * prefix:
            prefix = shared
        else:
            groups.append(range(start, j))
            start, prefix = j, 0
    if seqs:
        groups.append(range(start, len(seqs)))
    return groups


def _group_prefix(seqs: Sequence[Sequence[int]], group: range) -> int:
    """Tokens a group's sequences share, leaving each at least its last token to run."""
    members = [seqs[i] for i in group]
    return min(common_prefix(members), min(len(s) for s in members) - 1) if len(members) > 1 else 0


def pack_blocks(seqs: Sequence[Sequence[int]], groups: Sequence[range], max_tokens: int) -> list[list[range]]:
    """Consecutive groups packed into blocks of at most `max_tokens` tokens to run, of about equal size: a
    block closes where the next group would take it further past the mean than it stays short of it (a
    group larger than `max_tokens` is a block of its own)."""
    costs = []
    for g in groups:
        p = _group_prefix(seqs, g)
        costs.append(p + sum(len(seqs[i]) - p for i in g))
    if not costs:
        return []
    target = sum(costs) / max(1, -(-sum(costs) // max_tokens))
    blocks: list[list[range]] = []
    used = 0
    for g, cost in zip(groups, costs):
        if blocks and used + cost <= max_tokens and used + cost / 2 <= target:
            blocks[-1].append(g)
            used += cost
        else:
            blocks.append([g])
            used = cost
    return blocks


@dataclass(frozen=True)
class Layout:
    """One packed row, after `cached` header tokens already held in a KV cache."""

    tokens: np.ndarray  # (N,) token ids
    positions: np.ndarray  # (N,) each token's position in its own prompt
    allowed: np.ndarray  # (N, cached + N) bool: query token i may attend key j
    last: np.ndarray  # (B,) index in the row of each prompt's last token (its logits score it)
    evaluated: list[int]  # tokens run per prompt: each token on the first prompt that has it


@dataclass(frozen=True)
class PackedBlock:
    """The prompts' token trie, in depth-first order: a node per distinct prefix, so a token shared by
    several prompts is laid out once, and a node's ancestors are exactly the tokens before it in its
    prompts."""

    tokens: list[int]
    parent: list[int]  # -1 for the root
    depth: list[int]  # the token's position in its prompts
    owner: list[int]  # the first prompt through the node (whose evaluated count it adds to)
    last: list[int]  # per prompt: the node of its last token
    header: int  # nodes 0..header-1: the prefix every prompt shares, leaving each its last token

    def layout(self, cached: int) -> Layout:
        """The row to run when the first `cached` header tokens are already in the KV cache."""
        if not 0 <= cached <= self.header:
            raise ValueError(f"cached {cached} outside the header of {self.header} tokens")
        n = len(self.tokens) - cached
        allowed = np.zeros((n, cached + n), dtype=bool)
        allowed[:, :cached] = True  # every prompt starts with the header
        for i in range(n):
            node = i + cached
            up = self.parent[node]
            if up >= cached:
                allowed[i, cached:] = allowed[up - cached, cached:]
            allowed[i, cached + i] = True
        evaluated = [0] * len(self.last)
        for node in range(cached, len(self.tokens)):
            evaluated[self.owner[node]] += 1
        return Layout(np.asarray(self.tokens[cached:], dtype=np.int64),
                      np.asarray(self.depth[cached:], dtype=np.int64), allowed,
                      np.asarray(self.last, dtype=np.int64) - cached, evaluated)


def plan_block(seqs: Sequence[Sequence[int]]) -> PackedBlock:
    """The trie of `seqs` (each at least one token), laid out depth first."""
    if not seqs or min(len(s) for s in seqs) < 1:
        raise ValueError("every prompt needs at least one token")
    # trie node 0 is a virtual root before the first token; per node: children, token, parent, depth, owner
    children: list[dict[int, int]] = [{}]
    token, parent, depth, owner = [-1], [-1], [-1], [-1]
    ends = []
    for b, seq in enumerate(seqs):
        node = 0
        for pos, t in enumerate(seq):
            nxt = children[node].get(t)
            if nxt is None:
                nxt = children[node][t] = len(children)
                children.append({})
                token.append(t), parent.append(node), depth.append(pos), owner.append(b)
            node = nxt
        ends.append(node)
    order: list[int] = []  # depth first, children in the order the prompts reached them
    stack = list(reversed(children[0].values()))
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(reversed(children[node].values()))
    index = {node: i for i, node in enumerate(order)}
    index[0] = -1
    return PackedBlock(
        tokens=[token[n] for n in order], parent=[index[parent[n]] for n in order],
        depth=[depth[n] for n in order], owner=[owner[n] for n in order], last=[index[n] for n in ends],
        header=min(common_prefix(seqs), min(len(s) for s in seqs) - 1),
    )
