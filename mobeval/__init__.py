"""mobeval: how good is this model, on this runtime, on this device, and what does it cost.

From Python: `mobeval.run(**settings)`, `mobeval.load(run_dir)`, `mobeval.compare(reference, *runs)`
(mobeval.api). They are imported on first use, so `import mobeval` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mobeval.api import Metric, Paired, Result, compare, load, run

__all__ = ["Metric", "Paired", "Result", "__version__", "compare", "load", "run"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from mobeval.core.version import __version__

        return __version__
    if name in __all__:
        from mobeval import api

        return getattr(api, name)
    raise AttributeError(f"module 'mobeval' has no attribute {name!r}")
