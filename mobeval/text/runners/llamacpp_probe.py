"""The child side of the llama.cpp build guard: load a model and evaluate a batch of tokens.

Run as `python -m mobeval.text.runners.llamacpp_probe MODEL [--threads N] [--tokens N] [--no-extra-bufts]`.
Exit 0 and one JSON line when the batched matrix multiply ran; a crash kills this process, not the caller.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mobeval.text.runners.llamacpp_probe")
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--no-extra-bufts", action="store_true")
    args = ap.parse_args(argv)

    from mobeval.text.runners.llamacpp_params import open_llama

    llm = open_llama(args.model, n_threads=args.threads, n_ctx=max(64, args.tokens + 1), n_batch=max(32, args.tokens),
                     use_extra_bufts=not args.no_extra_bufts)
    vocab = llm.n_vocab()
    tokens = [llm.token_bos()] + [(7 * i + 11) % vocab for i in range(args.tokens - 1)]
    llm.eval(tokens)  # one batch: the path scoring uses
    llm.eval([tokens[1]])  # and a single token: the path generation uses
    print(json.dumps({"ok": True, "tokens": len(tokens) + 1, "use_extra_bufts": not args.no_extra_bufts}))
    llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
