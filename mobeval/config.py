"""A run's configuration: defaults, then a YAML file (--config), then command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mobeval.benchmarks import DEFAULT_BENCH
from mobeval.errors import MobevalError
from mobeval.models import DEFAULT_MODEL
from mobeval.orderings import validate_spec


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = DEFAULT_MODEL
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
    output_dir: Path = Path("results")

    @field_validator("orderings")
    @classmethod
    def _orderings(cls, v: str) -> str:
        return validate_spec(v)

    def runner_settings(self) -> dict[str, Any]:
        return {"n_threads": self.n_threads, "n_ctx": self.n_ctx, "n_batch": self.n_batch,
                "chat": self.chat, "seed": self.seed}


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
