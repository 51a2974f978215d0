"""The shared checks: every bad input names its file and row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobeval.core.benchmarks import BenchOptions
from mobeval.text.benchmarks.mcq import load as load_mcq
from mobeval.text.benchmarks.mobile_mmlu import load_mobile_mmlu
from mobeval.text.benchmarks.validate import apply_answers, parse_answer, read_answers
from mobeval.core.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "question_id,Question,A,B,C,D,answer\n"


def mobile(tmp_path: Path, body: str, header: str = HEADER) -> str:
    """Load a one-file Mobile-MMLU CSV; return the DataError message."""
    path = tmp_path / "bad.csv"
    path.write_text(header + body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_mobile_mmlu(BenchOptions(data=path))
    return str(err.value)


def test_missing_columns_are_named(tmp_path):
    msg = mobile(tmp_path, "q1,Why?,a,b,c\n", header="question_id,Question,A,B,C\n")
    assert "bad.csv" in msg and "missing column 'D'" in msg


def test_short_row(tmp_path):
    msg = mobile(tmp_path, "q1,Why?,a,b,c,d,A\nq2,How?,a,b\n")
    assert msg.endswith("bad.csv, row 3: short row: no value for column 'C'")


def test_empty_question_and_option(tmp_path):
    assert "bad.csv, row 2: empty question" in mobile(tmp_path, "q1,  ,a,b,c,d,A\n")
    assert "bad.csv, row 2: option C is empty" in mobile(tmp_path, "q1,Why?,a,b,,d,A\n")


def test_answer_outside_options(tmp_path):
    assert "bad.csv, row 2: answer 'E' is not one of the options A-D" in mobile(tmp_path, "q1,Why?,a,b,c,d,E\n")
    assert "answer_format: index" in mobile(tmp_path, "q1,Why?,a,b,c,d,2\n")


def test_index_answers_are_zero_based():
    assert parse_answer("f", 1, "0", 4, "index") == 0
    assert parse_answer("f", 1, "3.0", 4, "index") == 3
    with pytest.raises(DataError, match=r"f, row 7: answer '4' is outside the options 0-3"):
        parse_answer("f", 7, "4", 4, "index")
    with pytest.raises(DataError, match=r"f, row 7: answer 'B' is not a 0-based option index"):
        parse_answer("f", 7, "B", 4, "index")


def test_duplicate_ids_name_both_rows(tmp_path):
    msg = mobile(tmp_path, "q1,Why?,a,b,c,d,A\nq2,How?,a,b,c,d,B\nq1,What?,a,b,c,d,C\n")
    assert msg == f"{tmp_path / 'bad.csv'}, row 4: duplicate question id 'q1' (also {tmp_path / 'bad.csv'}, row 2)"


def test_option_count_outside_2_to_10(tmp_path):
    path = tmp_path / "few.jsonl"
    path.write_text('{"question": "Why?", "choices": ["only"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"few\.jsonl, row 1: 1 options; a question needs 2 to 10"):
        load_mcq(BenchOptions(data=path))
    eleven = json.dumps([str(i) for i in range(11)])
    path.write_text('{"question": "Why?", "choices": %s}\n' % eleven, encoding="utf-8")
    with pytest.raises(DataError, match=r"few\.jsonl, row 1: 11 options"):
        load_mcq(BenchOptions(data=path))


def test_read_answers():
    assert read_answers(FIXTURES / "answers.csv") == {"acc-1": "A", "acc-2": "B", "ast-2": "C"}


@pytest.mark.parametrize("text, what", [
    ("question_id,key\nacc-1,A\n", "missing column 'answer'"),
    ("question_id,answer\nacc-1,A\nacc-2,5\n", "row 3: answer '5' is not a letter A-J"),
    ("question_id,answer\nacc-1,A\nacc-2,\n", "row 3: answer '' is not a letter"),
    ("question_id,answer\nacc-1,A\nacc-1,B\n", "row 3: duplicate question id 'acc-1' (also row 2)"),
    ("question_id,answer\nacc-1,A\nacc-2\n", "row 3: short row: no value for column 'answer'"),
])
def test_bad_answers_file(tmp_path, text, what):
    path = tmp_path / "key.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_answers(path)
    assert str(path) in str(err.value) and what in str(err.value)


def test_answers_for_unknown_ids_or_outside_options(tmp_path):
    questions = load_mobile_mmlu(BenchOptions(data=FIXTURES / "mobile_mmlu")).questions
    path = tmp_path / "key.csv"
    path.write_text("question_id,answer\nacc-1,A\nnope,B\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"key\.csv, row 3: question id 'nope' is not in the benchmark"):
        apply_answers(questions, path)
    path.write_text("question_id,answer\nacc-1,E\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"key\.csv, row 2: answer 'E' is not one of the options A-D"):
        apply_answers(questions, path)


# Every column is read or refused (issue 11): these used to be dropped without a word.

def test_unknown_column_is_named_with_the_expected_ones(tmp_path):
    msg = mobile(tmp_path, "q1,Why?,a,b,c,d,A,e\n", header="question_id,Question,A,B,C,D,answer,E\n")
    assert msg.startswith(f"{tmp_path / 'bad.csv'}: unknown column 'E'; expected 'question_id', 'question', "
                          "'A', 'B', 'C', 'D', and optionally 'field', 'answer', 'category'")


def test_columns_differing_only_in_case(tmp_path):
    msg = mobile(tmp_path, "q1,Why?,a,b,c,d,A,B\n", header="question_id,Question,A,B,C,D,answer,Answer\n")
    assert "bad.csv: columns 'answer' and 'Answer' differ only in case" in msg


def test_answers_file_with_another_column(tmp_path):
    path = tmp_path / "key.csv"
    path.write_text("question_id,answer,note\nacc-1,A,sure\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"key\.csv: unknown column 'note'; expected 'question_id', 'answer'"):
        read_answers(path)


def test_unquoted_comma_in_a_question_is_not_shifted_into_the_options(tmp_path):
    msg = mobile(tmp_path, "q1,Why?,a,b,c,d,A\nq2,First, then what?,a,b,c,d,B\n")
    assert "bad.csv, row 3: 8 values but 7 columns" in msg


def test_a_column_no_row_reaches_is_still_a_column(tmp_path):
    """Every row short of the last column (found by the fuzz test): its answers must not vanish unseen."""
    assert mobile(tmp_path, "q1,Why?,a,b,c,d\n").endswith("bad.csv, row 2: short row: no value for column 'answer'")
