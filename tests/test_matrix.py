"""mobeval matrix: plan files (expansion into jobs with stable ids, errors naming the file and the key), and
a real local Ray cluster on loopback with 2 worker processes running the bundled model: the matrix
completes, the board reads it, and a worker SIGKILLed mid-job is survived (the job is retried, continues
its run folder, and ends with every item exactly once, record for record equal to an unkilled twin)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mobeval.core.errors import MobevalError
from mobeval.matrix.plan import load_plan
from mobeval.results.integrity import check_run

ROOT = Path(__file__).resolve().parents[1]
# fields that depend on time or on what the process ran before (a resumed segment starts cold): every
# other field of a record must be identical between the killed-and-resumed job and its twin
VOLATILE = {"latency_s", "warmup", "engine_timings", "ttft_s", "evaluated_tokens"}
MATRIX_TIMEOUT_S = 240  # the whole Ray test; about a minute on an idle 2-core machine


def write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def plan_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(MobevalError) as exc:
        load_plan(write(tmp_path, text))
    return str(exc.value)


# ---- plan files -------------------------------------------------------------------------------------


def test_example_plan_expands_to_stable_jobs():
    _, jobs = load_plan(ROOT / "configs/matrix-example.yaml")
    assert [j.id for j in jobs] == ["smollm2-135m__q4_1__everyday-mobile__llama.cpp__cpu-local",
                                    "gemma3-270m__q4_k_m__everyday-mobile__llama.cpp__cpu-local"]
    assert jobs[0].settings == {"limit": 10, "orderings": "cyclic", "energy": "auto", "threads": 2}
    assert [j.id for j in load_plan(ROOT / "configs/matrix-example.yaml")[1]] == [j.id for j in jobs]


def test_plan_expands_every_axis_and_filters_quantizations(tmp_path):
    text = """
models:
  - smollm2-135m
  - name: gemma
    quantizations: {Q4_K_M: gemma3-270m, Q8_0: /models/gemma-q8.gguf}
benchmarks: [everyday-mobile]
runners: [llama.cpp, null]
devices: [a, {name: phone, settings: {threads: 4}}]
settings: {limit: 3}
"""
    _, jobs = load_plan(write(tmp_path, text))
    assert len(jobs) == 3 * 1 * 2 * 2
    assert len({j.id for j in jobs}) == len(jobs)
    phone = [j for j in jobs if j.device == "phone"]
    assert all(j.settings == {"limit": 3, "threads": 4} for j in phone)
    assert jobs[0].resource == "device:a"
    assert {j.model for j in jobs} == {"smollm2-135m", "gemma3-270m", "/models/gemma-q8.gguf"}
    _, by_file = load_plan(write(tmp_path, "models: [/models/qwen-q8_0.gguf]\nbenchmarks: [everyday-mobile]\n"))
    assert by_file[0].id == "qwen-q8_0__file__everyday-mobile__default__local"  # a file: its name, not its path
    _, kept = load_plan(write(tmp_path, text + "quantizations: [Q8_0, Q4_1]\n"))
    assert {(j.model_name, j.quantization) for j in kept} == {("smollm2-135m", "Q4_1"), ("gemma", "Q8_0")}
    cfg = kept[0].config(tmp_path / "out")
    assert cfg["model"] == "smollm2-135m" and cfg["output_dir"] == str(tmp_path / "out")


@pytest.mark.parametrize("text, says", [
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nbenchmark: [x]\n", "benchmark: unknown key"),
    ("models: [smollm2-135m]\n", "benchmarks: Field required"),
    ("models: []\nbenchmarks: [everyday-mobile]\n", "models: List should have at least 1 item"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nsettings: {limit: 0}\n",
     "limit: 0 in {plan} (settings): must be at least 1 (flag --limit)"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nsettings: {limt: 3}\n", "unknown setting 'limt' in {plan} (settings)"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nsettings: {model: x}\n",
     "settings.model: set by the matrix for each job"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\ndevices: [{name: b, settings: {output_dir: x}}]\n",
     "devices[0].settings.output_dir: set by the matrix"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\ndevices: [a, a]\n", "device 'a' is listed twice"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\ndevices: ['my phone']\n", "a device name is letters"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\ndevices: [Pixel, pixel]\n",
     "two jobs would share the id 'smollm2-135m__q4_1__everyday-mobile__default__pixel'"),
    ("models: [smollm2-135m]\nbenchmarks: [no-such-bench]\n", "job smollm2-135m__q4_1__no-such-bench__default__local"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nrunners: [llama.cpp]\nsettings: {batch_sizes: [1]}\n",
     "--batch-sizes: for image-classification and spectrum-segmentation tasks only"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nquantizations: [Q8_0]\n",
     "models[0] (smollm2-135m) has none of the quantizations ['Q8_0'] (it has Q4_1)"),
    ("models: [{name: m, quantizations: {}}]\nbenchmarks: [everyday-mobile]\n", "models[0].quantizations"),
    ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nmax_retries: -1\n", "max_retries: Input should be greater"),
    ("- just\n- a list\n", "expected a mapping with models"),
    ("models: [smollm2-135m\n", "not valid YAML"),
])
def test_bad_plans_are_refused_naming_the_file_and_key(tmp_path, text, says):
    msg = plan_error(tmp_path, text)
    plan = str(tmp_path / "plan.yaml")
    assert msg.startswith(plan), msg
    assert says.format(plan=plan) in msg, msg


def test_missing_plan_file(tmp_path):
    with pytest.raises(MobevalError, match="cannot read the plan"):
        load_plan(tmp_path / "nope.yaml")


def test_cli_prints_a_plan_error_without_traceback(tmp_path):
    plan = write(tmp_path, "models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nsettings: {limit: 0}\n")
    res = subprocess.run([sys.executable, "-m", "mobeval", "matrix", str(plan), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "250"})
    assert res.returncode == 2
    assert "error:" in res.stderr and "must be at least 1" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_a_yaml_alias_bomb_in_a_plan_is_refused_at_once(tmp_path):
    """Issue 30 (security): a billion laughs under settings.limit: one line naming the plan, within seconds,
    no traceback (a subprocess, so that a regression times out instead of eating the test run's memory)."""
    from tests.test_settings_validation import billion_laughs

    plan = write(tmp_path, "models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nsettings:\n"
                 + "  " + billion_laughs("    "))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "mobeval", "matrix", str(plan), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=30, check=False, env={**os.environ, "COLUMNS": "250"})
    assert time.perf_counter() - t0 < 20, "the bomb was walked"
    assert res.returncode == 2, res.stderr
    assert f"{plan}: not valid YAML: its aliases (*name) expand to more than 100,000 values" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr) < 1000, res.stderr
    assert not (tmp_path / "o").exists()


