"""Open a llama_cpp.Llama with model parameters its constructor does not expose.

llama-cpp-python 0.3.36's `Llama(...)` builds its model parameters from `llama_model_default_params()` and
takes no `use_extra_bufts`, the switch that keeps weights out of ggml's extra buffer types (AMX, repacked
layouts). The default-params function is replaced for the duration of the constructor only, so the library's
own loading code (and everything else it sets) runs unchanged.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_lock = threading.Lock()


@contextmanager
def model_params(**fields: Any) -> Iterator[None]:
    """Every `llama_cpp.Llama` built inside this block gets `fields` set in its model parameters."""
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
    with model_params(use_extra_bufts=False):
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)


def open_guarded(model_path: str, n_threads: int = 1, **kwargs: Any):
    """`open_llama` with the build guard's verdict for this build, CPU and model (scripts, tests): on a build
    known to crash here, without extra buffer types, or a RunnerError with the rebuild command."""
    from mobeval.text.runners.llamacpp_build import check_build

    verdict = check_build(Path(model_path), n_threads)
    return open_llama(model_path, use_extra_bufts=verdict.use_extra_bufts, n_threads=n_threads, **kwargs)
