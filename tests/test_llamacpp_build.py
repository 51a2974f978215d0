"""The llama.cpp build guard: hazards read from real system-info lines, a real child process killed by a real
illegal instruction, the fallback without extra buffer types, and the error with the rebuild command."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mobeval.core.errors import RunnerError
from mobeval.text.runners import llamacpp_build as guard

X86 = platform.machine().lower() in ("x86_64", "amd64")

# llama_print_system_info() of llama-cpp-python 0.3.36 built natively on an AMD EPYC (Zen 3) and on an Intel
# Xeon of the Sapphire Rapids class (the AMX line is what issue 10 reported).
AMD_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
            "OPENMP = 1 | REPACK = 1 | ")
XEON_AMX_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                 "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
                 "OPENMP = 1 | REPACK = 1 | ")
ZEN3_FLAGS = set("fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi1 bmi2 vaes".split())
SPR_FLAGS = ZEN3_FLAGS | set("avx_vnni avx512f avx512bw avx512vbmi avx512_vnni avx512_bf16 amx_tile amx_int8 "
                             "amx_bf16".split())

# Executes ud2 (x86), the instruction defined to raise #UD: the process dies of SIGILL, as a build with an
# instruction the CPU cannot run does.
ILLEGAL_INSTRUCTION = textwrap.dedent("""
    import ctypes, mmap
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(b"\\x0f\\x0b")
    ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