# ---- a real Ray cluster -------------------------------------------------------------------------------

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="mobeval matrix needs Ray, not installed here: pip install -e '.[distributed]'")

PLAN = """
models: [smollm2-135m]
benchmarks: [everyday-mobile]
runners: [llama.cpp]
devices: [cpu-a, cpu-b]
settings: {limit: 4, orderings: cyclic, threads: 1, energy: "off", idle_seconds: 0}
max_retries: 2
"""
JOB_A = "smollm2-135m__q4_1__everyday-mobile__llama.cpp__cpu-a"
JOB_B = "smollm2-135m__q4_1__everyday-mobile__llama.cpp__cpu-b"


def _lines(folder: Path) -> int:
    runs = list(folder.glob("*/samples.jsonl"))
    return runs[0].read_bytes().count(b"\n") if runs else 0


def _events(folder: Path) -> list[dict]:
    path = folder / "attempts.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _records(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(x).items() if k not in VOLATILE}
            for x in (run / "samples.jsonl").read_text().splitlines()]


def _wait(cond, deadline: float, what: str, proc: subprocess.Popen) -> None:
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"the matrix exited ({proc.returncode}) before {what}:\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@needs_ray
def test_matrix_on_local_ray_completes_and_survives_a_killed_worker(tmp_path):
    plan, out = write(tmp_path, PLAN), tmp_path / "results"
    deadline = time.monotonic() + MATRIX_TIMEOUT_S
    proc = subprocess.Popen([sys.executable, "-m", "mobeval", "matrix", str(plan), "--out", str(out),
                             "--num-cpus", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "COLUMNS": "250"})
    try:
        job_a = out / "jobs" / JOB_A
        # kill job A's worker once the first of its 4 questions (4 orderings each) is on disk
        _wait(lambda: _lines(job_a) >= 4, deadline, "job A's first question", proc)
        ev = _events(job_a)
        worker = next(e["worker_pid"] for e in ev if e["event"] == "start")
        child = next(e["child_pid"] for e in ev if e["event"] == "child")
        assert not list(job_a.glob("*/result.json")), "job A finished before the kill: the test proves nothing"
        os.kill(worker, signal.SIGKILL)
        _wait(lambda: _gone(child), deadline, "the killed worker's mobeval run to die with it", proc)
        output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:  # past the bound: stop the matrix (and the Ray cluster it started)
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0, output
    assert "done 2 · running 0 · failed 0" in output and "retried 1" in output, output

    doc = json.loads((out / "matrix.json").read_text())
    by_id = {j["id"]: j for j in doc["jobs"]}
    assert doc["summary"]["done"] == 2
    assert by_id[JOB_A]["attempts"] == 2 and by_id[JOB_B]["attempts"] == 1
    assert "device:cpu-a" in doc["cluster_resources"] and "node:127.0.0.1" in doc["cluster_resources"]  # loopback

    starts = [e for e in _events(job_a) if e["event"] == "start"]
    assert starts[1]["worker_pid"] != worker and starts[1]["resume"]  # a new worker continued the run folder
    run_a, run_b = (out / by_id[j]["run"] for j in (JOB_A, JOB_B))
    assert run_a.parent == job_a and len(list(job_a.glob("*/run.json"))) == 1
    for run in (run_a, run_b):
        c = check_run(run)
        assert c.complete and not c.problems, (run, c.problems)
    a, b = _records(run_a), _records(run_b)
    keys = [(r["question_id"], r["ordering"]) for r in a]
    assert len(keys) == len(set(keys)) == 4 * 4  # every item's every ordering exactly once
    def key(r: dict) -> tuple:
        return r["question_id"], r["ordering"]

    assert sorted(a, key=key) == sorted(b, key=key)  # the same records as the job nobody killed
    segments = (run_a / "segments.jsonl").read_text().splitlines()
    assert sum('"open"' in s for s in segments) == 2  # the killed attempt's segment and the resumed one

    board = subprocess.run([sys.executable, "-m", "mobeval", "board", str(out), "--format", "json", "--no-index"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert board.returncode == 0, board.stderr
    runs = json.loads(board.stdout)["runs"]
    assert sorted(Path(r["path"]).parent.name for r in runs) == [JOB_A, JOB_B]
    assert all(r["items"] == 4 and r["model"] == "smollm2-135m" for r in runs)
    marks = {Path(r["path"]).parent.name: r["marks"] for r in runs}
    assert "killed segment" in marks[JOB_A] and "killed segment" not in marks[JOB_B]  # the board says so


@pytest.fixture
def ray_head(tmp_path_factory):
    """A one-node Ray cluster started with `ray start --head --block` on loopback, offering device:cpu-a;
    stopped by ending that process (it stops what it started)."""
    import socket
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths live under it
    # on loopback: Ray rewrites 127.0.0.1 to the routable address unless told the cluster is single-node
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    ray_cli = Path(sys.executable).with_name("ray")  # the venv's, beside its python
    head = subprocess.Popen([str(ray_cli) if ray_cli.exists() else "ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
                             "--num-cpus", "1", "--resources", json.dumps({"device:cpu-a": 1}), "--temp-dir", temp,
                             "--include-dashboard", "false", "--disable-usage-stats"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        import shutil

        shutil.rmtree(temp, ignore_errors=True)


@needs_ray
def test_matrix_joins_a_cluster_and_refuses_a_device_no_node_offers(tmp_path, ray_head):
    def matrix(plan_text: str, name: str) -> subprocess.CompletedProcess:
        plan = write(tmp_path, plan_text, name)
        return subprocess.run([sys.executable, "-m", "mobeval", "matrix", str(plan), "--out", str(tmp_path / f"out-{name}"),
                               "--address", ray_head], capture_output=True, text=True, check=False, timeout=MATRIX_TIMEOUT_S,
                              env={**os.environ, "COLUMNS": "250"})

    base = ("models: [smollm2-135m]\nbenchmarks: [everyday-mobile]\nrunners: [llama.cpp]\n"
            "settings: {limit: 1, orderings: original, threads: 1, energy: 'off', idle_seconds: 0}\n")
    deadline = time.monotonic() + 60
    while True:  # the head takes a while to come up
        missing = matrix(base + "devices: [cpu-a, pixel-8]\n", "missing.yaml")
        if "cannot join" not in missing.stderr or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert missing.returncode == 2, missing.stderr
    said = " ".join(missing.stderr.split())
    assert "offers the device(s) pixel-8" in said and f"ray start --address {ray_head}" in said, said
    assert "device:pixel-8" in said

    # a job whose run fails on its own is failed with the run's message, not retried; the other job runs
    ok = matrix(base.replace("[smollm2-135m]", f"[smollm2-135m, {tmp_path / 'no-such.gguf'}]")
                + "devices: [cpu-a]\n", "ok.yaml")
    assert ok.returncode == 1, ok.stdout + ok.stderr
    doc = json.loads((tmp_path / "out-ok.yaml" / "matrix.json").read_text())
    assert doc["summary"]["done"] == 1 and doc["summary"]["failed"] == 1
    assert doc["cluster"].startswith(f"the Ray cluster at {ray_head}") and "node:127.0.0.1" in doc["cluster_resources"]
    done, failed = doc["jobs"]
    assert check_run(tmp_path / "out-ok.yaml" / done["run"]).complete
    assert failed["attempts"] == 1 and "no such file" in failed["error"], failed
    assert "no such file" in " ".join(ok.stdout.split())  # the summary shows why


# ---- secrets (issue 30): never written to matrix.json or a job's files -----------------------------

API_KEY, PASSWORD, TOKEN = "sk-plan-secret-key", "hunter2pass", "tok-secret-value"


class _RecordingServer:
    """An OpenAI-compatible stub on loopback that records what reaches it (path, query, Authorization)
    and answers /v1/models only; every other request is a 404, so a job fails with the run's message."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen.append((self.path, self.headers.get("Authorization", "")))
                ok = self.path.split("?")[0] == "/v1/models"
                data = json.dumps({"object": "list", "data": [{"id": "stub-model"}]} if ok else
                                  {"detail": "Not Found"}).encode()
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.root = f"127.0.0.1:{self.server.server_address[1]}/v1?token={TOKEN}"

    def reached(self) -> bool:
        """Whether every secret reached the server: the token, user:password (basic auth) and the api_key."""
        import base64

        basic = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        return (all(f"token={TOKEN}" in path for path, _ in self.seen)
                and {basic, f"Bearer {API_KEY}"} <= {auth for _, auth in self.seen})

    def close(self):
        self.server.shutdown()


def _secret_plan(stub: _RecordingServer) -> str:
    """Two devices: an endpoint with user:password and a token (basic auth), one with the token only (the
    api_key as the bearer); the api_key in the plan's settings."""
    return f"""
models: [stub-model]
benchmarks: [everyday-mobile]
runners: [openai]
devices: [{{name: phone, settings: {{endpoint: "http://alice:{PASSWORD}@{stub.root}"}}}},
          {{name: box, settings: {{endpoint: "http://{stub.root}"}}}}]
settings: {{limit: 1, orderings: original, api_key: {API_KEY}, energy: "off", idle_seconds: 0}}
max_retries: 0
"""


def _files_with_secrets(folder: Path) -> list[str]:
    found = []
    for p in folder.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            found += [f"{p.relative_to(folder)}: {s}" for s in (API_KEY, PASSWORD, TOKEN) if s.encode() in data]
    return found


def test_a_job_gets_its_secrets_in_memory_and_writes_none(tmp_path, monkeypatch):
    """Each job as a Ray worker runs it (called directly here): its job.yaml, attempts log, run log and run
    folder hold no api_key, password or token, and yet they reach the server (the run got them)."""
    import yaml

    from mobeval.matrix import job as job_module

    monkeypatch.setattr(job_module, "_node_id", lambda: None)  # not inside Ray
    stub = _RecordingServer()
    out = tmp_path / "out"
    try:
        _, jobs = load_plan(write(tmp_path, _secret_plan(stub)))
        outcomes = [job_module.execute({**j.__dict__}, str(out), str(ROOT), None) for j in jobs]
    finally:
        stub.close()
    assert stub.reached(), stub.seen
    assert not _files_with_secrets(out)
    for j, outcome in zip(jobs, outcomes):
        assert outcome["status"] == "failed" and "answered HTTP 404" in outcome["error"], outcome  # no completions
        assert not any(s in outcome["error"] for s in (API_KEY, PASSWORD, TOKEN)), outcome
        text = (out / "jobs" / j.id / "job.yaml").read_text()
        assert not {"api_key", "endpoint"} & set(yaml.safe_load(text)) and "--api-key --endpoint" in text, text


@needs_ray
def test_matrix_writes_no_secret_to_its_files(tmp_path):
    """`mobeval matrix` with an api_key, an endpoint with user:password and ?token=: matrix.json (its plan,
    each job's settings and error), every job's files: none holds a secret; the job still got them."""
    stub = _RecordingServer()
    try:
        plan, out = write(tmp_path, _secret_plan(stub)), tmp_path / "results"
        res = subprocess.run([sys.executable, "-m", "mobeval", "matrix", str(plan), "--out", str(out), "--num-cpus", "1"],
                             capture_output=True, text=True, timeout=MATRIX_TIMEOUT_S, check=False,
                             env={**os.environ, "COLUMNS": "250"})
    finally:
        stub.close()
    assert res.returncode == 1, res.stdout + res.stderr  # the jobs failed: the stub answers no completions
    assert stub.reached(), stub.seen
    doc = json.loads((out / "matrix.json").read_text())
    phone, box = doc["jobs"]
    assert phone["settings"]["api_key"] == "***" and "//***@127.0.0.1" in phone["settings"]["endpoint"]
    assert box["settings"]["endpoint"].endswith("?token=***") and doc["plan"]["settings"]["api_key"] == "***"
    assert "answered HTTP 404" in phone["error"] and "answered HTTP 404" in box["error"], doc["jobs"]
    assert not _files_with_secrets(out)
    for s in (API_KEY, PASSWORD, TOKEN):
        assert s not in res.stdout + res.stderr
