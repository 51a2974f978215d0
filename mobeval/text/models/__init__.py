"""Model aliases and how their files are found or fetched."""

from mobeval.text.models.registry import (DEFAULT_MODEL, ModelSpec, catalog, locate, names_gguf, remote_spec, resolve,
                                     spec_for)

__all__ = ["DEFAULT_MODEL", "ModelSpec", "catalog", "locate", "names_gguf", "remote_spec", "resolve", "spec_for"]
