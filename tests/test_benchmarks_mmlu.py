"""MMLU in the Hendrycks layout: ids, categories, subjects, k-shot prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobeval.core.benchmarks import BenchOptions
from mobeval.text.benchmarks.mmlu import categories, load
from mobeval.core.errors import DataError
from mobeval.text.prompts import load_template

MMLU = Path(__file__).parent / "fixtures" / "mmlu"


def test_test_questions():
    data = load(BenchOptions(data=MMLU))
    assert [q.id for q in data.questions] == [
        "astronomy/1", "astronomy/2", "astronomy/3", "management/1", "management/2"]
    q = data.questions[1]
    assert (q.field, q.category, q.answer) == ("astronomy", "STEM", 1)
    assert q.question == "Which planet has the most moons, as of 2023?"
    assert data.questions[3].category == "other" and data.shots == {} and data.default_template == "mmlu"


def test_category_mapping_is_complete():
    assert len(categories()) == 57
    assert set(categories().values()) == {"STEM", "humanities", "social sciences", "other"}


def test_subjects_filter():
    data = load(BenchOptions(data=MMLU, subjects=("management",)))
    assert {q.field for q in data.questions} == {"management"}
    assert data.sources == [str(MMLU / "test" / "management_test.csv")]
    with pytest.raises(DataError, match="no subject 'anatomy'; available: astronomy, management"):
        load(BenchOptions(data=MMLU, subjects=("anatomy",)))


def test_zero_shot_prompt():
    data = load(BenchOptions(data=MMLU))
    template = load_template(None, data.default_template)
    assert data.prompt(template, data.questions[3], (0, 1, 2, 3)) == (
        "The following are multiple choice questions (with answers) about management.\n\n"
        "Which function of management sets goals?\n"
        "A. Planning\nB. Staffing\nC. Controlling\nD. Leading\n"
        "Answer:"
    )


def test_two_shot_prompt():
    data = load(BenchOptions(data=MMLU, shots=2))
    assert [q.id for q in data.shots["astronomy"]] == ["astronomy/dev/1", "astronomy/dev/2"]
    template = load_template(None, data.default_template)
    assert data.prompt(template, data.questions[0], (1, 0, 2, 3)) == (
        "The following are multiple choice questions (with answers) about astronomy.\n\n"
        "Why is Mars red?\nA. Iron oxide\nB. Copper\nC. Algae\nD. Reflected light from the Sun\nAnswer: A\n\n"
        "What is the largest planet?\nA. Earth\nB. Mars\nC. Jupiter\nD. Venus\nAnswer: C\n\n"
        "What is the closest star to Earth?\nA. The Sun\nB. Proxima Centauri\nC. Sirius\nD. Alpha Centauri A\n"
        "Answer:"
    )


def test_shot_errors(tmp_path):
    too_few = r"management_dev\.csv: 2 dev example\(s\) for 'management', fewer than --shots 3"
    with pytest.raises(DataError, match=too_few):
        load(BenchOptions(data=MMLU, shots=3))
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "x_test.csv").write_text("Q?,a,b,c,d,A\n")
    with pytest.raises(DataError, match="no dev/ folder"):
        load(BenchOptions(data=tmp_path, shots=1))
    with pytest.raises(DataError, match="no test/ folder"):
        load(BenchOptions(data=tmp_path / "test"))


def test_bad_rows(tmp_path):
    (tmp_path / "test").mkdir()
    path = tmp_path / "test" / "x_test.csv"
    path.write_text("Q?,a,b,c,d,A\nR?,a,b,c,d\n")
    with pytest.raises(DataError, match=r"x_test\.csv, row 2: short row: no value for column 'answer'"):
        load(BenchOptions(data=tmp_path))
    path.write_text("Q?,a,b,c,d,A\nR?,a,b,c,d,F\n")
    with pytest.raises(DataError, match=r"x_test\.csv, row 2: answer 'F' is not one of the options A-D"):
        load(BenchOptions(data=tmp_path))


def test_ids_count_records_not_lines_and_errors_name_the_line(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "anatomy_test.csv").write_text(
        '"A question\nover two lines?",a,b,c,d,A\nSecond?,a,b,c,d,B\nThird?,a,b,c,d,Z\n')
    with pytest.raises(DataError, match=r"anatomy_test.csv, row 4"):
        load(BenchOptions(data=tmp_path))
    (tmp_path / "test" / "anatomy_test.csv").write_text('"A question\nover two lines?",a,b,c,d,A\nSecond?,a,b,c,d,B\n')
    assert [q.id for q in load(BenchOptions(data=tmp_path)).questions] == ["anatomy/1", "anatomy/2"]


def test_empty_subject_file_is_an_error_not_a_run_of_nothing(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "anatomy_test.csv").write_text("Q?,a,b,c,d,A\n")
    (tmp_path / "test" / "virology_test.csv").write_text("\n")
    with pytest.raises(DataError, match=r"virology_test\.csv: no questions"):
        load(BenchOptions(data=tmp_path))
    assert len(load(BenchOptions(data=tmp_path, subjects=("anatomy",))).questions) == 1


def test_files_in_test_that_are_not_subject_files(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "anatomy_test.csv").write_text("Q?,a,b,c,d,A\n")
    (tmp_path / "test" / "virology.csv").write_text("R?,a,b,c,d,B\n")
    (tmp_path / "test" / ".DS_Store").write_text("")
    with pytest.raises(DataError, match=r"test: 'virology\.csv' not named <subject>_test\.csv"):
        load(BenchOptions(data=tmp_path))


def test_row_with_an_unquoted_comma(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "x_test.csv").write_text("Q?,a,b,c,d,A\nFirst, then?,a,b,c,d,B\n")
    with pytest.raises(DataError, match=r"x_test\.csv, row 2: 7 values but 6 columns"):
        load(BenchOptions(data=tmp_path))


def test_hub_rows_with_an_unknown_column():
    from mobeval.text.benchmarks.mmlu import _hub_questions

    row = {"question": "Q?", "subject": "anatomy", "choices": '["a", "b"]', "answer": "0"}
    assert [q.id for q in _hub_questions("hf:cais/mmlu/all/test", [(1, row)])["anatomy"]] == ["anatomy/1"]
    with pytest.raises(DataError, match=r"hf:cais/mmlu/all/test: unknown column 'explanation'"):
        _hub_questions("hf:cais/mmlu/all/test", [(1, {**row, "explanation": "x"})])
