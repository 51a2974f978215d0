"""Rows of benchmark data, each with the row number a user would look up: local files or the hub.

Every value comes back as a string: None and NaN as "", lists and dicts as JSON. Nothing is read
loosely: a file that is not UTF-8, a CSV row with more values than the header, a column named twice
and a CSV quote left open are errors naming the file and row.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from mobeval.core.errors import DataError

Row = tuple[int, dict[str, str]]
EXTENSIONS = (".csv", ".jsonl", ".parquet")


class Table(list[Row]):
    """Rows, and the file's columns where it names them (a CSV header, a parquet schema): a column
    that no row has a value for (every row short) is still a column of the file."""

    def __init__(self, rows: Iterable[Row] = (), columns: Sequence[str] | None = None):
        super().__init__(rows)
        self.columns = tuple(columns) if columns is not None else None


def columns_of(rows: Sequence[Row]) -> list[str]:
    """The columns of `rows`: those the file names, else every key any row has, in first-seen order."""
    if isinstance(rows, Table) and rows.columns is not None:
        return list(rows.columns)
    return list(dict.fromkeys(k for _, row in rows for k in row))


def cell_text(value: Any) -> str:
    """A cell as text: None/NaN -> "", lists and dicts as JSON, the rest str()."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_table(path: Path, header: bool = True, names: Sequence[str] | None = None) -> Table:
    """(row number, {column: text}) for each row of a .csv, .jsonl or .parquet file.

    Row numbers are what a user sees: the line a CSV record starts on (the header is line 1),
    the line of a JSONL object, the 1-based index of a parquet row. A headerless CSV takes its
    column names from `names` (else "0", "1", ...); a short row lacks the columns it has no value
    for, and a row with more values than there are names is an error.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise DataError(f"{path}: unknown file type {suffix or '(none)'!r}; expected {', '.join(EXTENSIONS)}")
    try:
        if suffix == ".parquet":
            return _parquet_rows(path)
        text = utf8_text(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if suffix == ".csv":
        return _csv_table(path, text, header, names)
    return Table(_jsonl_rows(path, text))


def utf8_text(path: Path) -> str:
    """The file's text, a leading byte-order mark dropped; not UTF-8: an error naming the line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not UTF-8 text: row {line} holds byte 0x{raw[exc.start]:02x} ({exc.reason}); "
            "the file's encoding is not UTF-8: save it as UTF-8"
        ) from exc


def _check_names(path: Path, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears more than once in the header")
        seen.add(name)


def _csv_table(path: Path, text: str, header: bool, names: Sequence[str] | None) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    end = 0  # last line of the previous record: a record starts on the line after it
    try:
        for values in reader:
            start, end = end + 1, reader.line_num
            if not values:  # blank line
                continue
            if header:  # the header row; `names`, when given, replace it
                names, header = names or [v.strip() for v in values], False
                _check_names(path, names)
                continue
            if names is None:
                rows.append((start, {str(i): v for i, v in enumerate(values)}))
                continue
            if len(values) > len(names):
                raise DataError(
                    f"{path}, row {start}: {len(values)} values but {len(names)} columns "
                    f"({', '.join(map(repr, names))}); a value holding a comma must be quoted")
            rows.append((start, dict(zip(names, values))))
    except csv.Error as exc:
        raise DataError(f"{path}, row {reader.line_num}: malformed CSV: {exc}") from exc
    return Table(rows, names)


def _unique_keys(path: Path, n: int):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            twice = next(k for k in keys if keys.count(k) > 1)
            raise DataError(f"{path}, row {n}: key {twice!r} appears more than once")
        return dict(pairs)
    return hook


def json_lines(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a JSONL file. Lines end at \\n, \\r or \\r\\n only (a
    U+2028 or U+0085 inside a string is text, not a line end); a key twice in one object, invalid JSON and
    nesting too deep to read are DataErrors naming the file and line."""
    for n, line in enumerate(io.StringIO(text, newline=None), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line, object_pairs_hook=_unique_keys(path, n))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, row {n}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
        except RecursionError:
            raise DataError(f"{path}, row {n}: nested too deeply to read (arrays or objects inside each other "
                            "thousands of levels deep)") from None


def _jsonl_rows(path: Path, text: str) -> Iterator[Row]:
    for n, obj in json_lines(path, text):
        if not isinstance(obj, dict):
            raise DataError(f"{path}, row {n}: expected a JSON object, got {type(obj).__name__}")
        yield n, {str(k): cell_text(v) for k, v in obj.items()}


def _parquet_cell(path: Path, n: int, column: str, value: Any) -> str:
    if isinstance(value, bytes):  # a binary column: text only if it is UTF-8
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}, row {n}: column {column!r} holds bytes that are not UTF-8 text") from None
    return cell_text(value)


def _parquet_rows(path: Path) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        _check_names(path, pq.read_schema(path).names)
        table = pq.read_table(path)
    except pa.ArrowException as exc:
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"{path}: not a readable parquet file: {reason}") from exc
    return Table(((n, {str(k): _parquet_cell(path, n, str(k), v) for k, v in r.items()})
                  for n, r in enumerate(table.to_pylist(), start=1)), table.column_names)


def read_hub(repo: str, config: str | None, split: str, way_out: str) -> tuple[list[Row], str]:
    """Rows of a Hugging Face dataset (1-based row numbers) and its source name "hf:repo/config/split".

    Any failure (no network, no `datasets`: the hub extra) becomes a DataError naming the dataset and `way_out`.
    """
    source = f"hf:{repo}/{config}/{split}" if config else f"hf:{repo}/{split}"
    from mobeval.core.hub import load_hub_dataset

    records = load_hub_dataset(repo, config, split, way_out).to_list()
    return [(n, {str(k): cell_text(v) for k, v in r.items()}) for n, r in enumerate(records, start=1)], source
