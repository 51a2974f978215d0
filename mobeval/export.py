"""Runs in the formats other tools read (`mobeval export`): lm-evaluation-harness's aggregated results
file, one long table of every run's figures (CSV or JSON lines), a per-item table of a run's samples, and an
MLflow run per mobeval run. Every run is read through `mobeval.load`, so an edited or damaged folder is
refused before anything is written."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mobeval.api import Result
from mobeval.core.errors import MobevalError

TARGETS = ("lm-eval", "csv", "jsonl", "items-csv", "mlflow")
COLUMNS = ("run", "kind", "bench", "model", "runner", "metric", "label", "value", "unit", "ci_low", "ci_high",
           "ci_method", "n", "n_unit", "source")


def _stderr(p: float, n: int) -> float | None:
    """lm-evaluation-harness's standard error of a mean of 0/1 scores: the sample standard deviation
    (n - 1 in the denominator) over sqrt(n)."""
    return math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else None


def metric_rows(result: Result) -> list[dict[str, Any]]:
    """Every figure of a run as one row each: the kind's headline figures (fractions with their 95% interval),
    then its performance, memory and energy figures (with their units; no interval)."""
    r = result.file
    base = {"run": str(result.path), "kind": r.kind, "bench": r.data.get("bench", ""),
            "model": r.model.get("name") or r.model.get("alias") or "", "runner": r.runner.get("name", "")}
    rows = [{**base, "metric": m.name, "label": m.label, "value": m.value, "unit": m.unit, "ci_low": m.low,
             "ci_high": m.high, "ci_method": m.method, "n": m.n, "n_unit": m.n_unit, "source": "task"}
            for m in result.metrics]
    for section, figures in (("performance", result.performance), ("memory", result.memory),
                             ("energy", result.energy)):
        for key, f in figures.items():
            rows.append({**base, "metric": key, "label": f.note or key, "value": f.value, "unit": f.unit,
                         "ci_low": None, "ci_high": None, "ci_method": "", "n": f.count, "n_unit": "",
                         "source": f"{section} ({f.source})"})
    return rows


def table_csv(results: Sequence[Result]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for res in results:
        for row in metric_rows(res):
            w.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    """CSV cells are data: a text cell starting like a spreadsheet formula is prefixed with a quote."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") and not _number(v):
        return "'" + v
    return v


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table_jsonl(results: Sequence[Result]) -> str:
    return "".join(json.dumps(row, allow_nan=False, default=str) + "\n" for res in results
                   for row in metric_rows(res))


def items_csv(result: Result) -> str:
    """One row per sample the result was computed from: `item_id` and `ordering` first (every kind's), then
    the sample's own fields as samples.jsonl has them (nested fields as JSON text), in first-seen order."""
    samples = [{"item_id": r.item_id, "ordering": r.ordering, **r.to_json()} for r in result._records]
    columns: dict[str, None] = {}
    for s in samples:
        columns.update(dict.fromkeys(s))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for s in samples:
        w.writerow({k: _cell(json.dumps(v) if isinstance(v, (dict, list, tuple)) else v) for k, v in s.items()})
    return buf.getvalue()


