"""Scorers to try the runner with."""

from __future__ import annotations

import math
from collections.abc import Sequence


def uniform(prompt: str, continuations: Sequence[str]) -> list[float]:
    """Chance: every option equally likely (mobeval then takes the first position)."""
    return [-math.log(len(continuations))] * len(continuations)
