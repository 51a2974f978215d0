"""What the board shows of each task kind: `KIND_FIGURES[kind]`, the KindFigures its catalog entry names
(KindEntry.headline), read through the catalog; the types and intervals are mobeval.results.headline's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mobeval.core.catalog import catalog, load_target
from mobeval.results.headline import Estimate, FigureSpec, KindFigures, proportion, recorded

__all__ = ["Estimate", "FigureSpec", "KIND_FIGURES", "KindFigures", "proportion", "recorded"]


class _KindFigures(Mapping[str, KindFigures]):
    """Kind name -> its KindFigures, for the kinds that declare one; each imported on first use."""

    def __getitem__(self, kind: str) -> KindFigures:
        entry = catalog().kinds.get(kind)
        if entry is None or not entry.headline:
            raise KeyError(kind)
        return load_target(entry.headline)

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, e in catalog().kinds.items() if e.headline])

    def __len__(self) -> int:
        return sum(1 for _ in self)


KIND_FIGURES: Mapping[str, KindFigures] = _KindFigures()
