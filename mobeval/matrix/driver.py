"""Run a matrix's jobs on Ray and gather them into one results folder: `<out>/jobs/<job id>/<run folder>`
per job (what `mobeval board <out>` reads) and `<out>/matrix.json` (the plan, the cluster, each job's
outcome and attempts). Progress of the whole matrix goes to the terminal while it runs."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mobeval.core.hashing import bytes_sha256
from mobeval.matrix import cluster as ray_cluster
from mobeval.matrix.job import ChildLost, execute
from mobeval.matrix.plan import Job, MatrixPlan, public_plan, public_settings, setting_secrets
from mobeval.matrix.progress import Watcher
from mobeval.core.redact import redact_text
from mobeval.results.store import utc_now

TICK_S = 0.5


@dataclass
class JobResult:
    job: Job
    status: str = "queued"  # queued | running | done | failed
    run: str = ""
    error: str = ""
    attempts: int = 0
    items: int = 0
    total: int | None = None
    host: str = ""
    seconds: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.job.id, **self.job.axes(), "status": self.status, "run": self.run,
                "attempts": self.attempts, "items_done": self.items, "items_selected": self.total,
                "host": self.host, "seconds": self.seconds, "note": self.note, "error": self.error,
                "settings": public_settings(self.job.settings)}  # no api_key, no endpoint credentials


@dataclass
class MatrixRun:
    out: Path
    results: list[JobResult]
    cluster: str = ""
    started_at: str = ""
    finished_at: str = ""
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status != "done"]


def _error_text(exc: BaseException) -> str:
    """A Ray error as one readable message (its cause, not the remote traceback)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, ChildLost):
        return str(cause)
    name = type(exc).__name__
    if "WorkerCrashed" in name or "NodeDied" in name or "Unreachable" in name:
        return f"the worker or node running it was lost, and so were its retries ({name})"
    text = str(cause or exc).strip().splitlines()
    return text[-1] if text else name


def _gather(out: Path, files: dict[str, bytes]) -> None:
    """Write a job's files sent back from another node (skipped where this node already has them)."""
    for rel, data in files.items():
        path = (out / rel).resolve()
        if out.resolve() not in path.parents:  # never outside the results folder
            continue
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def run_matrix(plan: MatrixPlan, jobs: list[Job], plan_path: Path, out: Path, address: str | None = None,
               max_retries: int | None = None, console: Console | None = None,
               num_cpus: int | None = None) -> MatrixRun:
    """Every job of the plan on Ray, with progress on `console`; matrix.json written at the end (and
    whenever a job finishes, so a stopped matrix leaves its record)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    retries = plan.max_retries if max_retries is None else max_retries
    devices = [d.name for d in plan.device_list()]
    started, t0 = utc_now(), time.perf_counter()
    cl = ray_cluster.connect(address, devices, num_cpus)  # before `import ray` here: see connect
    import ray

    results = {j.id: JobResult(j) for j in jobs}
    run = MatrixRun(out, list(results.values()), cl.describe(), started)
    run.extra = {"plan_file": str(plan_path), "plan_sha256": bytes_sha256(Path(plan_path).read_bytes()),
                 "plan": public_plan(plan), "max_retries": retries, "driver_host": socket.gethostname(),
                 "cluster_resources": cl.resources}
    try:
        ray_cluster.check_devices(cl, devices)
        task = ray.remote(execute)
        pending = {task.options(**ray_cluster.task_options(j.resource, retries, [ChildLost]))
                   .remote({**j.__dict__}, str(out), os.getcwd(), cl.driver_node): j.id for j in jobs}
        watcher = Watcher(out, [j.id for j in jobs])
        with _progress(console) as bar:
            jobs_bar = bar.add_task("jobs", total=len(jobs), detail="")
            items_bar = bar.add_task("items", total=None, detail="")
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=TICK_S)
                for ref in ready:
                    _finish(results[pending.pop(ref)], ref, out)
                    _write(run, t0)
                _refresh(results, watcher)
                _show(bar, jobs_bar, items_bar, results)
    finally:
        ray_cluster.shutdown()
    _refresh(results, Watcher(out, list(results)))
    _write(run, t0)
    return run


def _finish(r: JobResult, ref, out: Path) -> None:
    import ray

    try:
        outcome = ray.get(ref)
    except Exception as exc:  # retries spent: the worker/node kept dying, or the task itself raised
        r.status, r.error = "failed", redact_text(_error_text(exc), setting_secrets(r.job.settings))
        return
    if outcome.get("files"):
        _gather(out, outcome.pop("files"))
    r.status = outcome["status"]
    r.error = redact_text(outcome.get("error", ""), setting_secrets(r.job.settings))  # shown and recorded
    r.host, r.seconds, r.note = outcome.get("host", ""), outcome.get("seconds"), outcome.get("note", "")
    run = outcome.get("run") or ""
    r.run = str(Path(run).relative_to(out)) if run and Path(run).is_relative_to(out) else run


def _refresh(results: dict[str, JobResult], watcher: Watcher) -> None:
    for job_id, r in results.items():
        seen = watcher.poll(job_id)
        r.attempts, r.items, r.total = seen.attempts, len(seen.items), seen.total
        if r.status == "queued" and seen.attempts:
            r.status = "running"


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("[bold]{task.description:<5}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                    console=console, disable=console is None, transient=False)


def _show(bar: Progress, jobs_bar, items_bar, results: dict[str, JobResult]) -> None:
    counts = {s: sum(1 for r in results.values() if r.status == s) for s in ("done", "running", "failed", "queued")}
    retried = sum(max(0, r.attempts - 1) for r in results.values())
    detail = (f"done {counts['done']} · running {counts['running']} · failed {counts['failed']} · "
              f"queued {counts['queued']}" + (f" · retried {retried}" if retried else ""))
    bar.update(jobs_bar, completed=counts["done"] + counts["failed"], detail=detail)
    known = [r for r in results.values() if r.total is not None]
    total = sum(r.total for r in known)
    bar.update(items_bar, completed=sum(r.items for r in results.values()), total=total or None,
               detail=f"of {len(known)}/{len(results)} jobs started")


def _write(run: MatrixRun, t0: float) -> None:
    run.finished_at, run.wall_s = utc_now(), round(time.perf_counter() - t0, 3)
    doc = {"matrix_version": 1, "started_at": run.started_at, "finished_at": run.finished_at,
           "wall_time_s": run.wall_s, "cluster": run.cluster, **run.extra,
           "jobs": [r.to_json() for r in run.results],
           "summary": {s: sum(1 for r in run.results if r.status == s) for s in ("done", "failed", "running", "queued")}}
    tmp = run.out / ".matrix.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(run.out / "matrix.json")
