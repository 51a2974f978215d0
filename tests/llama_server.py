"""The tests' real llama-cpp-python server on a loopback port (mobeval.text.runners.local_server), with an API key."""

from pathlib import Path

from mobeval.text.runners.local_server import LocalServer, free_port
from mobeval.text.runners.local_server import start_server as _start

KEY = "secret123"

__all__ = ["KEY", "free_port", "start_server", "stop"]


def start_server(model: Path, port: int, log: Path) -> LocalServer:
    return _start(model, log, port=port, n_ctx=1024, threads=2, api_key=KEY, timeout_s=60)


def stop(server: LocalServer) -> None:
    server.stop()
