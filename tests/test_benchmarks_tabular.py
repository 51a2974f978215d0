"""Reading rows with the row numbers a user sees: CSV, JSONL, parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mobeval.core.tabular import read_table
from mobeval.core.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_csv_with_header_numbers_rows_by_starting_line(tmp_path):
    rows = read_table(FIXTURES / "mobile_mmlu" / "accounting.csv")
    assert [n for n, _ in rows] == [2, 3, 5]  # acc-2 spans lines 3-4
    assert rows[1][1]["Question"] == "Which statement lists\nincome and expenses?"
    assert rows[0][1]["Question"] == "What does a balance sheet show?  "


def test_csv_bom_blank_lines_and_short_rows(tmp_path):
    path = write(tmp_path / "t.csv", "\ufeffq,a,b\n\nx,1,2\ny,1\n")
    assert read_table(path) == [(3, {"q": "x", "a": "1", "b": "2"}), (4, {"q": "y", "a": "1"})]


def test_csv_headerless_with_names_and_without():
    path = FIXTURES / "mmlu" / "test" / "management_test.csv"
    rows = read_table(path, header=False, names=["question", "A", "B", "C", "D", "answer"])
    assert rows[0][0] == 1 and rows[1][1]["answer"] == "B"
    assert read_table(path, header=False)[0][1]["5"] == "A"


def test_jsonl_line_numbers_and_values():
    rows = read_table(FIXTURES / "mcq.jsonl")
    assert [n for n, _ in rows] == [1, 3, 4]  # line 2 is blank
    assert rows[0][1]["choices"] == '["4", "6", "7", "9", "10"]'
    assert rows[0][1]["label"] == "2" and rows[2][1]["label"] == ""


def test_parquet_rows_are_one_based_and_nulls_empty(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"q": ["a", "b"], "x": [1.5, float("nan")], "y": [None, 3]}), path)
    assert read_table(path) == [(1, {"q": "a", "x": "1.5", "y": ""}), (2, {"q": "b", "x": "", "y": "3"})]


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"a": 1}\n{"a": 2,\n')
    with pytest.raises(DataError, match=r"bad\.jsonl, row 2: not valid JSON"):
        read_table(path)


def test_jsonl_line_that_is_not_an_object(tmp_path):
    with pytest.raises(DataError, match=r"bad\.jsonl, row 1: expected a JSON object"):
        read_table(write(tmp_path / "bad.jsonl", "[1, 2]\n"))


def test_unknown_extension(tmp_path):
    with pytest.raises(DataError, match=r"q\.xlsx: unknown file type '\.xlsx'"):
        read_table(write(tmp_path / "q.xlsx", "x"))


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"missing\.csv: cannot read"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "latin1.csv").write_bytes(b"q\n\xe9t\xe9\n")
    with pytest.raises(DataError, match=r"latin1\.csv: not UTF-8"):
        read_table(tmp_path / "latin1.csv")
    with pytest.raises(DataError, match=r"junk\.parquet: not a readable parquet file"):
        read_table(write(tmp_path / "junk.parquet", "not parquet"))


# Nothing read loosely (issue 11): each of these used to load with values shifted, dropped or replaced.

def test_csv_row_with_more_values_than_the_header(tmp_path):
    path = write(tmp_path / "t.csv", "q,a,b\nx,1,2\nFirst, then second,1,2\n")
    with pytest.raises(DataError, match=r"t\.csv, row 3: 4 values but 3 columns .* must be quoted"):
        read_table(path)


def test_headerless_row_with_more_values_than_names(tmp_path):
    path = write(tmp_path / "x_test.csv", "Q?,a,b,c,d,A\nR, really?,a,b,c,d,B\n")
    with pytest.raises(DataError, match=r"x_test\.csv, row 2: 7 values but 6 columns"):
        read_table(path, header=False, names=["question", "A", "B", "C", "D", "answer"])


def test_column_named_twice(tmp_path):
    with pytest.raises(DataError, match=r"t\.csv: column 'A' appears more than once in the header"):
        read_table(write(tmp_path / "t.csv", "q,A,B,A\nx,1,2,3\n"))
    with pytest.raises(DataError, match=r"t\.jsonl, row 2: key 'A' appears more than once"):
        read_table(write(tmp_path / "t.jsonl", '{"A": "1"}\n{"A": "1", "B": "2", "A": "3"}\n'))
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["x"]), pa.array(["y"])], names=["A", "A"]), path)
    with pytest.raises(DataError, match=r"t\.parquet: column 'A' appears more than once"):
        read_table(path)


def test_open_quote_or_text_after_a_quote(tmp_path):
    with pytest.raises(DataError, match=r"t\.csv, row \d+: malformed CSV: unexpected end of data"):
        read_table(write(tmp_path / "t.csv", 'q,a\nx,"1\ny,2\n'))
    with pytest.raises(DataError, match=r"t\.csv, row 2: malformed CSV"):
        read_table(write(tmp_path / "t.csv", 'q,a\nx,"1"2\n'))


def test_not_utf8_names_the_row_and_the_encoding(tmp_path):
    (tmp_path / "cp1252.csv").write_bytes("q,a\nfine,1\ncaf\u00e9,2\n".encode("cp1252"))
    with pytest.raises(DataError) as err:
        read_table(tmp_path / "cp1252.csv")
    assert "cp1252.csv" in str(err.value) and "row 3" in str(err.value) and "0xe9" in str(err.value)
    assert "encoding is not UTF-8" in str(err.value)
    (tmp_path / "utf16.jsonl").write_text('{"q": "x"}\n', encoding="utf-16")
    with pytest.raises(DataError, match=r"utf16\.jsonl: not UTF-8 text: row 1 .* encoding is not UTF-8"):
        read_table(tmp_path / "utf16.jsonl")


def test_parquet_binary_column_is_text_only_if_utf8(tmp_path):
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"q": pa.array([b"caf\xc3\xa9", b"ok"], pa.binary())}), path)
    assert read_table(path) == [(1, {"q": "caf\u00e9"}), (2, {"q": "ok"})]  # was "b'caf\\xc3\\xa9'"
    pq.write_table(pa.table({"q": pa.array([b"ok", b"caf\xe9"], pa.binary())}), path)
    with pytest.raises(DataError, match=r"b\.parquet, row 2: column 'q' holds bytes that are not UTF-8"):
        read_table(path)
