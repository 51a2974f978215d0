"""An OpenAI-compatible server for a local model on a free loopback port: llama-cpp-python's server, or
llama.cpp's own `llama-server` binary. What the tests and bench/peer_lm_eval.py run `--runner openai`
against; also a quick way to try that runner on one machine before pointing it at a phone."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import httpx

from mobeval.core.errors import RunnerError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalServer:
    proc: subprocess.Popen
    base_url: str  # ends in /v1
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def server_command(model: Path, port: int, n_ctx: int, threads: int, api_key: str | None,
                   binary: Path | None, mmproj: Path | None = None, use_extra_bufts: bool = True) -> list[str]:
    """llama-cpp-python's server (`binary` None) or llama-server at `binary`, on 127.0.0.1:`port`; with
    `mmproj`, a vision model (llama-cpp-python: its libmtmd chat handler, the GGUF's chat template).
    `use_extra_bufts=False` (llama-cpp-python only): llama.cpp's extra buffer types off, as the build guard
    decides on a CPU where they crash."""
    if binary is None:
        server = "llama_cpp.server" if use_extra_bufts else "mobeval.text.runners.llamacpp_server"
        cmd = [sys.executable, "-m", server, "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch",
               str(threads), "--verbose", "False"]
        cmd += ["--chat_format", "mtmd", "--clip_model_path", str(mmproj)] if mmproj else []
        return cmd + (["--api_key", api_key] if api_key else [])
    cmd = [str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--ctx-size",
           str(n_ctx), "--threads", str(threads), "--threads-batch", str(threads), "--parallel", "1"]
    cmd += ["--mmproj", str(mmproj)] if mmproj else []
    return cmd + (["--api-key", api_key] if api_key else [])


def start_server(model: Path, log: Path, port: int | None = None, n_ctx: int = 2048, threads: int = 2,
                 api_key: str | None = None, binary: Path | None = None, extra_args: Sequence[str] = (),
                 timeout_s: float = 120, mmproj: Path | None = None,
                 use_extra_bufts: bool | None = None) -> LocalServer:
    """Start the server, its output appended to `log`, and wait until GET /v1/models answers 200.
    `extra_args` go to the server as they are (for llama-server, `--flash-attn off` gives in-process
    llama.cpp's numerics: its default, auto, turns flash attention on). llama-cpp-python's server goes
    through the build guard first, as the in-process runner does: on a build that crashes on this CPU it
    runs without extra buffer types, or the start stops with the rebuild command (`use_extra_bufts`: the
    guard's decision taken as given)."""
    if binary is None and use_extra_bufts is None:
        from mobeval.text.runners.llamacpp_build import check_build

        use_extra_bufts = check_build(Path(model), threads).use_extra_bufts
    port = port or free_port()
    cmd = server_command(model, port, n_ctx, threads, api_key, binary, mmproj,
                         use_extra_bufts is not False) + list(extra_args)
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise RunnerError(f"cannot start {cmd[0]}: {exc}") from exc
    server = LocalServer(proc, f"http://127.0.0.1:{port}/v1", log)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunnerError(f"the server exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/models", headers=headers, timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RunnerError(f"the server did not answer in {timeout_s:.0f} s: {log.read_text(errors='replace')[-2000:]}")
