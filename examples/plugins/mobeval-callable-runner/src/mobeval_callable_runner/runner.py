"""The `callable` runner: mobeval's multiple-choice runner protocol (mobeval.text.runners.base.Runner) around a
function named as `--model package.module:function`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from importlib import import_module

from mobeval.core.errors import RunnerError
from mobeval.text.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo

Scorer = Callable[[str, Sequence[str]], Sequence[float]]


def load_scorer(target: str) -> Scorer:
    """The function `target` names ("package.module:function"); a RunnerError saying what is wrong otherwise."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise RunnerError(f"--model {target}: name a function as package.module:function")
    try:
        fn = getattr(import_module(module), attr)
    except ImportError as exc:
        raise RunnerError(f"--model {target}: cannot import {module} ({exc})") from exc
    except AttributeError as exc:
        raise RunnerError(f"--model {target}: {module} has no {attr}") from exc
    if not callable(fn):
        raise RunnerError(f"--model {target}: {attr} is not callable")
    return fn


class CallableRunner:
    questions_per_call = 1

    def __init__(self, model: str):
        self.target = str(model)
        self.scorer = load_scorer(self.target)
        self.info = RunnerInfo(name="callable", backend_version="0.1.0", settings={"function": self.target})

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        out = []
        for r in requests:
            t0 = time.perf_counter()
            scores = [float(x) for x in self.scorer(r.prompt, list(r.continuations))]
            latency = time.perf_counter() - t0
            if len(scores) != len(r.continuations):
                raise RunnerError(f"{self.target} returned {len(scores)} scores for {len(r.continuations)} options")
            if any(math.isnan(x) or x > 0 for x in scores):
                raise RunnerError(f"{self.target} returned {scores}: log-probabilities must be <= 0 and not NaN")
            out.append(ChoiceResponse(logprobs=tuple(scores), prompt_tokens=0, evaluated_tokens=0, latency_s=latency))
        return out

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResponse]:
        raise RunnerError("the callable runner only scores options: use --method logprob")

    def close(self) -> None:
        pass
