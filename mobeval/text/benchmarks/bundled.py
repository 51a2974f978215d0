"""everyday-mobile: the benchmark shipped inside the package, read like a Mobile-MMLU CSV."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from mobeval.text.benchmarks.base import BenchmarkData, BenchOptions
from mobeval.text.benchmarks.mobile_mmlu import make_benchmark, read_questions
from mobeval.core.errors import DataError
from mobeval.text.types import Question

DATA_FILE = "everyday_mobile.csv"


def _read_bundled() -> tuple[list[Question], str]:
    resource = files("mobeval.text.bundled").joinpath(DATA_FILE)
    if not resource.is_file():
        raise DataError(f"the bundled data file mobeval/text/bundled/{DATA_FILE} is missing: reinstall mobeval")
    with as_file(resource) as path:
        return read_questions(Path(path)), str(path)


def load(opts: BenchOptions) -> BenchmarkData:
    """The bundled questions (with their key); --answers overrides it as for Mobile-MMLU."""
    questions, source = _read_bundled()
    return make_benchmark("everyday-mobile", questions, [source], opts.answers)
