"""Rows of benchmark data, each with the row number a user would look up: local files or the hub.

Every value comes back as a string: None and NaN as "", lists and dicts as JSON.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterator, Sequence

from mobeval.errors import DataError

Row = tuple[int, dict[str, str]]
EXTENSIONS = (".csv", ".jsonl", ".parquet")


def cell_text(value: Any) -> str:
    """A cell as text: None/NaN -> "", lists and dicts as JSON, the rest str()."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_table(path: Path, header: bool = True, names: Sequence[str] | None = None) -> list[Row]:
    """(row number, {column: text}) for each row of a .csv, .jsonl or .parquet file.

    Row numbers are what a user sees: the line a CSV record starts on (the header is line 1),
    the line of a JSONL object, the 1-based index of a parquet row. A headerless CSV takes its
    column names from `names` (else "0", "1", ...); a short row lacks the columns it has no value for.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return list(_csv_rows(path, header, names))
        if suffix == ".jsonl":
            return list(_jsonl_rows(path))
        if suffix == ".parquet":
            return _parquet_rows(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    raise DataError(f"{path}: unknown file type {suffix or '(none)'!r}; expected {', '.join(EXTENSIONS)}")


def _csv_rows(path: Path, header: bool, names: Sequence[str] | None) -> Iterator[Row]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        end = 0  # last line of the previous record: a record starts on the line after it
        try:
            for values in reader:
                start, end = end + 1, reader.line_num
                if not values:  # blank line
                    continue
                if header:  # the header row; `names`, when given, replace it
                    names, header = names or [v.strip() for v in values], False
                    continue
                keys = names if names is not None else [str(i) for i in range(len(values))]
                yield start, dict(zip(keys, values))
        except csv.Error as exc:
            raise DataError(f"{path}, row {reader.line_num}: malformed CSV: {exc}") from exc


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, row {n}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
            if not isinstance(obj, dict):
                raise DataError(f"{path}, row {n}: expected a JSON object, got {type(obj).__name__}")
            yield n, {str(k): cell_text(v) for k, v in obj.items()}


def _parquet_rows(path: Path) -> list[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        records = pq.read_table(path).to_pylist()
    except pa.ArrowException as exc:
        raise DataError(f"{path}: not a readable parquet file: {exc}") from exc
    return [(n, {str(k): cell_text(v) for k, v in r.items()}) for n, r in enumerate(records, start=1)]


def read_hub(repo: str, config: str | None, split: str, way_out: str) -> tuple[list[Row], str]:
    """Rows of a Hugging Face dataset (1-based row numbers) and its source name "hf:repo/config/split".

    Any failure (no network, no `datasets`) becomes a DataError naming the dataset and `way_out`.
    """
    source = f"hf:{repo}/{config}/{split}" if config else f"hf:{repo}/{split}"
    try:
        import datasets

        args = (repo, config) if config else (repo,)
        table = datasets.load_dataset(*args, split=split)
        records = table.to_list()
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the way out is the same
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(
            f"could not load {repo} from the Hugging Face hub ({type(exc).__name__}: {reason}); "
            f"{way_out}"
        ) from exc
    return [(n, {str(k): cell_text(v) for k, v in r.items()}) for n, r in enumerate(records, start=1)], source
