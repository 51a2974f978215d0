"""mobeval from Python: run an evaluation, read a finished run, compare runs.

    import mobeval

    r = mobeval.run(bench="everyday-mobile", limit=8, orderings="original", output_dir="results")
    print(r.kind, r.path)
    for m in r.metrics:
        print(m.name, m.value, m.unit, m.low, m.high)
    again = mobeval.load(r.path)
    for p in mobeval.compare(r.path, "results/other-run"):
        print(p.basis, p.difference, p.low, p.high, p.significant)

    # stop when the answer is known: a 95% confidence sequence within ±0.05, or 10 minutes, whichever first
    s = mobeval.run(until="ci=0.05", budget="10m").sequential
    print(s.estimate, s.low, s.high, s.stop_reason, s.items_used, s.items_left)

`run` takes the settings of `mobeval run` (each flag's name with underscores: `n_ctx` for `--n-ctx`; `config`
for `--config`) and validates them the same way; bad settings raise MobevalError with the CLI's message. It
writes the same run folder and returns the same figures a later `load` reads back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobeval.core.errors import MobevalError
from mobeval.core.figures import Figure
from mobeval.results.integrity import RunCheck, verified
from mobeval.results.schema import Result as ResultFile

__all__ = ["Metric", "Paired", "Result", "compare", "load", "run"]


@dataclass(frozen=True)
class Metric:
    """A headline figure of the run's task kind, as `mobeval board` shows it: a proportion (0..1, unit
    "fraction") with its 95% interval and how that was computed ("wilson", "bootstrap"; "" where none)."""

    name: str
    label: str
    value: float
    unit: str
    low: float | None
    high: float | None
    method: str
    n: int
    n_unit: str
    higher_is_better: bool = True


@dataclass(frozen=True)
class Result:
    """A run folder, checked, and what it holds."""

    path: Path
    kind: str
    file: ResultFile  # result.json, parsed (schema mobeval.result/2)
    metrics: list[Metric]
    performance: dict[str, Figure]  # latency, throughput, load time (each with its unit and how it was measured)
    memory: dict[str, Figure]
    energy: dict[str, Figure]
    notes: list[str]  # what the integrity check noticed but did not refuse
    _records: list

    @property
    def complete(self) -> bool:
        return self.file.status == "complete"

    @property
    def sequential(self):
        """A run under `until`/`budget`: its estimate, interval, stop reason, items run and left, per-group
        estimates (results.schema.SequentialSection); None for any other run."""
        return self.file.sequential

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"{name!r}: this {self.kind} run has {', '.join(m.name for m in self.metrics)}")

    def samples(self) -> list[dict[str, Any]]:
        """The lines of samples.jsonl the result was computed from, as dicts."""
        return [r.to_json() for r in self._records]


def _metrics(result: ResultFile) -> list[Metric]:
    from mobeval.board.figures import KIND_FIGURES

    spec = KIND_FIGURES.get(result.kind)
    if spec is None:
        return []
    out = []
    for f in spec.figures:
        est = f.extract(result.task)
        if est is not None:
            out.append(Metric(f.key, f.label, est.value, "fraction", est.ci_low, est.ci_high, est.ci_method, est.n,
                              est.n_unit))
    return out


def _from_check(check: RunCheck) -> Result:
    r = check.result
    return Result(path=check.path, kind=r.kind, file=r, metrics=_metrics(r), performance=dict(r.performance),
                  memory=dict(r.memory), energy=dict(r.energy), notes=list(check.notes),
                  _records=check.result_samples)


def load(run_dir: str | os.PathLike[str]) -> Result:
    """A finished (or partial) run folder, checked as `mobeval report` checks it: a damaged or edited folder
    (files that contradict each other, or figures its samples do not give) raises MobevalError naming the file
    and what is wrong."""
    from mobeval.submit.checks import recomputed

    return _from_check(recomputed(verified(Path(run_dir), "load"), "load"))


def run(*, config: str | os.PathLike[str] | None = None, resume: bool = False,
        run_dir: str | os.PathLike[str] | None = None,
        progress: Callable[[int, int], None] | None = None, **settings: Any) -> Result:
    """Evaluate, as `mobeval run` does, and return the finished run. `settings` are `mobeval run`'s (see
    `mobeval run --help`; a list for `subjects` and `batch_sizes`, a mapping for `column`); `progress(done,
    total)` is called as items finish. Raises MobevalError for bad settings, data, models or runners."""
    import mobeval.engine as engine
    from mobeval.config import load_config
    from mobeval.core.runners import entry as runner_entry

    cfg = load_config(Path(config) if config is not None else None, settings)
    env_key = os.environ.get("MOBEVAL_API_KEY")
    if env_key and cfg.api_key is None and runner_entry(cfg.runner, cfg.task).remote:
        cfg = cfg.with_changes(api_key=env_key)
    plan = engine.plan(cfg)
    folder = engine.open_run_dir(plan, resume, Path(run_dir) if run_dir is not None else None)
    engine.execute(plan, folder, progress)
    return load(folder.path)


@dataclass(frozen=True)
class Paired:
    """One run against the reference on the items both scored: the accuracy difference (run − reference) with
    its 95% paired-bootstrap interval, McNemar's exact p, and the share of items whose prediction differs."""

    run: Path
    basis: str  # which accuracy ("debiased", "original order", "top1", ...)
    n: int
    accuracy_reference: float
    accuracy_run: float
    difference: float
    low: float
    high: float
    mcnemar_p: float
    flip_rate: float
    significant: bool


def compare(reference: str | os.PathLike[str] | Result, *runs: str | os.PathLike[str] | Result) -> list[Paired]:
    """Each run against `reference` on the items both scored (what `mobeval compare` prints under "Paired");
    MobevalError when the runs are of different kinds or share no scored item."""
    from mobeval.comparison import paired_comparison

    loaded = [x if isinstance(x, Result) else load(x) for x in (reference, *runs)]
    if len({r.kind for r in loaded}) > 1:
        raise MobevalError(f"cannot compare runs of different task kinds ({', '.join(sorted({r.kind for r in loaded}))})")
    out = []
    for other in loaded[1:]:
        basis, c, flips = paired_comparison(loaded[0].kind, loaded[0]._records, other._records)
        out.append(Paired(other.path, basis, c.n, c.accuracy_a, c.accuracy_b, c.difference, c.ci_low, c.ci_high,
                          c.mcnemar_p, flips, c.significant))
    return out

