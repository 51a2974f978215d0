"""A run's configuration: defaults, then a YAML file (--config), then command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mobeval.benchmarks import DEFAULT_BENCH
from mobeval.errors import MobevalError
from mobeval.models import DEFAULT_MODEL
from mobeval.orderings import validate_spec


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None  # None: the bundled default for local runners, the server's model for remote ones
    bench: str = DEFAULT_BENCH
    runner: str = "llama.cpp"
    data: Path | None = None
    answers: Path | None = None
    shots: int = 0
    columns: dict[str, str] = {}
    subjects: list[str] = []
    template: str | dict[str, str] | None = None  # None: the benchmark's default
    method: Literal["logprob", "generate"] = "logprob"
    max_tokens: int = 5
    chat: bool = False
    orderings: str = "cyclic"
    limit: int | None = None
    seed: int = 0
    n_threads: int | None = None
    n_ctx: int = 2048
    n_batch: int = 512
    # transformers runner: weights' dtype; tokens run per forward pass (prompts packed, see runners/packing)
    torch_dtype: Literal["float32", "bfloat16", "float16"] | None = None
    batch_tokens: int | None = Field(default=None, ge=1)
    # remote runners (an OpenAI-compatible server); the key is never written to results or logs
    endpoint: str | None = None
    api_key: str | None = Field(default=None, exclude=True, repr=False)
    concurrency: int | None = None
    request_timeout: float | None = None
    # energy: auto = every real counter found (RAPL, NVML); estimate = an estimate beside them;
    # android = a phone's battery over adb; off = none
    energy: Literal["auto", "estimate", "android", "off"] = "auto"
    watts_per_core: float = 4.0  # the stated assumption behind --energy estimate
    android_serial: str | None = None
    idle_seconds: float = 2.0  # idle power window before the run, where a real counter exists
    output_dir: Path = Path("results")

    @field_validator("orderings")
    @classmethod
    def _orderings(cls, v: str) -> str:
        return validate_spec(v)

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODEL

    def runner_settings(self) -> dict[str, Any]:
        """Every runner setting; make_runner passes each runner those its constructor takes."""
        return {
            "endpoint": self.endpoint, "api_key": self.api_key, "concurrency": self.concurrency,
            "request_timeout": self.request_timeout, "n_threads": self.n_threads, "n_ctx": self.n_ctx,
            "n_batch": self.n_batch, "chat": self.chat, "seed": self.seed, "torch_dtype": self.torch_dtype,
            "batch_tokens": self.batch_tokens,
        }


def load_config(path: Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Defaults < YAML file < flags given on the command line (None means not given)."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise MobevalError(f"--config {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise MobevalError(f"--config {path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise MobevalError(f"--config {path}: expected a mapping of settings")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RunConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MobevalError(f"invalid run configuration: {problems}") from exc