""")
UD2 = [sys.executable, "-c", ILLEGAL_INSTRUCTION]


def test_system_info_parsed_into_features():
    f = guard.parse_system_info(XEON_AMX_INFO)
    assert f["AMX_INT8"] == "1" and f["AVX512"] == "1" and f["SSE3"] == "1" and "CPU" not in f


def test_no_hazard_for_a_native_build_on_its_own_cpu():
    assert guard.hazards(AMD_INFO, ZEN3_FLAGS) == [] if X86 else True
    assert guard.hazards(XEON_AMX_INFO, set()) == []  # no flags known: nothing claimed


@pytest.mark.skipif(not X86, reason="x86 ISA flags")
def test_amx_build_on_an_amx_cpu_is_a_hazard():
    found = guard.hazards(XEON_AMX_INFO, SPR_FLAGS)
    assert [h.kind for h in found] == ["amx"]


@pytest.mark.skipif(not X86, reason="x86 ISA flags")
def test_a_build_from_a_newer_cpu_is_a_missing_isa_hazard():
    found = guard.hazards(XEON_AMX_INFO, ZEN3_FLAGS)
    assert {h.kind for h in found} == {"missing-isa"}
    assert "AVX512" in found[0].detail and "avx512f" in found[0].detail


@pytest.mark.skipif(not X86, reason="ud2 is an x86 instruction")
def test_probe_reports_a_child_killed_by_an_illegal_instruction():
    outcome = guard.run_probe(UD2)
    assert not outcome.ok and outcome.signal == "SIGILL"
    assert "illegal instruction" in outcome.describe()


def test_probe_reports_a_failing_child_without_a_signal():
    outcome = guard.run_probe([sys.executable, "-c", "import sys; sys.exit('no model here')"])
    assert not outcome.ok and outcome.signal is None and "no model here" in outcome.describe()


@pytest.mark.skipif(not X86, reason="ud2 is an x86 instruction")
def test_amx_crash_falls_back_to_no_extra_buffer_types(smollm2_path):
    """The AMX path dies (ud2 stands in for it); the real probe without extra buffer types passes on the
    bundled model, so the run goes on without them and says so."""
    calls = []

    def probe(extra: bool):
        calls.append(extra)
        return guard.run_probe(UD2 if extra else guard.probe_argv(smollm2_path, 1, use_extra_bufts=False))

    verdict = guard.decide(guard.hazards(XEON_AMX_INFO, SPR_FLAGS), probe)
    assert calls == [True, False]
    assert verdict.use_extra_bufts is False
    assert "SIGILL" in verdict.note and "extra buffer types are off" in verdict.note


@pytest.mark.skipif(not X86, reason="ud2 is an x86 instruction")
def test_crash_with_and_without_extra_buffers_stops_with_the_rebuild_command():
    with pytest.raises(RunnerError) as err:
        guard.decide(guard.hazards(XEON_AMX_INFO, SPR_FLAGS), lambda extra: guard.run_probe(UD2))
    text = str(err.value)
    assert "died with SIGILL" in text
    assert "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" in text
    assert "--no-cache-dir" in text and "--force-reinstall" in text and "llama-cpp-python==0.3.36" in text


@pytest.mark.skipif(not X86, reason="ud2 is an x86 instruction")
def test_without_fallback_an_amx_crash_stops_after_one_probe():
    calls = []

    def probe(extra):
        calls.append(extra)
        return guard.run_probe(UD2)

    with pytest.raises(RunnerError) as err:
        guard.decide(guard.hazards(XEON_AMX_INFO, SPR_FLAGS), probe, fallback=False)
    assert calls == [True] and "MOBEVAL_LLAMA_FALLBACK=off" in str(err.value)
    assert "-mno-amx-tile" in str(err.value)


@pytest.mark.skipif(not X86, reason="ud2 is an x86 instruction")
def test_missing_isa_is_not_retried_and_rebuilds_natively():
    calls = []

    def probe(extra):
        calls.append(extra)
        return guard.run_probe(UD2)

    with pytest.raises(RunnerError) as err:
        guard.decide(guard.hazards(XEON_AMX_INFO, ZEN3_FLAGS), probe)
    assert calls == [True] and "-DGGML_NATIVE=ON" in str(err.value)


def test_a_file_llama_cpp_cannot_load_is_not_called_a_crash(tmp_path):
    """A probe that fails in Python (not a GGUF) is no verdict on the build: the load reports the file."""
    bad = tmp_path / "not.gguf"
    bad.write_bytes(b"not a gguf file at all")
    verdict = guard.decide([guard.Hazard("requested", "test")],
                           lambda extra: guard.run_probe(guard.probe_argv(bad, 1, extra)))
    assert verdict.use_extra_bufts and not verdict.conclusive


def _installed_hazards() -> list[str]:
    import llama_cpp

    return [h.kind for h in guard.hazards(llama_cpp.llama_print_system_info().decode(), guard.cpu_flags())]


def test_real_probe_without_extra_buffer_types_passes_on_the_bundled_model(smollm2_path):
    outcome = guard.run_probe(guard.probe_argv(smollm2_path, 1, use_extra_bufts=False))
    assert outcome.ok, outcome.detail
    assert json.loads(outcome.detail)["use_extra_bufts"] is False


def test_real_probe_with_extra_buffer_types_passes_where_no_hazard_is_known(smollm2_path):
    if _installed_hazards():
        pytest.skip(f"this build has a known hazard on this CPU ({_installed_hazards()}): see the AMX test")
    outcome = guard.run_probe(guard.probe_argv(smollm2_path, 1, use_extra_bufts=True))
    assert outcome.ok, outcome.detail
    assert json.loads(outcome.detail)["use_extra_bufts"] is True


@pytest.mark.skipif(not X86, reason="AMX is x86")
def test_real_amx_build_is_probed_and_run_as_the_probes_say(smollm2_path, monkeypatch, tmp_path):
    """On an Intel Xeon with AMX and a native build (AMX compiled in), the real guard: its verdict follows
    the real probes, and a runner opened under it evaluates a batch and records the setting. On the Xeon
    this was written on (Sapphire Rapids class, KVM, llama-cpp-python 0.3.36) the probe with extra buffer
    types died (SIGSEGV) and the one without passed."""
    if "amx" not in _installed_hazards():
        pytest.skip("needs a llama.cpp built with AMX on a CPU with AMX (an Intel Xeon, Sapphire Rapids or newer)")
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path))
    with_extra = guard.run_probe(guard.probe_argv(smollm2_path, 1, use_extra_bufts=True))
    assert with_extra.ok or with_extra.crashed, with_extra.detail
    verdict = guard.check_build(smollm2_path, 1)
    assert verdict.use_extra_bufts is with_extra.ok
    assert verdict.probes[0].startswith("extra buffer types on: " + with_extra.describe().split(" (")[0])
    from mobeval.text.runners.llamacpp import LlamaCppRunner

    runner = LlamaCppRunner(smollm2_path, n_ctx=256, n_threads=1)
    try:
        assert runner.llm.model_params.use_extra_bufts is verdict.use_extra_bufts
        runner.llm.eval(runner.llm.tokenize(b"A batched prompt of several tokens, as scoring runs it."))
    finally:
        runner.close()


def test_extra_buffer_types_off_reaches_llama_cpp(smollm2_path):
    from mobeval.text.runners.llamacpp_params import open_llama

    llm = open_llama(smollm2_path, use_extra_bufts=False, n_ctx=64)
    try:
        assert llm.model_params.use_extra_bufts is False
    finally:
        llm.close()
    llm = open_llama(smollm2_path, n_ctx=64)
    try:
        assert llm.model_params.use_extra_bufts is True
    finally:
        llm.close()


def test_always_probes_once_and_caches_the_verdict(smollm2_path, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBEVAL_LLAMA_PROBE", "always")
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path))
    verdict = guard.check_build(smollm2_path, 1)
    if _installed_hazards():  # a real hazard here (an AMX Xeon): that is what is probed
        assert [h.split(":")[0] for h in verdict.hazards] == _installed_hazards() and verdict.probes
    else:
        assert verdict.use_extra_bufts and verdict.hazards == ("requested: MOBEVAL_LLAMA_PROBE=always",)
    cache = json.loads((tmp_path / "llama_probe.json").read_text())
    assert len(cache) == 1
    assert guard.check_build(smollm2_path, 1) == verdict  # from the cache: same verdict, no child


@pytest.mark.skipif(not X86, reason="ud2 is an x86 instruction")
@pytest.mark.slow
def test_mobeval_run_stops_with_the_guard_error_when_the_build_crashes(smollm2_path, tmp_path):
    """End to end through `mobeval run`: the probe child dies of a real illegal instruction (a sitecustomize
    on PYTHONPATH executes ud2 in the child only: the guard marks its children MOBEVAL_LLAMA_PROBE=off)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os\nif os.environ.get('MOBEVAL_LLAMA_PROBE') == 'off':\n" + textwrap.indent(ILLEGAL_INSTRUCTION, "    "))
    env = {**os.environ, "PYTHONPATH": str(site), "MOBEVAL_LLAMA_PROBE": "always", "MOBEVAL_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "mobeval", "run", "--limit", "1", "--orderings", "original",
                           "--output-dir", str(tmp_path / "results")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1, done.stderr  # the runtime failed: exit 1
    assert "llama.cpp cannot run on this CPU" in done.stderr and "SIGILL" in done.stderr
    assert "pip install --force-reinstall --no-deps --no-cache-dir" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "llama_probe.json").exists()  # a failure is not cached


