"""Orderings of the answer options: which original option sits at each position.

An ordering is a tuple `perm` with `perm[position] = original option index`. The identity (the
original order) is always the first ordering, so "accuracy under the original order" is defined for
every spec.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from math import factorial

from mobeval.core.errors import MobevalError

Ordering = tuple[int, ...]

# More prompts than this in one run needs --max-prompts: `all` on 10 options is 3,628,800 per question.
DEFAULT_MAX_PROMPTS = 1_000_000


def validate_spec(spec: str) -> str:
    """Raise a clear error for a malformed spec; return it unchanged."""
    if spec in ("original", "cyclic", "all"):
        return spec
    if spec.startswith("random:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            n = 0
        if n >= 1:
            return spec
    raise MobevalError(f"--orderings {spec!r}: use original, cyclic, random:N (N >= 1) or all")


def orderings_per_question(n_options: int, spec: str) -> int:
    """How many orderings `spec` gives a question of `n_options` options (without listing them)."""
    validate_spec(spec)
    if spec == "original":
        return 1
    if spec == "cyclic":
        return n_options
    total = factorial(n_options)
    if spec == "all":
        return total
    n = int(spec.split(":", 1)[1])
    if n > total:
        raise MobevalError(f"--orderings {spec}: only {total} orderings exist for {n_options} options")
    return n


def check_prompt_count(option_counts: list[int], spec: str, max_prompts: int = DEFAULT_MAX_PROMPTS) -> int:
    """The prompts a run of questions with these option counts makes under `spec`; an error naming the
    estimate if it exceeds `max_prompts` (checked before anything starts)."""
    total = sum(orderings_per_question(n, spec) for n in option_counts)
    if total > max_prompts:
        most = max(option_counts)
        raise MobevalError(
            f"--orderings {spec}: {len(option_counts):,} questions x up to {orderings_per_question(most, spec):,} "
            f"orderings ({most} options) = {total:,} prompts, more than --max-prompts {max_prompts:,}; "
            f"use --orderings cyclic or random:N, a smaller --limit, or raise --max-prompts to confirm")
    return total


def orderings_for(n_options: int, spec: str, seed: int = 0, key: str = "") -> list[Ordering]:
    """The orderings of `n_options` options under `spec`, identity first.

    - original: the identity only.
    - cyclic: the n rotations; every option appears in every position exactly once.
    - random:N: the identity plus N-1 distinct other permutations drawn with a generator seeded
      from (seed, key), so a question gets the same orderings whatever else is in the run.
    - all: every permutation (n! of them).
    """
    validate_spec(spec)
    identity = tuple(range(n_options))
    if spec == "original":
        return [identity]
    if spec == "cyclic":
        return [tuple((p + k) % n_options for p in range(n_options)) for k in range(n_options)]
    if spec == "all":
        return list(itertools.permutations(identity))
    n = orderings_per_question(n_options, spec)
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    chosen = [identity]
    seen = {identity}
    while len(chosen) < n:
        perm = list(identity)
        rng.shuffle(perm)
        t = tuple(perm)
        if t not in seen:
            seen.add(t)
            chosen.append(t)
    return chosen
