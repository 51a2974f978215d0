"""Where mobeval keeps the files it makes."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where mobeval keeps files it makes (assembled chunks); MOBEVAL_CACHE overrides."""
    root = os.environ.get("MOBEVAL_CACHE") or Path.home() / ".cache" / "mobeval"
    return Path(root)
