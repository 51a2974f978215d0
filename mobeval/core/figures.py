"""A measured figure: its value, unit, where it came from and what it rests on."""

from __future__ import annotations

from pydantic import BaseModel


class Figure(BaseModel):
    """A measured figure: value None means unavailable, and `note` says why."""

    value: float | None
    unit: str
    source: str = "measured"
    count: int | None = None  # how many observations a statistic rests on
    note: str = ""
