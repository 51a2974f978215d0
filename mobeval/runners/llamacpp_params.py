"""Open a llama_cpp.Llama with model parameters its constructor does not expose.

llama-cpp-python 0.3.36's `Llama(...)` builds its model parameters from `llama_model_default_params()` and
takes no `use_extra_bufts`, the switch that keeps weights out of ggml's extra buffer types (AMX, repacked
layouts). The default-params function is replaced for the duration of the constructor only, so the library's
own loading code (and everything else it sets) runs unchanged.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.Lock()


@contextmanager
def _model_params(**fields: Any) -> Iterator[None]:
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def patched():
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    with _lock:
        lib.llama_model_default_params = patched
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def open_llama(model_path: str, use_extra_bufts: bool = True, **kwargs: Any):
    """`llama_cpp.Llama(model_path, verbose=False, **kwargs)`, with `use_extra_bufts` applied."""
    import llama_cpp

    kwargs.setdefault("verbose", False)
    if use_extra_bufts:
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)
    with _model_params(use_extra_bufts=False):
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)
