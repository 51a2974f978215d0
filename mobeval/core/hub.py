"""Datasets from the Hugging Face hub, through the `datasets` package (the `hub` extra): every failure (no
network, a gated set, the package not installed) is one DataError naming the dataset and the way out."""

from __future__ import annotations

from typing import Any

from mobeval.core.errors import DataError

INSTALL = "pip install 'mobeval[hub]'"


def load_hub_dataset(repo: str, config: str | None, split: str, way_out: str, **kwargs: Any) -> Any:
    """`datasets.load_dataset(repo, config, split=split, **kwargs)`, or a DataError saying why not and `way_out`."""
    try:
        import datasets
    except ImportError as exc:
        raise DataError(f"loading {repo} from the Hugging Face hub needs the `datasets` package: {INSTALL}; "
                        f"{way_out}") from exc
    try:
        args = (repo, config) if config else (repo,)
        return datasets.load_dataset(*args, split=split, **kwargs)
    except Exception as exc:  # noqa: BLE001 - no network, a gated set, a missing file: the way out is the same
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"could not load {repo} from the Hugging Face hub ({type(exc).__name__}: {reason}); "
                        f"{way_out}") from exc
