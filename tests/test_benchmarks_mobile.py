"""Mobile-MMLU, Mobile-MMLU-Pro and the bundled benchmark: formats, key, hub failure, the exact prompt."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from mobeval.core.benchmarks import BenchOptions, load_benchmark
from mobeval.text.benchmarks import bundled
from mobeval.text.benchmarks.mobile_mmlu import load_mobile_mmlu, load_mobile_mmlu_pro
from mobeval.core.errors import DataError
from mobeval.text.prompts import load_template

FIXTURES = Path(__file__).parent / "fixtures"
FOLDER = FIXTURES / "mobile_mmlu"


@pytest.fixture
def parquet_folder(tmp_path: Path) -> Path:
    """The per-field CSVs converted to parquet files."""
    for csv in sorted(FOLDER.glob("*.csv")):
        pq.write_table(pacsv.read_csv(csv), tmp_path / f"{csv.stem}.parquet")
    return tmp_path


def test_folder_of_per_field_csvs():
    data = load_mobile_mmlu(BenchOptions(data=FOLDER))
    assert [q.id for q in data.questions] == ["acc-1", "acc-2", "acc-3", "ast-1", "ast-2"]
    assert [q.field for q in data.questions] == ["accounting"] * 3 + ["astronomy"] * 2
    assert data.sources == [str(FOLDER / "accounting.csv"), str(FOLDER / "astronomy.csv")]
    assert data.default_template == "mobile-mmlu" and not data.has_key
    q = data.questions[1]
    assert q.options == ("Balance sheet", "Income statement", "Cash ledger", "Audit report")
    assert q.source == f"{FOLDER / 'accounting.csv'}, row 3" and q.category == ""


def test_one_csv_and_parquet_file_and_folder(parquet_folder):
    csv = load_mobile_mmlu(BenchOptions(data=FOLDER / "astronomy.csv")).questions
    one = load_mobile_mmlu(BenchOptions(data=parquet_folder / "astronomy.parquet")).questions
    folder = load_mobile_mmlu(BenchOptions(data=parquet_folder)).questions
    assert [(q.id, q.options, q.field) for q in one] == [(q.id, q.options, q.field) for q in csv]
    assert one[1].source == f"{parquet_folder / 'astronomy.parquet'}, row 2"
    assert len(folder) == 5 and folder[0].field == "accounting"


def test_pro_single_csv_with_field_column_and_odd_case_headers():
    data = load_mobile_mmlu_pro(BenchOptions(data=FIXTURES / "mobile_mmlu_pro.csv"))
    assert [q.field for q in data.questions] == ["computing", "biology", "computing"]
    assert data.questions[0].options == ("4", "8", "16", "32") and data.name == "mobile-mmlu-pro"


def test_answers_file_supplies_the_key():
    data = load_mobile_mmlu(BenchOptions(data=FOLDER, answers=FIXTURES / "answers.csv"))
    assert [q.answer for q in data.questions] == [0, 1, None, None, 2]


def test_answer_column_is_used_and_answers_override(tmp_path):
    path = tmp_path / "keyed.csv"
    path.write_text("question_id,Question,A,B,C,D,Answer\nacc-1,Q?,a,b,c,d,D\nacc-2,R?,a,b,c,d,\n")
    assert [q.answer for q in load_mobile_mmlu(BenchOptions(data=path)).questions] == [3, None]
    key = tmp_path / "key.csv"
    key.write_text("question_id,answer\nacc-1,B\n")
    assert [q.answer for q in load_mobile_mmlu(BenchOptions(data=path, answers=key)).questions] == [1, None]


def test_missing_data_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_mobile_mmlu(BenchOptions(data=tmp_path / "nope"))
    with pytest.raises(DataError, match="no .csv, .jsonl, .parquet files"):
        load_mobile_mmlu(BenchOptions(data=tmp_path))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network: the hub fails fast instead of timing out."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("huggingface_hub.constants", "datasets.config"):  # read at import: patch if imported
        module = sys.modules.get(name)
        for attr in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            if module is not None and hasattr(module, attr):
                monkeypatch.setattr(module, attr, True)


@pytest.mark.parametrize("bench, repo", [
    ("mobile-mmlu", "MBZUAI-LLM/Mobile-MMLU"),
    ("mobile-mmlu-pro", "MBZUAI-LLM/Mobile-MMLU-Pro"),
    ("mmlu", "cais/mmlu"),
])
def test_hub_fails_clearly_offline(offline, bench, repo):
    with pytest.raises(DataError) as err:
        load_benchmark(bench, BenchOptions())
    msg = str(err.value)
    assert repo in msg and "Hugging Face hub" in msg and "--data" in msg and "\n" not in msg


def expected_mobile_prompt(question: str, a: str, b: str, c: str, d: str) -> str:
    return ("Answer the following multiple choice question and provide only letter of the correct answer.\n"
            + question.strip() + "\n" + f"A. {a}\nB. {b}\nC. {c}\nD. {d}\n" + "Answer\uff1a\n")


def test_mobile_mmlu_prompt_byte_for_byte():
    data = load_mobile_mmlu(BenchOptions(data=FOLDER))
    template = load_template(None, data.default_template)
    q = data.questions[0]
    assert q.question == "What does a balance sheet show?  "  # the file's text; the prompt strips it
    a, b, c, d = "Assets and liabilities", "Daily sales", "Employee names", "Stock prices"
    assert data.prompt(template, q, (0, 1, 2, 3)) == expected_mobile_prompt(q.question, a, b, c, d)
    assert data.prompt(template, q, (1, 2, 3, 0)) == expected_mobile_prompt(q.question, b, c, d, a)
    assert template.continuations(4) == ("A", "B", "C", "D")


def test_bundled_reads_like_mobile_mmlu(monkeypatch, tmp_path):
    (tmp_path / "everyday_mobile.csv").write_text(
        "question_id,Question,A,B,C,D,Field,answer\nem-1,Q?,a,b,c,d,phone,C\nem-2,R?,a,b,c,d,apps,A\n")
    monkeypatch.setattr(bundled, "files", lambda package: tmp_path)
    data = load_benchmark("everyday-mobile", BenchOptions())
    assert data.name == "everyday-mobile" and data.default_template == "mobile-mmlu"
    assert [(q.id, q.field, q.answer) for q in data.questions] == [("em-1", "phone", 2), ("em-2", "apps", 0)]
    key = tmp_path / "key.csv"
    key.write_text("question_id,answer\nem-2,D\n")
    assert [q.answer for q in bundled.load(BenchOptions(answers=key)).questions] == [2, 3]


def test_bundled_file_shipped_with_the_package():
    """The issue's floor: at least 150 keyed questions over at least 12 fields, letters balanced."""
    data = bundled.load(BenchOptions())
    qs = data.questions
    assert len(qs) >= 150 and all(q.answer is not None and len(q.options) == 4 for q in qs)
    fields = {q.field for q in qs}
    assert len(fields) >= 12
    assert all(sum(q.field == f for q in qs) >= 10 for f in fields)
    for letter in range(4):  # no letter carries the key: a position-biased model cannot score well
        assert 0.2 <= sum(q.answer == letter for q in qs) / len(qs) <= 0.3
    assert all(len(set(q.options)) == 4 for q in qs)


