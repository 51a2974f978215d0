"""A stratified sample of items over their strata (a question's field, an image's class), stable for a given seed."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from fractions import Fraction
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def allocate(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """Slots per field, proportional to its size, rounded by largest remainder.

    Ties go to the field that sorts first. When there are at least as many slots as fields, a field
    left with none takes one from the field rounded up the most (among those with two or more).
    """
    total = sum(sizes.values())
    quota = {f: Fraction(limit * n, total) for f, n in sizes.items()}
    slots = {f: int(q) for f, q in quota.items()}  # floor: quotas are non-negative
    by_remainder = sorted(sizes, key=lambda f: (-(quota[f] - slots[f]), f))
    for f in by_remainder[: limit - sum(slots.values())]:
        slots[f] += 1
    if limit >= len(sizes):
        for f in sorted((f for f in sizes if slots[f] == 0), key=lambda f: (-quota[f], f)):
            donor = min((d for d in sizes if slots[d] >= 2), key=lambda d: (quota[d] - slots[d], -slots[d], d))
            slots[donor] -= 1
            slots[f] = 1
    return slots


def _rng(seed: int, field: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{field}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stratified_sample(items: Sequence[T], limit: int, seed: int,
                      key: Callable[[T], str] = lambda q: q.field) -> list[T]:
    """`limit` items drawn per stratum (`key`: a question's field by default) in proportion to its size,
    in their original order.

    Each stratum draws with its own generator seeded from (seed, stratum), so a stratum's choice does
    not depend on the others. `limit` >= len(items) returns all of them.
    """
    questions = items
    if limit >= len(questions):
        return list(questions)
    positions: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        positions[key(q)].append(i)
    slots = allocate({f: len(p) for f, p in positions.items()}, max(limit, 0))
    chosen: list[int] = []
    for f, p in positions.items():
        chosen += _rng(seed, f).sample(p, slots[f])
    return [questions[i] for i in sorted(chosen)]
