"""The local image-question format (`--bench vlm-jsonl --data FILE.jsonl`): one JSON object per line.

    {"id": "q1", "images": ["img/cat.png"], "question": "What animal is this?",
     "options": ["dog", "cat", "bird"], "answer": "B"}                   # multiple choice
    {"id": "q2", "images": ["img/sign.jpg"], "question": "What does the sign say?", "answer": "stop"}  # open

- `id` (string or integer, unique), `images` (one or more paths, relative to the JSONL file's folder, or
  absolute), `question` (text): required.
- `options`: 2 to 10 non-empty strings: a multiple-choice item, `answer` the letter of the right option
  (A = the first listed). Without `options` the item is open and `answer` is the reference text.
- `answer` may be absent or empty: the item has no key (consistency is still measured).
- `hint` (context shown before the question) and `category` (for per-category scores): optional text.
- Images go where the question has `<image>` markers (one per image); without markers they come first.

Any other key, a key twice in one object, a missing image file, an image Pillow cannot decode, an answer not
among the options, a duplicate id: a DataError naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mobeval.core.tabular import utf8_text, json_lines
from mobeval.text.benchmarks.validate import check_options, parse_answer, row_error
from mobeval.vlm.benchmarks.images import check_image
from mobeval.vlm.benchmarks.items import VlmItem, VlmSet
from mobeval.core.errors import DataError
from mobeval.core.hashing import stream_sha256
from mobeval.vlm.runners.base import IMAGE_MARKER

REQUIRED = ("id", "images", "question")
OPTIONAL = ("options", "answer", "hint", "category")


def _text(file: str, n: int, obj: dict, key: str, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise row_error(file, n, f"no {key!r}")
        return ""
    if not isinstance(value, str):
        raise row_error(file, n, f"{key!r} is {type(value).__name__}, not text")
    return value


def _strings(file: str, n: int, obj: dict, key: str) -> list[str]:
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise row_error(file, n, f"{key!r} must be a list of strings, not {json.dumps(value)[:60]}")
    return value


def check_markers(file: str, n: int, question: str, n_images: int) -> None:
    markers = question.count(IMAGE_MARKER)
    if markers and markers != n_images:
        raise row_error(file, n, f"the question has {markers} {IMAGE_MARKER} marker(s) for {n_images} image(s); "
                                 f"give one per image, or none (images first)")


def parse_item(path: Path, n: int, obj: Any) -> VlmItem:
    """One checked line of the file (images checked on disk)."""
    file = str(path)
    if not isinstance(obj, dict):
        raise row_error(file, n, f"expected a JSON object, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in REQUIRED + OPTIONAL]
    if unknown:
        raise row_error(file, n, f"unknown key(s) {', '.join(map(repr, unknown))}; the keys are "
                                 f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise row_error(file, n, f"missing key(s) {', '.join(map(repr, missing))}")
    raw_id = obj["id"]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raise row_error(file, n, f"'id' must be a non-empty string or an integer, not {json.dumps(raw_id)}")
    images = _strings(file, n, obj, "images")
    if not images or any(not s.strip() for s in images):
        raise row_error(file, n, "'images' must list at least one image path, none empty")
    paths = tuple((path.parent / s).resolve() if not Path(s).is_absolute() else Path(s) for s in images)
    for p in paths:
        check_image(p, file, n)
    question = _text(file, n, obj, "question", required=True)
    if not question.strip():
        raise row_error(file, n, "empty question")
    check_markers(file, n, question, len(paths))
    answer = obj.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise row_error(file, n, f"'answer' is {type(answer).__name__}; give a letter or text (\"B\", \"7\")")
    common = dict(id=str(raw_id).strip(), images=paths, question=question, hint=_text(file, n, obj, "hint"),
                  category=_text(file, n, obj, "category").strip(), source=f"{file}, row {n}")
    if "options" in obj:
        options = _strings(file, n, obj, "options")
        check_options(file, n, options)
        return VlmItem(**common, options=tuple(options), answer=parse_answer(file, n, answer or "", len(options)))
    return VlmItem(**common, reference=answer.strip() if answer and answer.strip() else None)


def read_items(path: Path) -> list[VlmItem]:
    """The items of a JSONL file, in file order; ids unique."""
    path = Path(path)
    try:
        text = utf8_text(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    items: list[VlmItem] = []
    seen: dict[str, int] = {}
    for n, obj in json_lines(path, text):
        item = parse_item(path, n, obj)
        if item.id in seen:
            raise DataError(f"{path}, row {n}: duplicate id {item.id!r} (also row {seen[item.id]})")
        seen[item.id] = n
        items.append(item)
    if not items:
        raise DataError(f"{path}: no items; expected one JSON object per line (id, images, question, ...)")
    return items


def images_sha256(items: list[VlmItem]) -> str:
    """One sha256 over every image's bytes, in item order (an image changed on disk changes the run)."""
    digest = hashlib.sha256()
    for item in items:
        for p in item.images:
            digest.update(stream_sha256(p).encode("ascii"))
    return digest.hexdigest()


def load(options) -> VlmSet:
    """The `vlm-jsonl` benchmark: --data FILE.jsonl."""
    path = Path(options.data)
    if path.suffix.lower() != ".jsonl":
        raise DataError(f"--data {path}: expected a .jsonl file of image questions (see `mobeval list benches`)")
    items = read_items(path)
    return VlmSet(name="vlm-jsonl", items=tuple(items), sources=[str(path)],
                  description={"format": "jsonl", "images_sha256": images_sha256(items)})
