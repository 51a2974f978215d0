"""The engine's own timings (llama-server's `timings`): read from recorded llama-server replies, turned
into figures beside the client-side ones, and end to end against a real llama-server where one is
given (MOBEVAL_LLAMA_SERVER=PATH/llama-server; tests/fixtures/http/record_llama_server.py says how the
fixtures were recorded)."""

import json
import os
from pathlib import Path

import pytest

from mobeval.text.task.kind import McqKind
from mobeval.results.store import Segment
from mobeval.text.runners.letters import engine_timings, parse_letters, token_counts
from mobeval.text.samples import Sample

from tests.recorded import fixture


def test_recorded_letter_reply_gives_the_servers_prompt_timing():
    rec = fixture("llama_server_completion")
    reply, t = rec["response"], rec["response"]["timings"]
    timing = engine_timings(reply)
    assert timing.prompt_tokens == t["prompt_n"] and timing.prompt_s == pytest.approx(t["prompt_ms"] / 1000)
    assert timing.decode_tokens == t["predicted_n"] == 1
    prompt, evaluated = token_counts(reply)
    assert evaluated == t["prompt_n"] < prompt == reply["usage"]["prompt_tokens"]  # the rest came from its cache
    scores = parse_letters(reply, rec["continuations"])  # logprobs.content[] with top_logprobs
    assert len(scores.logprobs) == 4 and max(scores.logprobs) < 0


def test_recorded_stream_carries_timings_on_its_last_event():
    events = fixture("llama_server_stream")["events"]
    last = events[-1]
    timing = engine_timings(last)
    assert timing is not None and timing.decode_tokens == last["usage"]["completion_tokens"]
    assert timing.decode_s > 0 and all(engine_timings(e) is None for e in events[:-1] if "timings" not in e)


def test_servers_without_timings_give_none():
    assert engine_timings(fixture("llamacpp_completion_biased")["response"]) is None
    assert engine_timings({"timings": {"prompt_n": 3}}) is None  # partial: not a llama-server timings object


def _sample(i: int, timings: dict | None, ttft: float | None = None) -> Sample:
    return Sample(question_id=f"q{i}", ordering=0, order=(0, 1), choice=0, answer=0, field="f", category="c",
                  prompt_sha256="x", logprobs=(-1.0, -2.0), text=None, prompt_tokens=50, evaluated_tokens=40,
                  latency_s=0.5, ttft_s=ttft, generated_tokens=None if ttft is None else 9, engine_timings=timings)


SEGMENT = Segment(started_at="t0", finished_at="t1", questions=3, load_time_s=1.0, eval_time_s=2.0, wall_time_s=3.0,
                  baseline_rss_bytes=1, peak_rss_bytes=2, rss_samples=1, energy=[])


def test_engine_figures_are_sums_over_sums():
    t = lambda pn, ps, dn, ds: {"prompt_tokens": pn, "prompt_s": ps, "decode_tokens": dn, "decode_s": ds}  # noqa: E731
    scored = [_sample(0, t(40, 0.2, 1, 0.001)), _sample(1, t(20, 0.1, 1, 0.001)), _sample(2, None)]
    figs = McqKind().performance(scored)
    assert figs["engine_prompt_tokens_per_s"].value == pytest.approx(60 / 0.3)
    assert figs["engine_prompt_tokens_per_s"].count == 2
    assert "engine_decode_tokens_per_s" not in figs  # letter scoring decodes nothing worth a speed
    generated = [_sample(0, t(40, 0.2, 9, 0.09), ttft=0.25), _sample(1, t(40, 0.2, 9, 0.06), ttft=0.25)]
    figs = McqKind().performance(generated)
    assert figs["engine_decode_tokens_per_s"].value == pytest.approx(18 / 0.15)
    assert "engine_prompt_tokens_per_s" not in McqKind().performance([_sample(0, None)])


LLAMA_SERVER = os.environ.get("MOBEVAL_LLAMA_SERVER")


@pytest.mark.skipif(not LLAMA_SERVER, reason="no llama-server binary given: set MOBEVAL_LLAMA_SERVER=PATH/llama-server")
def test_a_real_llama_server_end_to_end(smollm2_path, tmp_path):
    """mobeval run --runner openai against llama.cpp's own server: the letters it scores match in-process
    llama.cpp, and the result carries the server's own prompt speed. Flash attention off, as in process:
    llama-server's default (auto, on here) moved letter log-probabilities by up to 0.65 on 20 bundled
    questions (same choices); off, by 1.3e-4."""
    from typer.testing import CliRunner

    from mobeval.cli import app
    from mobeval.text.runners.local_server import start_server

    args = ["run", "--limit", "6", "--orderings", "cyclic", "--idle-seconds", "0", "-q"]
    cli = CliRunner()
    with start_server(smollm2_path, tmp_path / "server.log", binary=Path(LLAMA_SERVER),
                      extra_args=["--flash-attn", "off"]) as server:
        res = cli.invoke(app, args + ["--runner", "openai", "--endpoint", server.base_url,
                                      "--output-dir", str(tmp_path / "http")])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, args + ["--output-dir", str(tmp_path / "local")])
    assert res.exit_code == 0, res.output
    runs = {k: next((tmp_path / k).iterdir()) for k in ("http", "local")}
    result = json.loads((runs["http"] / "result.json").read_text())
    assert result["performance"]["engine_prompt_tokens_per_s"]["value"] > 0
    assert result["runner"]["settings"]["letters_floored"] >= 0
    samples = {k: [json.loads(line) for line in (d / "samples.jsonl").read_text().splitlines()]
               for k, d in runs.items()}
    pairs = list(zip(samples["http"], samples["local"]))
    assert len(pairs) == 24 and all(a["choice"] == b["choice"] for a, b in pairs)
    assert max(abs(x - y) for a, b in pairs for x, y in zip(a["logprobs"], b["logprobs"])) < 1e-3
