"""The generic mcq loader: CSV, JSONL, parquet, column mappings, its template."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mobeval.benchmarks import BenchOptions
from mobeval.benchmarks.mcq import load
from mobeval.errors import DataError
from mobeval.prompts import load_template

FIXTURES = Path(__file__).parent / "fixtures"
JSONL_MAP = {"id": "qid", "question": "prompt", "choices": "choices", "answer": "label",
             "answer_format": "index", "field": "topic"}


def test_csv_with_default_columns():
    data = load(BenchOptions(data=FIXTURES / "mcq.csv"))
    assert [(q.id, q.options, q.answer, q.field) for q in data.questions] == [
        ("m1", ("Blue", "Green", "Red"), 0, ""),
        ("m2", ("Six", "Eight", "Ten"), 1, "biology"),
        ("m3", ("3", "4", "5"), 1, "math"),
    ]
    assert data.default_template == "mcq" and data.sources == [str(FIXTURES / "mcq.csv")]


def test_jsonl_with_choices_list_and_index_answers():
    data = load(BenchOptions(data=FIXTURES / "mcq.jsonl", columns=JSONL_MAP))
    assert [(q.id, len(q.options), q.answer, q.field) for q in data.questions] == [
        ("j1", 5, 2, "math"), ("j2", 2, 1, "biology"), ("j3", 3, None, "language")]
    assert data.questions[1].source == f"{FIXTURES / 'mcq.jsonl'}, row 3"


def test_parquet_with_options_mapping_and_row_number_ids(tmp_path):
    path = tmp_path / "q.parquet"
    pq.write_table(pa.table({"text": ["Q1?", "Q2?"], "o1": ["x", "y"], "o2": ["z", "w"], "key": ["B", "a"]}), path)
    data = load(BenchOptions(data=path, columns={"question": "text", "options": "o1, o2", "answer": "key"}))
    assert [(q.id, q.options, q.answer) for q in data.questions] == [("1", ("x", "z"), 1), ("2", ("y", "w"), 0)]


def test_mcq_prompt():
    data = load(BenchOptions(data=FIXTURES / "mcq.csv"))
    template = load_template(None, data.default_template)
    assert data.prompt(template, data.questions[2], (0, 1, 2)) == (
        "Answer the following multiple choice question with the letter of the correct answer.\n\n"
        "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nAnswer:"
    )
    assert template.continuations(3) == (" A", " B", " C")


def test_mapping_errors(tmp_path):
    with pytest.raises(DataError, match="unknown key"):
        load(BenchOptions(data=FIXTURES / "mcq.csv", columns={"questions": "question"}))
    with pytest.raises(DataError, match=r"mcq\.csv: missing column 'prompt'"):
        load(BenchOptions(data=FIXTURES / "mcq.csv", columns={"question": "prompt"}))
    with pytest.raises(DataError, match="give --data FILE"):
        load(BenchOptions())


def test_bad_choices_cell(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('question,choices\nQ?,"[""a"", ""b""]"\nR?,not a list\n')
    with pytest.raises(DataError, match=r"c\.csv, row 3: choices 'not a list' is not a list"):
        load(BenchOptions(data=path))


def test_answers_file_applies(tmp_path):
    key = tmp_path / "key.csv"
    key.write_text("question_id,answer\nm1,C\n")
    data = load(BenchOptions(data=FIXTURES / "mcq.csv", answers=key))
    assert [q.answer for q in data.questions] == [2, 1, 1]
