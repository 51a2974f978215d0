"""llama-cpp-python's OpenAI-compatible server with llama.cpp's extra buffer types off.

Run as `python -m mobeval.text.runners.llamacpp_server ARGS...`, where ARGS are `python -m llama_cpp.server`'s own.
The server builds its model parameters from `llama_model_default_params()` and has no switch for
`use_extra_bufts`; this process sets it off for every model the server loads, which is what the build guard
asks for on a CPU where ggml's AMX path crashes (`mobeval/text/runners/llamacpp_build.py`).
"""

from __future__ import annotations

import sys


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    from mobeval.text.runners.llamacpp_params import model_params

    sys.argv = ["llama_cpp.server", *sys.argv[1:]]
    with model_params(use_extra_bufts=False):
        serve()


if __name__ == "__main__":
    main()
