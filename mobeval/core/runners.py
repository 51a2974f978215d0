"""The runners: the catalog's runner table, checked settings, and construction (implementations imported only when chosen)."""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any, Mapping

from mobeval.core.catalog import catalog
from mobeval.core.entries import RunnerEntry
from mobeval.core.errors import MobevalError, did_you_mean
from mobeval.core.runner import Runner

# Run settings (config keys, each the name of a `mobeval run` flag) that only some runners take.
RUNNER_SETTINGS = ("threads", "n_ctx", "n_batch", "torch_dtype", "batch_tokens", "endpoint", "api_key",
                   "concurrency", "request_timeout", "provider", "graph_optimization", "channels_last")
# A setting's keyword in the runner constructors, where it differs from the config key.
KEYWORDS = {"threads": "n_threads"}
_SETTING_OF = {v: k for k, v in KEYWORDS.items()}


REGISTRY: dict[str, RunnerEntry] = catalog().runners


def entry(name: str, kind: str | None = None) -> RunnerEntry:
    """The runner `name`; for `kind`, its variant serving that kind where it has one."""
    if name not in REGISTRY:
        raise MobevalError(f"unknown runner {name!r}{did_you_mean(name, REGISTRY)}; known: {', '.join(REGISTRY)}")
    e = REGISTRY[name]
    return e.variants.get(kind, e) if kind is not None and kind not in e.kinds else e


def all_entries() -> list[tuple[str, RunnerEntry]]:
    """Every (name, entry), variants included."""
    return [(n, v) for n, e in REGISTRY.items() for v in (e, *e.variants.values())]


def kinds_served(name: str) -> tuple[str, ...]:
    e = entry(name)
    return (*e.kinds, *e.variants)


def _runner_class(name: str, kind: str | None = None):
    module, cls_name = entry(name, kind).target.split(":")
    return getattr(import_module(module), cls_name)


def check_kind(name: str, kind: str) -> None:
    """A runner asked for a task kind it does not serve is an error, before anything loads."""
    served = kinds_served(name)
    if kind not in served:
        serving = [n for n in REGISTRY if kind in kinds_served(n)]
        raise MobevalError(f"runner {name} does not serve {kind} tasks (it serves: {', '.join(served)}); "
                           f"for {kind} use --runner {' or '.join(serving) or '(none installed)'}")


def flag(key: str) -> str:
    """The `mobeval run` flag of a config key."""
    return "--" + key.replace("_", "-")


def runners_taking(key: str) -> list[str]:
    return list(dict.fromkeys(name for name, e in all_entries() if key in e.settings))


def check_settings(name: str, settings: Mapping[str, Any], kind: str | None = None) -> None:
    """A runner-specific setting given (not None) to a runner that does not take it is an error naming
    the flag, so `--n-ctx` with `--runner openai`, or `--torch-dtype` with llama.cpp, is never silently
    ignored. Keys are config keys or constructor keywords (`n_threads`). Imports nothing."""
    taken = entry(name, kind).settings
    unused = sorted({_SETTING_OF.get(k, k) for k, v in settings.items() if v is not None}
                    & set(RUNNER_SETTINGS) - set(taken))
    if unused:
        where = "; ".join(f"{flag(k)} is for --runner {' or '.join(runners_taking(k))}" for k in unused)
        raise MobevalError(f"runner {name} does not take: {', '.join(f'{k} ({flag(k)})' for k in unused)}; "
                           f"{where}")


def make_runner(name: str, model: Any, settings: Mapping[str, Any], kind: str | None = None) -> Runner:
    """Construct a runner (its variant for `kind`) with the settings its constructor takes (validated by
    mobeval.config before: here settings the runner does not take are dropped, so one dict serves every runner)."""
    cls = _runner_class(name, kind)
    accepted = set(inspect.signature(cls).parameters)
    kwargs = {KEYWORDS.get(k, k): v for k, v in settings.items() if v is not None}
    # the vision runners take `threads` as is; the text runners `n_threads` (KEYWORDS)
    kwargs = {(k if k in accepted else _SETTING_OF.get(k, k)): v for k, v in kwargs.items()}
    return cls(model, **{k: v for k, v in kwargs.items() if k in accepted})


__all__ = ["KEYWORDS", "REGISTRY", "RUNNER_SETTINGS", "Runner", "RunnerEntry", "all_entries", "check_kind",
           "check_settings", "entry", "flag", "kinds_served", "make_runner"]