def lm_eval_results(result: Result) -> dict[str, Any]:
    """The run as lm-evaluation-harness writes its aggregated results (`results[task]["acc,none"]`,
    `"acc_stderr,none"`, `n-samples`, `n-shot`, `config`), the task named by the benchmark. Each headline
    figure is there under its own key too, and the kind's breakdown (MMLU's subjects) as subtasks; what lm-eval
    has no field for (the 95% interval and its method, the orderings, the run folder) is under "mobeval"."""
    from mobeval.board.figures import KIND_FIGURES

    r = result.file
    bench = r.data.get("bench") or "task"
    spec = KIND_FIGURES.get(r.kind)
    named = [(f.key, f.extract(r.task)) for f in (spec.lm_eval if spec else ())]
    named += [(m.name, _estimate(m)) for m in result.metrics]
    results: dict[str, dict[str, Any]] = {bench: {"alias": bench, **_fields(named)}}
    higher = {bench: {k: True for k, e in named if e is not None}}
    n_effective = max((e.n for _, e in named if e is not None), default=0)
    samples = {bench: {"original": r.data.get("n_items_selected") or n_effective, "effective": n_effective}}
    if spec is not None and spec.breakdown is not None:
        for group, figures in sorted(spec.breakdown(r.task).items()):
            name = f"{bench}_{group}"
            results[name] = {"alias": group, **_fields(list(figures.items()))}  # lm-eval indents subtasks itself
            higher[name] = {k: True for k, e in figures.items() if e is not None}
            samples[name] = {"original": max((e.n for e in figures.values() if e), default=0),
                             "effective": max((e.n for e in figures.values() if e), default=0)}
    return {
        "results": results,
        "group_subtasks": {bench: sorted(k for k in results if k != bench)},
        "versions": {k: f"mobeval {r.mobeval_version}" for k in results},
        "n-shot": {k: r.config.get("shots", 0) or 0 for k in results},
        "higher_is_better": higher,
        "n-samples": samples,
        "config": {"model": r.runner.get("name", ""), "model_args": f"pretrained={r.model.get('name', '')}",
                   "batch_size": 1, "device": "cpu", "limit": r.config.get("limit")},
        "model_name": r.model.get("name", ""),
        "date": _epoch(r.started_at),
        "mobeval": {"run": str(result.path), "kind": r.kind, "status": r.status,
                    "intervals": {k: {"low": e.ci_low, "high": e.ci_high, "method": e.ci_method, "n": e.n,
                                      "n_unit": e.n_unit, "basis": e.basis}
                                  for k, e in named if e is not None},
                    "orderings": r.config.get("orderings")},
    }


def _estimate(m):
    from mobeval.results.headline import Estimate

    return Estimate(m.value, m.low, m.high, m.n, m.n_unit, m.method)


def _fields(named: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, e in named:
        if e is None:
            continue
        out[f"{key},none"] = e.value
        stderr = _stderr(e.value, e.n) if e.n else None
        out[f"{key}_stderr,none"] = "N/A" if stderr is None else stderr  # lm-eval's own word for none
    return out


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def to_mlflow(results: Sequence[Result], tracking_uri: str | None, experiment: str) -> list[str]:
    """One MLflow run per mobeval run: its settings as params, its figures as metrics (interval bounds as
    `<metric>_ci_low`/`_ci_high`), result.json and the report tables as artifacts. The MLflow run ids."""
    try:
        import mlflow
    except ImportError as exc:
        raise MobevalError("--to mlflow needs MLflow: pip install -e '.[mlflow]'") from exc
    from mlflow.exceptions import MlflowException

    try:
        return _log_runs(mlflow, results, tracking_uri, experiment)
    except MlflowException as exc:
        raise MobevalError(f"--to mlflow{f' --tracking-uri {tracking_uri}' if tracking_uri else ''}: MLflow "
                           f"refused: {exc.message}") from exc


def _log_runs(mlflow, results: Sequence[Result], tracking_uri: str | None, experiment: str) -> list[str]:
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    ids = []
    for res in results:
        r = res.file
        with mlflow.start_run(run_name=res.path.name) as run:
            params = {k: str(v)[:500] for k, v in r.config.items() if v is not None}
            params.update({"kind": r.kind, "bench": r.data.get("bench", ""), "model": r.model.get("name", ""),
                           "runner": r.runner.get("name", "")})
            mlflow.log_params(params)
            metrics = {}
            for row in metric_rows(res):
                if isinstance(row["value"], (int, float)) and not isinstance(row["value"], bool) \
                        and math.isfinite(row["value"]):
                    metrics[row["metric"]] = float(row["value"])
                    for bound in ("ci_low", "ci_high"):
                        if row[bound] is not None:
                            metrics[f"{row['metric']}_{bound}"] = float(row[bound])
            mlflow.log_metrics({_mlflow_key(k): v for k, v in metrics.items()})
            mlflow.set_tags({"mobeval.run": str(res.path), "mobeval.status": r.status})
            mlflow.log_artifact(str(res.path / "result.json"))
            ids.append(run.info.run_id)
    return ids


def _mlflow_key(key: str) -> str:
    """MLflow metric names take letters, digits, _ - . / and spaces; anything else becomes _."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)
