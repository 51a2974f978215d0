"""MMBench's TSV (`--bench mmbench-tsv --data FILE.tsv`), as OpenCompass and VLMEvalKit distribute it.

Tab-separated, a header row; columns `index`, `question`, `A`, `B`, `image` required, `hint`, `C`, `D`,
`answer`, `category` read when present, any other (`source`, `l2-category`, `split`, `comment`) kept out.
`image` holds the image as base64; a short cell of digits instead names the `index` of the row whose image
it shares (MMBench's files do this). Options run from A to the last non-empty of A-D (an empty cell or
"nan" ends them); `answer` is a letter among them, or empty (the test split has no key). A missing
column, base64 that does not decode to an image, an answer not among the options: a DataError naming
the file and line. Decoded images are written once to the cache (MOBEVAL_CACHE, ~/.cache/mobeval) under
vlm-images/, named by the sha256 of their bytes.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from mobeval.core.tabular import utf8_text
from mobeval.text.benchmarks.validate import check_options, parse_answer, row_error
from mobeval.vlm.benchmarks.images import decode_base64_image, write_once
from mobeval.vlm.benchmarks.items import VlmItem, VlmSet
from mobeval.core.errors import DataError
from mobeval.core.hashing import bytes_sha256, stream_sha256
from mobeval.core.paths import cache_dir

REQUIRED = ("index", "question", "A", "B", "image")
OPTIONAL = ("hint", "C", "D", "answer", "category")
EMPTY = ("", "nan")
MAX_REFERENCE_CHARS = 64  # an image cell this short is a reference to another row's index


def image_cache() -> Path:
    return cache_dir() / "vlm-images"


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    text = utf8_text(path)
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # an image cell is megabytes of base64
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True)
        rows, header, end = [], None, 0
        for values in reader:
            start, end = end + 1, reader.line_num
            if not values:
                continue
            if header is None:
                header = [v.strip() for v in values]
                continue
            rows.append((start, values))
    except csv.Error as exc:
        raise DataError(f"{path}, row {reader.line_num}: malformed TSV: {exc}") from exc
    finally:
        csv.field_size_limit(old)
    if header is None:
        raise DataError(f"{path}: empty file; expected a header row ({', '.join(REQUIRED)}, ...)")
    return header, rows


def _empty(value: str) -> bool:
    return value.strip().lower() in EMPTY


def read_items(path: Path, images_to: Path | None = None) -> list[VlmItem]:
    path, file = Path(path), str(path)
    images_to = images_to or image_cache()
    try:
        header, rows = _rows(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                        f"(columns: {', '.join(map(repr, header))}); MMBench's TSV has {', '.join(REQUIRED + OPTIONAL)}")
    twice = sorted({c for c in header if header.count(c) > 1 and c})
    if twice:
        raise DataError(f"{path}: column {twice[0]!r} appears more than once in the header; which one holds the "
                        "data cannot be told")
    col = {name: header.index(name) for name in REQUIRED + OPTIONAL if name in header}
    parsed: list[tuple[int, dict[str, str]]] = []
    for n, values in rows:
        if len(values) != len(header):
            raise row_error(file, n, f"{len(values)} values but {len(header)} columns (a row cut short, or a tab "
                                     "inside a value)")
        row = {name: values[i] for name, i in col.items()}
        if not row["index"].strip():
            raise row_error(file, n, "empty index")
        parsed.append((n, row))
    by_index = {row["index"].strip(): (n, row) for n, row in parsed}
    items, seen, decoded = [], {}, {}
    for n, row in parsed:
        index = row["index"].strip()
        if index in seen:
            raise row_error(file, n, f"duplicate index {index!r} (also row {seen[index]})")
        seen[index] = n
        items.append(_item(file, n, row, by_index, decoded, images_to))
    if not items:
        raise DataError(f"{path}: no rows after the header")
    return items


def _image_path(file: str, n: int, row: dict[str, str], by_index: dict, decoded: dict, images_to: Path) -> Path:
    cell, where = row["image"].strip(), n
    if len(cell) <= MAX_REFERENCE_CHARS and cell.isdigit():
        if cell not in by_index:
            raise row_error(file, n, f"image column refers to index {cell}, which is not in the file")
        where, other = by_index[cell]
        cell = other["image"].strip()
        if len(cell) <= MAX_REFERENCE_CHARS and cell.isdigit():
            raise row_error(file, n, f"image column refers to index {row['image'].strip()}, whose image is "
                                     f"itself a reference (row {where})")
    if where not in decoded:
        data, ext = decode_base64_image(cell, file, where)
        decoded[where] = write_once(images_to, f"{bytes_sha256(data)}.{ext}", data)
    return decoded[where]


def _item(file: str, n: int, row: dict[str, str], by_index: dict, decoded: dict, images_to: Path) -> VlmItem:
    question = row["question"]
    if _empty(question):
        raise row_error(file, n, "empty question")
    options: list[str] = []
    for letter in "ABCD":
        value = row.get(letter, "")
        if _empty(value):
            break
        options.append(value)
    later = [c for c in "ABCD"[len(options) + 1:] if not _empty(row.get(c, ""))]
    if later:
        raise row_error(file, n, f"option {'ABCD'[len(options)]} is empty but option {later[0]} is not")
    check_options(file, n, options)
    answer = row.get("answer", "")
    answer = "" if _empty(answer) else answer
    return VlmItem(
        id=row["index"].strip(), images=(_image_path(file, n, row, by_index, decoded, images_to),),
        question=question, options=tuple(options), answer=parse_answer(file, n, answer, len(options)),
        hint="" if _empty(row.get("hint", "")) else row["hint"],
        category="" if _empty(row.get("category", "")) else row["category"].strip(), source=f"{file}, row {n}",
    )


def load(options) -> VlmSet:
    """The `mmbench-tsv` benchmark: --data FILE.tsv."""
    path = Path(options.data)
    if not path.is_file():
        raise DataError(f"--data {path}: expected MMBench's .tsv file")
    items = read_items(path)
    return VlmSet(name="mmbench-tsv", items=tuple(items), sources=[str(path)],
                  description={"format": "mmbench-tsv", "images_sha256": stream_sha256(path)})
