"""sha256 of files, cached by (path, size, mtime) so a 2 GB model is hashed once, not every run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mobeval.models.registry import cache_dir


def _cache_path() -> Path:
    return cache_dir() / "sha256.json"


def file_sha256(path: Path) -> str:
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    store = _cache_path()
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    known[key] = digest.hexdigest()
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=0))
        tmp.replace(store)
    except OSError:
        pass  # a read-only home still gets the hash, just not cached
    return known[key]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
