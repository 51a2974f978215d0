"""Mobile-MMLU and Mobile-MMLU-Pro: columns question_id, Question, A, B, C, D (+ Field, answer, Category).

Any other column is an error: the loader reads every column it is given, so an option E or a
misspelt Field cannot be dropped unseen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mobeval.text.benchmarks.base import BenchmarkData, BenchOptions
from mobeval.core.tabular import EXTENSIONS, Row, read_hub, read_table
from mobeval.text.benchmarks.validate import apply_answers, cell, check_unique, column_map, make_question
from mobeval.core.errors import DataError
from mobeval.text.types import Question

REQUIRED = ("question_id", "question", "A", "B", "C", "D")
OPTIONAL = ("field", "answer", "category")
WAY_OUT = ("use --data PATH with a local copy (a folder of per-field CSVs, one CSV, "
           "or parquet)")


def questions_from_rows(file: str, rows: Sequence[Row], default_field: str) -> list[Question]:
    """Questions from Mobile-MMLU-style rows; the field is the row's Field, else `default_field`."""
    cols = column_map(file, rows, REQUIRED, OPTIONAL, hint="Mobile-MMLU questions have 4 options A-D; "
                      "remove the other columns, or read the file with --bench mcq")

    def value(n: int, row: dict[str, str], name: str) -> str:
        return cell(file, n, row, cols[name]) if name in cols else ""

    return [
        make_question(
            file, n, qid=value(n, row, "question_id"), question=value(n, row, "question"),
            options=[value(n, row, c) for c in "ABCD"], answer=value(n, row, "answer"),
            field=value(n, row, "field").strip() or default_field, category=value(n, row, "category"),
        )
        for n, row in rows
    ]


def read_questions(path: Path) -> list[Question]:
    """The questions of one CSV / JSONL / parquet file; its name (stem) is the default field."""
    return questions_from_rows(str(path), read_table(path), path.stem)


def data_files(data: Path) -> list[Path]:
    """`data` itself, or the data files directly in that folder, sorted by name.

    Anything else in the folder (a subfolder, a file of another type; hidden files aside) is an
    error: it may hold questions that would otherwise go unread.
    """
    if not data.exists():
        raise DataError(f"{data}: no such file or folder")
    if not data.is_dir():
        return [data]
    entries = sorted(p for p in data.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file() and p.suffix.lower() in EXTENSIONS]
    others = [p.name + ("/" if p.is_dir() else "") for p in entries if p not in files]
    if others:
        raise DataError(f"{data}: {', '.join(map(repr, others))} {'is' if len(others) == 1 else 'are'} not "
                        f"{', '.join(EXTENSIONS)} question files; the folder must hold only those")
    if not files:
        raise DataError(f"{data}: no {', '.join(EXTENSIONS)} files in this folder")
    return files


def make_benchmark(name: str, questions: list[Question], sources: list[str],
                   answers: Path | None) -> BenchmarkData:
    """Check ids, apply an answers file, and wrap the questions with the mobile-mmlu template."""
    if not questions:
        raise DataError(f"{', '.join(sources)}: no questions")
    check_unique(questions)
    return BenchmarkData(name=name, questions=apply_answers(questions, answers),
                         default_template="mobile-mmlu", sources=sources)


def _load(name: str, repo: str, config: str | None, opts: BenchOptions) -> BenchmarkData:
    if opts.data is not None:
        files = data_files(Path(opts.data))
        questions = [q for f in files for q in read_questions(f)]
        return make_benchmark(name, questions, [str(f) for f in files], opts.answers)
    rows, source = read_hub(repo, config, "test", WAY_OUT)
    questions = questions_from_rows(source, rows, config or "")
    return make_benchmark(name, questions, [source], opts.answers)


def load_mobile_mmlu(opts: BenchOptions) -> BenchmarkData:
    """Mobile-MMLU from --data, else from the hub (config "all", split "test")."""
    return _load("mobile-mmlu", "MBZUAI-LLM/Mobile-MMLU", "all", opts)


def load_mobile_mmlu_pro(opts: BenchOptions) -> BenchmarkData:
    """Mobile-MMLU-Pro from --data, else from the hub (split "test")."""
    return _load("mobile-mmlu-pro", "MBZUAI-LLM/Mobile-MMLU-Pro", None, opts)
