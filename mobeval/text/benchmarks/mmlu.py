"""MMLU: the original Hendrycks layout on disk (test/ and dev/ CSVs), or cais/mmlu from the hub."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Sequence

import yaml

from mobeval.text.benchmarks.base import BenchmarkData, BenchOptions
from mobeval.core.tabular import Row, read_hub, read_table
from mobeval.text.benchmarks.validate import (
    cell, check_unique, column_map, make_question, parse_choices, row_error,
)
from mobeval.core.errors import DataError
from mobeval.text.types import Question

COLUMNS = ("question", "A", "B", "C", "D", "answer")  # the files have no header row
HUB_COLUMNS = ("question", "subject", "choices", "answer")
TEST_SUFFIX = "_test.csv"
HUB_REPO = "cais/mmlu"
WAY_OUT = ("use --data DIR with a local copy in the Hendrycks layout "
           "(DIR/test/<subject>_test.csv, and DIR/dev/<subject>_dev.csv for --shots)")


@cache
def categories() -> dict[str, str]:
    """Subject -> supercategory (STEM, humanities, social sciences, other)."""
    text = files("mobeval.text.benchmarks").joinpath("mmlu_categories.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _csv_questions(path: Path, subject: str, id_prefix: str) -> list[Question]:
    """Ids number the records from 1 (as the hub path does); errors name the file line (`n`),
    which differs where a quoted question spans several lines."""
    file = str(path)
    questions = [
        make_question(
            file, n, qid=f"{id_prefix}/{i}", question=cell(file, n, row, "question"),
            options=[cell(file, n, row, c) for c in "ABCD"], answer=cell(file, n, row, "answer"),
            field=subject, category=categories().get(subject, ""),
        )
        for i, (n, row) in enumerate(read_table(path, header=False, names=COLUMNS), start=1)
    ]
    if not questions:
        raise DataError(f"{file}: no questions; an MMLU subject file holds one question per row "
                        "(question,A,B,C,D,answer)")
    return questions


def _select(available: Sequence[str], wanted: Sequence[str], where: str) -> list[str]:
    """The subjects to load: all, or those asked for (each must exist)."""
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise DataError(f"{where}: no subject {', '.join(map(repr, unknown))}; "
                        f"available: {', '.join(available)}")
    return [s for s in available if s in wanted] if wanted else list(available)


def _take_shots(subject: str, examples: list[Question], k: int, where: str) -> list[Question]:
    """The first k dev examples of a subject, each with its answer."""
    if len(examples) < k:
        raise DataError(f"{where}: {len(examples)} dev example(s) for {subject!r}, fewer than --shots {k}")
    for q in examples[:k]:
        if q.answer is None:
            raise DataError(f"{q.source}: a dev example needs an answer")
    return examples[:k]


def _local_shots(data: Path, subjects: list[str], k: int) -> dict[str, list[Question]]:
    dev = data / "dev"
    if not dev.is_dir():
        raise DataError(f"{data}: no dev/ folder, which --shots {k} needs (dev/<subject>_dev.csv)")
    shots = {}
    for s in subjects:
        path = dev / f"{s}_dev.csv"
        if not path.is_file():
            raise DataError(f"{path}: missing, and --shots {k} needs it")
        shots[s] = _take_shots(s, _csv_questions(path, s, f"{s}/dev"), k, str(path))
    return shots


def _load_local(data: Path, opts: BenchOptions) -> BenchmarkData:
    test = data / "test"
    if not test.is_dir():
        raise DataError(f"{data}: no test/ folder; expected the Hendrycks layout DIR/test/<subject>_test.csv")
    entries = sorted(p for p in test.iterdir() if not p.name.startswith("."))
    paths = {p.name[: -len(TEST_SUFFIX)]: p for p in entries if p.is_file() and p.name.endswith(TEST_SUFFIX)}
    others = [p.name for p in entries if p not in paths.values()]
    if others:
        raise DataError(f"{test}: {', '.join(map(repr, others))} not named <subject>{TEST_SUFFIX}; "
                        "test/ must hold only those files")
    if not paths:
        raise DataError(f"{test}: no <subject>_test.csv files")
    subjects = _select(list(paths), opts.subjects, str(test))
    questions = [q for s in subjects for q in _csv_questions(paths[s], s, s)]
    shots = _local_shots(data, subjects, opts.shots) if opts.shots > 0 else {}
    return BenchmarkData("mmlu", questions, "mmlu", [str(paths[s]) for s in subjects], shots)


def _hub_questions(source: str, rows: Sequence[Row], id_infix: str = "") -> dict[str, list[Question]]:
    """Subject -> questions from cais/mmlu rows; ids number the questions within a subject from 1."""
    column_map(source, rows, HUB_COLUMNS, hint="cais/mmlu has changed its columns; " + WAY_OUT)
    out: dict[str, list[Question]] = defaultdict(list)
    for n, row in rows:
        subject = cell(source, n, row, "subject").strip()
        if not subject:
            raise row_error(source, n, "empty subject")
        out[subject].append(make_question(
            source, n, qid=f"{subject}/{id_infix}{len(out[subject]) + 1}",
            question=cell(source, n, row, "question"),
            options=parse_choices(source, n, cell(source, n, row, "choices")),
            answer=cell(source, n, row, "answer"), answer_format="index",
            field=subject, category=categories().get(subject, ""),
        ))
    return out


def _load_hub(opts: BenchOptions) -> BenchmarkData:
    rows, source = read_hub(HUB_REPO, "all", "test", WAY_OUT)
    by_subject = _hub_questions(source, rows)
    subjects = _select(sorted(by_subject), opts.subjects, source)
    questions = [q for s in subjects for q in by_subject[s]]
    sources, shots = [source], {}
    if opts.shots > 0:
        dev_rows, dev_source = read_hub(HUB_REPO, "all", "dev", WAY_OUT)
        dev = _hub_questions(dev_source, dev_rows, "dev/")
        shots = {s: _take_shots(s, dev.get(s, []), opts.shots, dev_source) for s in subjects}
        sources.append(dev_source)
    return BenchmarkData("mmlu", questions, "mmlu", sources, shots)


def load(opts: BenchOptions) -> BenchmarkData:
    """MMLU test questions (field = subject, category = supercategory), with k-shot dev examples."""
    data = _load_local(Path(opts.data), opts) if opts.data is not None else _load_hub(opts)
    if not data.questions:
        raise DataError(f"{', '.join(data.sources)}: no questions")
    check_unique(data.questions)
    return data
