"""Release llama.cpp's OpenMP worker threads when its work is done and another runtime's begins.

llama-cpp-python's wheel, built here from source, links the system libgomp: ggml's barrier is `#pragma omp
barrier`. After each graph libgomp's worker threads spin (GOMP's default, about 300,000 rounds: milliseconds)
waiting for the next parallel region. A runtime that starts in that window finds a core taken: the hybrid
runner's ONNX Runtime encoder, run right after the previous question's decode at 2 threads, took 1.6x its own
loop (bench/README.md, vlm_hybrid_overhead.py). OpenMP 5.0's omp_pause_resource_all ends the pool's threads
at once; libgomp starts them again at llama.cpp's next graph. Making them sleep sooner instead
(OMP_WAIT_POLICY=PASSIVE, a smaller GOMP_SPINCOUNT) cost llama.cpp 9-21% on a quiet machine
(bench/llamacpp_under_load.py).
"""

from __future__ import annotations

import ctypes
import os

OMP_PAUSE_SOFT = 1


_found = None


def _pause():
    """libgomp's omp_pause_resource_all where libgomp is already loaded in this process (by llama.cpp), else None
    (looked up again next time: llama.cpp may be loaded later). RTLD_NOLOAD: never load a libgomp of our own;
    torch's bundled copy has another file name and is left alone."""
    global _found
    if _found is None:
        try:
            fn = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | os.RTLD_LAZY).omp_pause_resource_all
        except (OSError, AttributeError):
            return None
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        _found = fn
    return _found


def release_openmp_threads() -> bool:
    """End libgomp's idle worker threads now (soft pause); whether it did. Call from the thread that ran
    llama.cpp's graphs, outside any parallel region."""
    fn = _pause()
    return fn is not None and fn(OMP_PAUSE_SOFT) == 0


def openmp_release_available() -> bool:
    """Whether this process has llama.cpp's libgomp loaded, with omp_pause_resource_all."""
    return _pause() is not None