def test_environment_records_build_features_and_cpu_isa():
    from mobeval.measure.environment import environment

    env = environment()
    assert env["arch"] == platform.machine()
    if Path("/proc/cpuinfo").exists() and X86:
        assert "avx" in env["cpu_isa"] or "sse" in " ".join(env["cpu_isa"])
    assert env["llama_cpp_features"] and env["llama_cpp_features"].get("SSE3") in ("0", "1") if X86 else True


def test_server_without_extra_buffer_types_answers(smollm2_path, tmp_path):
    """llama-cpp-python's server as the guard starts it on a CPU where extra buffer types crash: through
    mobeval's wrapper, which turns them off for the model the server loads; a real batched prompt answers."""
    import httpx

    from mobeval.text.runners.local_server import server_command, start_server

    cmd = server_command(smollm2_path, 8000, 512, 1, None, None, use_extra_bufts=False)
    assert cmd[1:3] == ["-m", "mobeval.text.runners.llamacpp_server"]
    assert server_command(smollm2_path, 8000, 512, 1, None, None)[1:3] == ["-m", "llama_cpp.server"]
    with start_server(smollm2_path, tmp_path / "server.log", n_ctx=512, threads=1, use_extra_bufts=False) as server:
        reply = httpx.post(f"{server.base_url}/completions", timeout=120,
                           json={"prompt": "The capital of France is", "max_tokens": 2, "temperature": 0})
    assert reply.status_code == 200 and reply.json()["usage"]["prompt_tokens"] > 3


@pytest.mark.skipif(not X86, reason="AMX is x86")
@pytest.mark.slow
def test_mobeval_run_on_a_real_crashing_amx_build_stops_with_the_rebuild_command(smollm2_path, tmp_path):
    """A real crashing build: llama.cpp built natively on an Intel Xeon with AMX, where its AMX path dies.
    With the fallback off, `mobeval run` stops before anything is written, with the guard's error and the
    command that rebuilds llama-cpp-python without AMX; nothing is cached."""
    if "amx" not in _installed_hazards():
        pytest.skip("needs a llama.cpp built with AMX on a CPU with AMX (an Intel Xeon, Sapphire Rapids or newer)")
    if guard.run_probe(guard.probe_argv(smollm2_path, 1, use_extra_bufts=True)).ok:
        pytest.skip("this build's AMX path runs on this machine: nothing crashes here")
    env = {**os.environ, "MOBEVAL_LLAMA_FALLBACK": "off", "MOBEVAL_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "mobeval", "run", "--limit", "1", "--orderings", "original",
                           "--output-dir", str(tmp_path / "results")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert "llama.cpp cannot run on this CPU" in done.stderr and "died with SIG" in done.stderr
    assert "amx: built with AMX_INT8" in done.stderr
    assert guard.rebuild_command({"amx"}) in done.stderr.replace("\n", "")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    assert not (tmp_path / "llama_probe.json").exists()
