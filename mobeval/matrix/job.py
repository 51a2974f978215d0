"""One matrix job, as it runs inside a Ray worker: a `mobeval run` in its own process, writing its run
folder under `<out>/jobs/<job id>/`, continued with `--resume --run-dir` when an earlier attempt left one.

The child `mobeval run` is tied to the worker (matrix/tied.py): on Linux it gets SIGKILL when the worker
dies (PR_SET_PDEATHSIG), so a killed worker never leaves an orphan still writing samples the next attempt
also writes. A child killed by a signal is a lost attempt (ChildLost, retried by Ray); a child that exits
with an error is a failed job (its message kept, not retried: the same settings would fail again).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from mobeval.matrix.plan import Job
from mobeval.core.redact import redact_url

ERROR_TAIL = 2000  # characters of a failed run's stderr kept in the job's outcome
# The settings a job's `mobeval run` gets in its environment, as JSON, rather than in its job.yaml: the
# api_key, and an endpoint with a user:password or a token in it. Secrets never go to disk (issue 30).
SECRETS_ENV = "MOBEVAL_JOB_SECRETS"


class ChildLost(Exception):
    """The job's `mobeval run` was killed by a signal: the attempt is lost, the run folder kept."""


def job_dir(out: Path, job_id: str) -> Path:
    return Path(out) / "jobs" / job_id


def run_folder(folder: Path) -> Path | None:
    """The run folder an earlier attempt of this job left (the newest, should there be several)."""
    found = [p.parent for p in folder.glob("*/run.json")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def events(folder: Path) -> list[dict[str, Any]]:
    """The job's attempts log: start (worker pid, node), child (its pid), exit (return code)."""
    path = folder / "attempts.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line torn by a killed worker
            continue
    return out


def _log(folder: Path, **event: Any) -> None:
    with open(folder / "attempts.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"at": time.time(), **event}) + "\n")


def _complete(run: Path | None) -> bool:
    if run is None:
        return False
    from mobeval.results.integrity import check_run

    c = check_run(run)
    return c.complete and not c.problems


def _files(run: Path, out: Path) -> dict[str, bytes]:
    """The job folder's files by path under `out`, for a driver on another node."""
    base = run.parent
    return {str(p.relative_to(out)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def split_secrets(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A job's `mobeval run` settings as (what job.yaml holds, what the run gets in SECRETS_ENV): the
    api_key, and an endpoint that redaction would change (it carries credentials), go to the second."""
    public, secret = dict(config), {}
    if public.get("api_key") is not None:
        secret["api_key"] = str(public.pop("api_key"))
    endpoint = public.get("endpoint")
    if isinstance(endpoint, str) and redact_url(endpoint) != endpoint:
        secret["endpoint"] = public.pop("endpoint")
    return public, secret


def write_config(path: Path, config: dict[str, Any]) -> dict[str, str]:
    """job.yaml without secrets (a comment says which settings were left out); returns those settings."""
    public, secret = split_secrets(config)
    note = ""
    if secret:
        shown = {k: redact_url(v) if k == "endpoint" else "***" for k, v in secret.items()}
        flags = " ".join("--" + k.replace("_", "-") for k in secret)
        note = (f"# not written here: {', '.join(f'{k} ({v})' for k, v in shown.items())}; the matrix gives "
                f"them to the run in its environment ({SECRETS_ENV}); by hand, add {flags}\n")
    path.write_text(note + yaml.safe_dump(public, sort_keys=False), encoding="utf-8")
    return secret


def execute(job: dict[str, Any], out: str, cwd: str, driver_node: str | None) -> dict[str, Any]:
    """Run one job to completion (or failure); the Ray task body. Returns the job's outcome."""
    spec, out_path = Job(**job), Path(out)
    folder = job_dir(out_path, spec.id)
    folder.mkdir(parents=True, exist_ok=True)
    node = _node_id()
    attempt = sum(1 for e in events(folder) if e.get("event") == "start")
    earlier = run_folder(folder)
    _log(folder, event="start", attempt=attempt + 1, worker_pid=os.getpid(), host=socket.gethostname(), node=node,
         resume=str(earlier) if earlier else None)
    outcome: dict[str, Any] = {"id": spec.id, "host": socket.gethostname(), "node": node, "resumed": earlier is not None}
    if _complete(earlier):
        return _done(outcome, earlier, out_path, driver_node, node, note="already complete")
    config = folder / "job.yaml"
    secret = write_config(config, spec.config(folder))
    env = {**os.environ, SECRETS_ENV: json.dumps(secret)} if secret else None  # in memory, never on disk
    run_cmd = [sys.executable, "-m", "mobeval", "run", "--config", str(config), "--quiet"]
    if earlier is not None:
        run_cmd += ["--resume", "--run-dir", str(earlier)]
    cmd = [sys.executable, "-m", "mobeval.matrix.tied", str(os.getpid()), *run_cmd]  # dies with this worker
    log = folder / f"attempt{attempt + 1}.log"
    t0 = time.time()
    with open(log, "wb") as stderr:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL,
                                 cwd=cwd if Path(cwd).is_dir() else None, process_group=0, env=env)
        _log(folder, event="child", attempt=attempt + 1, child_pid=child.pid)
        try:
            rc = child.wait()
        except BaseException:  # the task is cancelled or the worker is shutting down: no orphan
            child.kill()
            child.wait()
            raise
    outcome["seconds"] = round(time.time() - t0, 3)
    _log(folder, event="exit", attempt=attempt + 1, returncode=rc)
    if rc < 0:
        raise ChildLost(f"job {spec.id}: mobeval run was killed by signal {-rc} (attempt {attempt + 1}); "
                        f"its run folder is kept for the retry")
    if rc != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-ERROR_TAIL:].strip()
        return {**outcome, "status": "failed", "error": tail or f"mobeval run exited with {rc}",
                "run": str(run_folder(folder) or "")}
    return _done(outcome, run_folder(folder), out_path, driver_node, node)


def _done(outcome: dict[str, Any], run: Path | None, out: Path, driver_node: str | None, node: str | None,
          note: str = "") -> dict[str, Any]:
    outcome = {**outcome, "status": "done", "run": str(run), "note": note}
    if run is not None and driver_node is not None and node != driver_node:
        outcome["files"] = _files(run, out)  # gathered into the driver's results folder
    return outcome


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # not inside Ray (called directly)
        return None