# Every byte accounted for (issue 11).

def test_option_e_column_is_an_error(tmp_path):
    path = tmp_path / "five.csv"
    path.write_text("question_id,Question,A,B,C,D,E\nq1,Q?,a,b,c,d,e\n")
    with pytest.raises(DataError, match=r"five\.csv: unknown column 'E'; expected .*4 options A-D"):
        load_mobile_mmlu(BenchOptions(data=path))


def test_folder_with_a_file_that_would_go_unread(tmp_path):
    for csv in FOLDER.glob("*.csv"):
        (tmp_path / csv.name).write_bytes(csv.read_bytes())
    (tmp_path / "biology.tsv").write_text("question_id\tQuestion\n")
    (tmp_path / ".hidden.csv").write_text("ignored: hidden")
    with pytest.raises(DataError, match=r"'biology\.tsv' is not \.csv, \.jsonl, \.parquet question files"):
        load_mobile_mmlu(BenchOptions(data=tmp_path))
    (tmp_path / "biology.tsv").unlink()
    (tmp_path / "more").mkdir()
    with pytest.raises(DataError, match=r"'more/' is not"):
        load_mobile_mmlu(BenchOptions(data=tmp_path))


def test_a_file_of_zero_questions_in_a_folder(tmp_path):
    for csv in FOLDER.glob("*.csv"):
        (tmp_path / csv.name).write_bytes(csv.read_bytes())
    (tmp_path / "biology.csv").write_text("question_id,Question,A,B,C,D\n")
    with pytest.raises(DataError, match=r"biology\.csv: no rows"):
        load_mobile_mmlu(BenchOptions(data=tmp_path))
