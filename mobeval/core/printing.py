"""How figures are written in the terminal: percentages, byte sizes, figures with their units."""

from __future__ import annotations

from mobeval.core.figures import Figure


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fig(f: Figure | None, fmt: str = "{:.3f}") -> str:
    if f is None:
        return "n/a"
    if f.value is None:
        return f"unavailable ({f.note})" if f.note else "unavailable"
    if f.unit == "bytes":
        return human_bytes(f.value)
    if f.unit == "s" and f.value < 1:
        return f"{f.value * 1000:.1f} ms"
    return f"{fmt.format(f.value)} {f.unit}"
