"""The generic mcq loader: CSV, JSONL, parquet, column mappings, its template."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mobeval.core.benchmarks import BenchOptions
from mobeval.text.benchmarks.mcq import load
from mobeval.core.errors import DataError
from mobeval.text.prompts import load_template

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


# Every column is read or refused (issue 11).

def test_eleventh_option_column_is_an_error(tmp_path):
    path = tmp_path / "k.csv"
    letters = "ABCDEFGHIJK"
    path.write_text(f"question,{','.join(letters)}\nQ?,{','.join(letters.lower())}\n")
    with pytest.raises(DataError, match=r"k\.csv: unknown column 'K'; expected .*'J'; map a column with --column"):
        load(BenchOptions(data=path))


def test_option_letters_with_a_gap(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("question,A,B,D,answer\nQ?,a,b,d,C\n")
    with pytest.raises(DataError, match=r"g\.csv: option columns A, B, D skip 'C'"):
        load(BenchOptions(data=path))


def test_extra_column_is_an_error_unless_ignored_by_name(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("question,A,B,answer,explanation\nQ?,a,b,B,because\n")
    with pytest.raises(DataError, match=r"x\.csv: unknown column 'explanation'.*--column ignore=NAME"):
        load(BenchOptions(data=path))
    data = load(BenchOptions(data=path, columns={"ignore": "explanation"}))
    assert [(q.options, q.answer) for q in data.questions] == [(("a", "b"), 1)]


def test_second_default_column_for_a_role_is_not_dropped(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text('{"id": "a", "question_id": "b", "question": "Q?", "choices": ["x", "y"]}\n')
    with pytest.raises(DataError, match=r"two\.jsonl: unknown column 'question_id'"):
        load(BenchOptions(data=path))


def test_answer_format_is_checked_even_without_answers():
    with pytest.raises(DataError, match="answer_format must be 'letter' or 'index', not 'number'"):
        load(BenchOptions(data=FIXTURES / "mcq.csv", columns={"answer_format": "number"}))


def test_an_option_column_mapped_twice(tmp_path):
    with pytest.raises(DataError, match="options 'A,B,a' names a column twice"):
        load(BenchOptions(data=FIXTURES / "mcq.csv", columns={"options": "A,B,a", "ignore": "C"}))


def test_unnamed_column_from_a_trailing_comma(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("question,A,B,\nQ?,a,b,\n")
    with pytest.raises(DataError, match=r"t\.csv: unknown column ''.*a comma at the end of the header"):
        load(BenchOptions(data=path))
