"""The openai runner against a real llama-cpp-python server (python -m llama_cpp.server) on the bundled model.

The only double is a tiny stub of a misbehaving server that returns no logprobs; everything else runs
against the real server, started on a free loopback port and compared with in-process llama.cpp.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.core.errors import RunnerError
from mobeval.core.orderings import orderings_for
from mobeval.text.prompts import load_template
from mobeval.text.runners.openai_http import OpenAIRunner
from mobeval.text.types import ChoiceRequest, GenerateRequest

pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")

from tests.llama_server import KEY, free_port, start_server, stop
OPTIONS = ["Calculator", "Maps", "Clock", "Notes"]


@pytest.fixture(scope="module")
def endpoint(smollm2_path, tmp_path_factory):
    port = free_port()
    proc = start_server(smollm2_path, port, tmp_path_factory.mktemp("server") / "server.log")
    yield f"http://127.0.0.1:{port}/v1"
    stop(proc)


def cyclic(template: str, question: str, options=OPTIONS, subject="") -> list[ChoiceRequest]:
    t = load_template(template, template)
    return [ChoiceRequest(t.render(question, [options[i] for i in o], subject), t.continuations(len(options)))
            for o in orderings_for(len(options), "cyclic")]


def test_scores_match_in_process_llama_cpp(endpoint, runner):
    everyday = cyclic("mobile-mmlu", "Which app shows a map?")
    mmlu = cyclic("mmlu", "What is the capital of France?", ["Paris", "Berlin", "Madrid", "Rome"], "geography")
    server = OpenAIRunner(None, endpoint, api_key=KEY)
    wide = OpenAIRunner(None, endpoint, api_key=KEY, top_logprobs=100)
    try:
        diffs = []
        for remote, reqs in ((server, everyday), (wide, mmlu)):
            got, want = remote.score_choices(reqs), runner.score_choices(reqs)
            for g, w in zip(got, want):
                diffs.append(np.abs(np.subtract(g.logprobs, w.logprobs)).max())
                assert g.prompt_tokens == w.prompt_tokens and g.latency_s > 0
        print(f"max |server - in-process| letter logprob difference: {max(diffs):.2e}")
        assert max(diffs) < 1e-3
        assert server.info.settings["letters_floored"] == 0 and wide.info.settings["letters_floored"] == 0
        assert server.info.settings["server_logprobs"] is True
        assert server.info.settings["logit_bias"].startswith("+100 on the letters")
        # with the default top 20, the MMLU " B" falls outside the list: floored, counted, and ranked last
        floored = server.score_choices(mmlu[:1])[0]
        assert server.info.settings["letters_floored"] == 1
        assert floored.logprobs[1] < min(floored.logprobs[i] for i in (0, 2, 3))
    finally:
        server.close()
        wide.close()


def test_chat_mode_matches_in_process_chat_template(endpoint, smollm2_path):
    from mobeval.text.runners.llamacpp import LlamaCppRunner

    reqs = cyclic("mobile-mmlu", "Which app shows a map?")[:2]
    remote, local = OpenAIRunner(None, endpoint, api_key=KEY, chat=True), LlamaCppRunner(smollm2_path, n_ctx=1024, chat=True)
    try:
        for g, w in zip(remote.score_choices(reqs), local.score_choices(reqs)):  # the content[] reply shape
            np.testing.assert_allclose(g.logprobs, w.logprobs, atol=1e-3)
            assert g.prompt_tokens == w.prompt_tokens
    finally:
        remote.close()
        local.close()


def test_concurrent_requests_give_the_same_results_in_order(endpoint):
    reqs = cyclic("mobile-mmlu", "Which app shows a map?") + cyclic("mobile-mmlu", "Which unit measures battery capacity?",
                                                                     ["mAh", "km", "dB", "lux"])
    one, four = (OpenAIRunner(None, endpoint, api_key=KEY, concurrency=c) for c in (1, 4))
    try:
        assert four.questions_per_call == 4 and four.info.settings["concurrency"] == 4
        serial, parallel = one.score_choices(reqs), four.score_choices(reqs)
        assert len(parallel) == len(reqs)
        for s, p in zip(serial, parallel):
            np.testing.assert_allclose(p.logprobs, s.logprobs, atol=1e-4)
            assert p.prompt_tokens == s.prompt_tokens
    finally:
        one.close()
        four.close()


def test_streaming_generate_measures_time_to_first_token(endpoint):
    r = OpenAIRunner(None, endpoint, api_key=KEY)
    try:
        (g,) = r.generate([GenerateRequest("The capital of France is", max_tokens=5)])
    finally:
        r.close()
    assert g.text and 1 <= g.generated_tokens <= 5
    assert 0 < g.ttft_s <= g.latency_s
    assert g.prompt_tokens > 0  # the stream carries no usage here: counted with the server's tokenizer
    assert r.info.settings["generate_prompt_tokens"] == "the server's tokenizer"


def test_unreachable_endpoint_is_a_quick_clear_error():
    port = free_port()  # nothing listens there
    t0 = time.perf_counter()
    with pytest.raises(RunnerError, match=f"cannot reach an OpenAI-compatible server at http://127.0.0.1:{port}/v1"):
        OpenAIRunner(None, f"http://127.0.0.1:{port}/v1", api_key=KEY)
    assert time.perf_counter() - t0 < 2


def test_wrong_api_key_is_named_without_echoing_it(endpoint):
    with pytest.raises(RunnerError, match="401") as err:
        OpenAIRunner(None, endpoint, api_key="wrong-key-777")
    assert "wrong-key-777" not in str(err.value)


class NoLogprobsServer(BaseHTTPRequestHandler):
    """A misbehaving server: answers completions, never with logprobs, and has no tokenize endpoint."""

    ROUTES = {"/v1/models": {"object": "list", "data": [{"id": "stub-model", "owned_by": "stub"}]},
              "/v1/completions": {"choices": [{"text": " A", "index": 0, "logprobs": None, "finish_reason": "length"}],
                                  "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}}

    def do_GET(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        data = json.dumps(self.ROUTES.get(self.path, {"detail": "Not Found"})).encode()
        self.send_response(200 if self.path in self.ROUTES else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_server_without_logprobs_says_to_use_generate():
    stub = ThreadingHTTPServer(("127.0.0.1", 0), NoLogprobsServer)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    r = OpenAIRunner(None, f"http://127.0.0.1:{stub.server_address[1]}/v1")
    try:
        with pytest.raises(RunnerError, match="--method generate"):
            r.score_choices(cyclic("mobile-mmlu", "Which app shows a map?")[:1])
        assert r.info.settings["server_logprobs"] is False
        assert r.info.settings["logit_bias"] == "none: the server has no tokenize endpoint"
        assert r.info.settings["served_model"] == "stub-model"
    finally:
        r.close()
        stub.shutdown()


class BrokenStreamServer(NoLogprobsServer):
    """Streams a 200 whose events are an error (BODY "error") or nothing at all (BODY "")."""

    BODY = ""

    def do_POST(self):
        if self.path != "/v1/completions":
            return self.do_GET()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        data = (b'data: {"choices": [{"text": " Par", "index": 0}]}\n\n'
                b'data: {"error": {"message": "slot 0 crashed"}}\n\n' if self.BODY == "error" else b"")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.mark.parametrize("body, message", [("error", "failed mid-answer: .*slot 0 crashed"),
                                           ("", "ended the stream without an answer")])
def test_a_broken_stream_is_an_error_not_an_empty_answer(body, message):
    handler = type("Broken", (BrokenStreamServer,), {"BODY": body})
    stub = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    r = OpenAIRunner(None, f"http://127.0.0.1:{stub.server_address[1]}/v1")
    try:
        with pytest.raises(RunnerError, match=message):
            r.generate([GenerateRequest(prompt="Capital of France?", max_tokens=4)])
    finally:
        r.close()
        stub.shutdown()


cli = CliRunner()


def run_dir(root: Path) -> Path:
    (d,) = [p for p in root.iterdir() if p.is_dir()]
    return d


def test_cli_end_to_end_records_a_remote_run_without_the_key(endpoint, tmp_path):
    res = cli.invoke(app, ["run", "--runner", "openai", "--endpoint", endpoint, "--api-key", KEY, "--limit", "4",
                           "--output-dir", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    d = run_dir(tmp_path)
    result = json.loads((d / "result.json").read_text())
    assert result["status"] == "complete" and result["task"]["scores"]["n_questions"] == 4
    assert result["model"]["source"] == "remote"
    assert "client process only" in result["memory"]["peak_rss"]["note"]
    energy = result["energy"]["energy"]
    assert energy["value"] is None and endpoint in json.dumps(energy)
    assert result["runner"]["name"] == "openai" and result["runner"]["settings"]["endpoint"] == endpoint
    for f in d.rglob("*"):
        if f.is_file():
            assert KEY not in f.read_text(errors="replace"), f


def test_server_killed_mid_run_keeps_finished_questions_and_resumes(smollm2_path, tmp_path):
    port = free_port()
    ep = f"http://127.0.0.1:{port}/v1"
    log = tmp_path / "server.log"
    server = start_server(smollm2_path, port, log)
    args = ["run", "--runner", "openai", "--endpoint", ep, "--limit", "12", "--output-dir", str(tmp_path / "runs"), "-q"]
    env = {**os.environ, "MOBEVAL_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    client = subprocess.Popen([sys.executable, "-m", "mobeval", *args], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        t0 = time.time()
        while not list((tmp_path / "runs").glob("*/samples.jsonl")) or \
                len(next((tmp_path / "runs").glob("*/samples.jsonl")).read_text().splitlines()) < 8:
            assert client.poll() is None and time.time() - t0 < 60, client.communicate()
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        out, err = client.communicate(timeout=60)
    finally:
        stop(server)
        if client.poll() is None:
            client.kill()
    assert client.returncode == 1 and "error:" in err and "Traceback" not in err, err
    assert "failed 4 time(s)" in err  # retried with backoff before giving up
    d = run_dir(tmp_path / "runs")
    kept = [json.loads(line) for line in (d / "samples.jsonl").read_text().splitlines()]
    assert 8 <= len(kept) < 48 and len(kept) % 4 == 0  # whole questions only

    server = start_server(smollm2_path, port, log)
    try:
        res = cli.invoke(app, args + ["--resume"], env={"MOBEVAL_API_KEY": KEY})
    finally:
        stop(server)
    assert res.exit_code == 0, res.output + repr(res.exception)
    samples = [json.loads(line) for line in (d / "samples.jsonl").read_text().splitlines()]
    assert samples[: len(kept)] == kept
    assert len({(s["question_id"], s["ordering"]) for s in samples}) == len(samples) == 48
    assert json.loads((d / "result.json").read_text())["status"] == "complete"
