"""The catalogs: every task kind, benchmark, runner and model alias mobeval knows, by name.

Built-ins come from each modality's `catalog.py` (BUILTIN below); plugins from the entry-point groups
in GROUPS, read with importlib.metadata. An entry point's name is the name it registers and its object
an entry of mobeval.core.entries (KindEntry, BenchmarkEntry, RunnerEntry, ModelEntry):

    [project.entry-points."mobeval.runners"]
    my-runner = "my_package.catalog:MY_RUNNER"

A plugin that fails to import, holds the wrong type, or takes a name a built-in has is left out and
recorded as a Problem that `mobeval list` shows; every other command keeps working. Nothing here
imports an implementation: entries name their code as "module:object".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from importlib import import_module, metadata
from typing import Any

from mobeval.core.entries import BenchmarkEntry, KindEntry, ModelEntry, RunnerEntry

# The modalities' catalog modules; each defines any of KINDS, BENCHMARKS, RUNNERS, MODELS (name -> entry),
# VARIANTS (runner name -> a RunnerEntry serving another kind under that name), ENVIRONMENT ("module:function"
# each returning fields for result.json's environment section) and COMMANDS (CLI command name -> "module:object").
BUILTIN = ("mobeval.text.catalog", "mobeval.vision.catalog", "mobeval.spectrum.catalog", "mobeval.vlm.catalog")
# table -> (entry-point group, entry type)
GROUPS: dict[str, tuple[str, type]] = {
    "kinds": ("mobeval.tasks", KindEntry),
    "benchmarks": ("mobeval.benchmarks", BenchmarkEntry),
    "runners": ("mobeval.runners", RunnerEntry),
    "models": ("mobeval.models", ModelEntry),
}
_MODULE_TABLE = {"kinds": "KINDS", "benchmarks": "BENCHMARKS", "runners": "RUNNERS", "models": "MODELS"}


@dataclass(frozen=True)
class Problem:
    """A plugin entry left out, and why."""

    group: str
    name: str
    package: str
    reason: str

    def __str__(self) -> str:
        return f"{self.group} entry point {self.name!r} of package {self.package}: {self.reason}; left out"


@dataclass
class Catalog:
    kinds: dict[str, KindEntry] = field(default_factory=dict)
    benchmarks: dict[str, BenchmarkEntry] = field(default_factory=dict)
    runners: dict[str, RunnerEntry] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    environment: list[str] = field(default_factory=list)
    # CLI commands a modality adds: name -> "module:object", a typer.Typer (a group) or a function (a command)
    commands: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # (table, name) -> the distribution that registered it; built-ins are "mobeval"
    origin: dict[tuple[str, str], str] = field(default_factory=dict)

    def table(self, name: str) -> dict[str, Any]:
        return getattr(self, name)


def _add_builtin(cat: Catalog, module_name: str) -> None:
    module = import_module(module_name)
    for table, attr in _MODULE_TABLE.items():
        for name, entry in getattr(module, attr, {}).items():
            if name in cat.table(table):
                raise RuntimeError(f"{module_name}: {table} entry {name!r} is declared twice")
            cat.table(table)[name] = entry
            cat.origin[(table, name)] = "mobeval"
    cat.environment.extend(getattr(module, "ENVIRONMENT", ()))
    cat.commands.update(getattr(module, "COMMANDS", {}))


def _add_variants(cat: Catalog, module_name: str) -> None:
    """A modality's runner under another modality's name (the `openai` runner asked image questions)."""
    for name, variant in getattr(import_module(module_name), "VARIANTS", {}).items():
        base = cat.runners[name]
        cat.runners[name] = replace(base, variants={**base.variants, **{k: variant for k in variant.kinds}})


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    try:
        return sorted(metadata.entry_points(group=group), key=lambda ep: (ep.name, ep.value))
    except Exception:  # a broken distribution's metadata must not stop mobeval
        return []


def _add_plugins(cat: Catalog) -> None:
    for table, (group, entry_type) in GROUPS.items():
        for ep in _entry_points(group):
            package = ep.dist.name if ep.dist is not None else ep.value.split(":")[0].split(".")[0]
            known = cat.table(table)
            if ep.name in known:
                owner = cat.origin[(table, ep.name)]
                what = "a built-in" if owner == "mobeval" else f"package {owner}"
                cat.problems.append(Problem(group, ep.name, package, f"the name is taken by {what}"))
                continue
            try:
                entry = ep.load()
            except Exception as exc:  # any failure of third-party code is reported, never raised
                cat.problems.append(Problem(group, ep.name, package,
                                            f"{ep.value} failed to import ({type(exc).__name__}: {exc})"))
                continue
            if not isinstance(entry, entry_type):
                cat.problems.append(Problem(group, ep.name, package, f"{ep.value} is a {type(entry).__name__}, "
                                                                     f"not a mobeval.core.entries.{entry_type.__name__}"))
                continue
            known[ep.name] = entry
            cat.origin[(table, ep.name)] = package


@cache
def catalog() -> Catalog:
    """Built-ins, then plugins; read once per process."""
    cat = Catalog()
    for module_name in BUILTIN:
        _add_builtin(cat, module_name)
    for module_name in BUILTIN:
        _add_variants(cat, module_name)
    _add_plugins(cat)
    return cat


def load_target(target: str) -> Any:
    """The object a "module:object" names."""
    module, attr = target.split(":")
    return getattr(import_module(module), attr)
