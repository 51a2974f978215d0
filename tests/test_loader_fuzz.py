"""Property-based fuzz of the loaders (issue 11): random files, written to disk and read by the real loaders.

Each example writes a set of questions as a CSV, JSONL or parquet file in the mcq, MMLU (Hendrycks,
headerless) or Mobile-MMLU layout, then damages it or not: a ragged row, an extra, doubled or
missing column, an unquoted comma, a blank option, blank lines, a byte-order mark, a stray byte,
another encoding, an empty file, a cut parquet file. The file either loads to exactly the questions
written, or fails with a MobevalError naming the file; which one is known from the damage done (an
encoding loads only where its bytes are the same text in UTF-8). Anything else fails the test: another
exception, a silent change of a value, or damage that loads.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from mobeval.core.benchmarks import BenchOptions, load_benchmark
from mobeval.core.errors import MobevalError
from mobeval.text.types import LETTERS

# 60 examples a test keeps the file near 10 s; MOBEVAL_FUZZ_EXAMPLES=2000 searches harder
FUZZ = settings(max_examples=int(os.environ.get("MOBEVAL_FUZZ_EXAMPLES", 60)), deadline=timedelta(seconds=2),
                suppress_health_check=[HealthCheck.too_slow])

TRICKY = [",", '"', '""', "\n", "\r\n", "\r", " ", "\t", "a,b", '"q"', "é", "日本語", "\u2028", "\x85",
          "\x00", "'", "[1, 2]", "{}", "#", "null", "\\", "\U0001F600"]
# any character but surrogates (not encodable) and U+FEFF, which at the start of a file is a BOM
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff")
TEXT = st.lists(st.sampled_from(TRICKY) | st.text(CHARS, min_size=1, max_size=4), min_size=1, max_size=5).map("".join)
NONBLANK = TEXT.filter(lambda s: s.strip() != "")


@dataclass(frozen=True)
class Q:
    """A question as written, and as it must load."""

    id: str
    question: str
    options: tuple[str, ...]
    answer: str  # the letter written ("" for none); may be lower case or padded
    field: str

    def loaded(self, qid: str, default_field: str = "") -> tuple:
        letter = self.answer.strip().upper()
        return (qid, self.question, self.options, LETTERS.index(letter) if letter else None,
                self.field.strip() or default_field)


@st.composite
def questions(draw, n_options: st.SearchStrategy[int], min_size: int = 1) -> list[Q]:
    ids = draw(st.lists(NONBLANK, min_size=min_size, max_size=5, unique_by=lambda s: s.strip()))
    k = draw(n_options)
    out = []
    for qid in ids:
        options = tuple(draw(st.lists(NONBLANK, min_size=k, max_size=k)))
        answer = draw(st.sampled_from(["", *LETTERS[:k], LETTERS[k - 1].lower(), f" {LETTERS[0]} "]))
        out.append(Q(qid, draw(NONBLANK), options, answer, draw(st.sampled_from(["", "math", " bio "]))))
    return out


def loaded(data) -> list[tuple]:
    return [(q.id, q.question, q.options, q.answer, q.field) for q in data.questions]


def check(load, path: Path, expected: list[tuple], must_load: bool) -> None:
    """`load()` gives exactly `expected` (must_load) or raises a MobevalError naming `path`."""
    try:
        got = loaded(load())
    except MobevalError as err:
        event("error")
        assert str(path) in str(err), f"error does not name the file: {err}"
        assert not must_load, f"should have loaded, got: {err}"
        return
    event("loaded")
    assert must_load, f"damaged input loaded: {got}"
    assert got == expected


# --- CSV ------------------------------------------------------------------------------------------

TABLE_DAMAGE = ["none", "blank_lines", "extra_value", "short_row", "extra_column", "duplicate_column",
                "drop_column", "blank_option", "unquoted_comma"]
BYTE_DAMAGE = ["none", "bom", "stray_byte", "cp1252", "latin-1", "utf-16", "empty", "header_only"]


def write_csv(draw, header: list[str] | None, rows: list[list[str]], options: range,
              required: range) -> tuple[bytes, bool]:
    """The file's bytes after one random damage to the table and one to its bytes; and whether it must
    load. `options`: the option columns; `required`: the columns the loader cannot do without."""
    damage = draw(st.sampled_from(TABLE_DAMAGE if header else [d for d in TABLE_DAMAGE if "column" not in d]))
    must_load = damage in ("none", "blank_lines")
    rows = [list(r) for r in rows]
    i = draw(st.integers(0, len(rows) - 1))
    safe = None
    if damage == "extra_value":
        rows[i].append(draw(TEXT))
    elif damage == "short_row":
        rows[i].pop()
    elif damage in ("extra_column", "duplicate_column"):
        header = [*header, "note" if damage == "extra_column" else header[draw(st.integers(0, len(header) - 1))]]
        rows = [[*r, draw(TEXT)] for r in rows]
    elif damage == "drop_column":
        j = draw(st.sampled_from(required))
        header = header[:j] + header[j + 1:]
        rows = [r[:j] + r[j + 1:] for r in rows]
    elif damage == "blank_option":
        rows[i][draw(st.sampled_from(options))] = draw(st.sampled_from(["", " ", "\t"]))
    elif damage == "unquoted_comma":  # a value with a comma, written by hand without quotes
        safe = ",".join(["First, then?" if j == 1 else f"v{j}" for j in range(len(rows[i]))])

    end = draw(st.sampled_from(["\n", "\r\n"]))
    quote_all = draw(st.booleans())

    def record(values: list[str]) -> str:
        """RFC 4180: a value holding a comma, quote, CR or LF in quotes (csv.writer leaves a lone CR
        unquoted where the line ends in LF)."""
        def one(v: str) -> str:
            return '"' + v.replace('"', '""') + '"' if quote_all or any(c in v for c in ',"\r\n') else v
        return ",".join(map(one, values)) + end

    records = [record(r) if not (safe and n == i) else safe + end for n, r in enumerate(rows)]
    if damage == "blank_lines":
        records = [end * draw(st.integers(0, 2)) + r for r in records] + [end * draw(st.integers(0, 2))]
    text = (record(header) if header else "") + "".join(records)

    # damage to the bytes only on an otherwise sound table, so that each damage is seen on its own
    byte_damage = BYTE_DAMAGE if must_load else BYTE_DAMAGE[:2]
    bytes_damage = draw(st.sampled_from(byte_damage if header else [d for d in byte_damage if d != "header_only"]))
    event(f"{damage}, bytes {bytes_damage}")
    if bytes_damage == "empty":
        return b"", False
    if bytes_damage == "header_only":
        return record(header).encode(), False
    raw = text.encode("utf-8")
    if bytes_damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif bytes_damage == "stray_byte":
        at = draw(st.integers(0, len(raw)))
        raw, must_load = raw[:at] + b"\xff" + raw[at:], False
    elif bytes_damage in ("cp1252", "latin-1", "utf-16"):
        try:
            raw = text.encode(bytes_damage)
        except UnicodeEncodeError:
            pass  # not expressible in that encoding: stays UTF-8
        try:
            # bytes of another encoding that happen to be UTF-8 of other text are that text: no
            # loader can tell, so such an example says nothing
            assume(raw.decode("utf-8-sig") == text)
        except UnicodeDecodeError:
            must_load = False
    return raw, must_load


@settings(FUZZ)
@given(st.data(), questions(st.integers(2, 10)))
def test_mcq_csv(data, qs):
    k = len(qs[0].options)
    header = ["id", "question", *LETTERS[:k], "answer", "field"]
    rows = [[q.id, q.question, *q.options, q.answer, q.field] for q in qs]
    # without its id column a file is numbered by row, and without its last option column it is a
    # file of fewer options: both load as what they are, so only the question column is dropped
    raw, must_load = write_csv(data.draw, header, rows, options=range(2, 2 + k), required=range(1, 2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.csv"
        path.write_bytes(raw)
        check(lambda: load_benchmark("mcq", BenchOptions(data=path)), path,
              [q.loaded(q.id.strip()) for q in qs], must_load)


@settings(FUZZ)
@given(st.data(), questions(st.just(4)))
def test_mmlu_csv(data, qs):
    rows = [[q.question, *q.options, q.answer.strip() or "A"] for q in qs]
    raw, must_load = write_csv(data.draw, None, rows, options=range(1, 5), required=range(0, 5))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "test").mkdir()
        path = Path(tmp) / "test" / "anatomy_test.csv"
        path.write_bytes(raw)
        expected = [(f"anatomy/{n}", q.question, q.options, LETTERS.index(q.answer.strip().upper() or "A"),
                     "anatomy") for n, q in enumerate(qs, start=1)]
        check(lambda: load_benchmark("mmlu", BenchOptions(data=Path(tmp))), path, expected, must_load)


@settings(FUZZ)
@given(st.data(), questions(st.just(4)), st.booleans(), st.booleans())
def test_mobile_mmlu_csv(data, qs, with_field, upper):
    names = ["question_id", "Question", "A", "B", "C", "D", "answer", *(["Field"] if with_field else [])]
    header = [n.upper() if upper else n for n in names]
    rows = [[q.id, q.question, *q.options, q.answer, *([q.field] if with_field else [])] for q in qs]
    raw, must_load = write_csv(data.draw, header, rows, options=range(2, 6), required=range(0, 6))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "travel.csv"
        path.write_bytes(raw)
        expected = [Q(q.id, q.question, q.options, q.answer, q.field if with_field else "").loaded(
            q.id.strip(), "travel") for q in qs]
        check(lambda: load_benchmark("mobile-mmlu", BenchOptions(data=path)), path, expected, must_load)


# --- JSONL ----------------------------------------------------------------------------------------

JSONL_DAMAGE = ["none", "blank_lines", "bom", "extra_key", "missing_key", "duplicate_key", "cut_line",
                "not_an_object", "stray_byte", "empty", "raw_unicode"]


@settings(FUZZ)
@given(st.data(), questions(st.integers(2, 10)), st.sampled_from(JSONL_DAMAGE))
def test_mcq_jsonl(data, qs, damage):
    objs = [{"id": q.id, "question": q.question, "choices": list(q.options),
             "answer": LETTERS.index(q.answer.strip().upper()) if q.answer.strip() else None, "field": q.field}
            for q in qs]
    i = data.draw(st.integers(0, len(objs) - 1))
    if damage == "extra_key":
        objs[i]["note"] = data.draw(TEXT)
    elif damage == "missing_key":
        del objs[i][data.draw(st.sampled_from(["question", "choices"]))]
    lines = [json.dumps(o, ensure_ascii=damage != "raw_unicode") for o in objs]
    if damage == "duplicate_key":
        lines[i] = lines[i][:-1] + ', "question": "again?"}'
    elif damage == "cut_line":
        lines[i] = lines[i][: data.draw(st.integers(1, len(lines[i]) - 1))]
    elif damage == "not_an_object":
        lines[i] = json.dumps(list(objs[i].values()))
    if damage == "blank_lines":
        lines = [x for line in lines for x in ([""] * data.draw(st.integers(0, 2)) + [line])]
    raw = "".join(line + "\n" for line in lines).encode("utf-8")
    if damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "stray_byte":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xfe" + raw[at:]
    elif damage == "empty":
        raw = b""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.jsonl"
        path.write_bytes(raw)
        opts = BenchOptions(data=path, columns={"choices": "choices", "answer_format": "index"})
        check(lambda: load_benchmark("mcq", opts), path, [q.loaded(q.id.strip()) for q in qs],
              damage in ("none", "blank_lines", "bom", "raw_unicode"))


# --- parquet --------------------------------------------------------------------------------------

PARQUET_DAMAGE = ["none", "extra_column", "duplicate_column", "drop_column", "null_option", "cut_file"]


@settings(FUZZ)
@given(st.data(), questions(st.just(4)), st.sampled_from(PARQUET_DAMAGE))
def test_mobile_mmlu_parquet(data, qs, damage):
    names = ["question_id", "Question", "A", "B", "C", "D", "answer", "Field"]
    columns = [[q.id for q in qs], [q.question for q in qs], *([q.options[k] for q in qs] for k in range(4)),
               [q.answer for q in qs], [q.field for q in qs]]
    if damage == "extra_column":
        names, columns = [*names, "E"], [*columns, [data.draw(TEXT) for _ in qs]]
    elif damage == "duplicate_column":
        j = data.draw(st.integers(0, len(names) - 1))
        names, columns = [*names, names[j]], [*columns, columns[j]]
    elif damage == "drop_column":
        j = data.draw(st.integers(0, 5))
        names, columns = names[:j] + names[j + 1:], columns[:j] + columns[j + 1:]
    elif damage == "null_option":
        columns[data.draw(st.integers(2, 5))][data.draw(st.integers(0, len(qs) - 1))] = None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "travel.parquet"
        pq.write_table(pa.Table.from_arrays([pa.array(c, pa.string()) for c in columns], names=names), path)
        if damage == "cut_file":
            raw = path.read_bytes()
            path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
        check(lambda: load_benchmark("mobile-mmlu", BenchOptions(data=path)), path,
              [q.loaded(q.id.strip(), "travel") for q in qs], damage == "none")
