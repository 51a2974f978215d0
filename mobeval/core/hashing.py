"""sha256 of files, cached by (path, size, mtime) so a 2 GB model is hashed once, not every run."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mobeval.core.cachefile import read_json, write_json
from mobeval.core.paths import cache_dir


def _cache_path() -> Path:
    return cache_dir() / "sha256.json"


def stream_sha256(path: Path) -> str:
    """A file's sha256, read in 1 MiB blocks; not cached (file_sha256 is)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    store = _cache_path()
    known = read_json(store)
    if key in known:
        return known[key]
    known[key] = stream_sha256(path)
    write_json(store, known)  # a read-only home still gets the hash, just not cached
    return known[key]


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    return bytes_sha256(text.encode("utf-8"))
