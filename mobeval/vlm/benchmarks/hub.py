"""Image-question sets from the Hugging Face hub, through the `datasets` library (lmms-eval's copies):

- `mmbench`: lmms-lab/MMBench, config en, split dev (4,329 questions with a key; MMBench's columns);
- `scienceqa-img`: lmms-lab/ScienceQA, config ScienceQA-IMG, split test (questions with an image;
  `choices` a list, `answer` a 0-based index, `hint` the context);
- `ai2d`: lmms-lab/ai2d, split test (3,088 diagram questions; `options` a list, `answer` a 0-based index).

Images are written once to the cache (vlm-images/, named by the sha256 of their PNG bytes). Without a
network (or without `datasets`) the error names the dataset and the way out: a local copy through
`--bench mmbench-tsv` or `--bench vlm-jsonl`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

from mobeval.text.benchmarks.validate import check_options, parse_answer, row_error
from mobeval.vlm.benchmarks.images import write_once
from mobeval.vlm.benchmarks.items import VlmItem, VlmSet
from mobeval.vlm.benchmarks.mmbench_tsv import image_cache
from mobeval.core.errors import DataError
from mobeval.core.hashing import bytes_sha256, text_sha256

WAY_OUT = ("with a local copy use --bench mmbench-tsv --data FILE.tsv (MMBench's TSV) or --bench vlm-jsonl "
           "--data FILE.jsonl (any image questions)")


@dataclass(frozen=True)
class HubSet:
    name: str
    repo: str
    config: str | None
    split: str
    options: Callable[[dict[str, Any]], list[str]]
    answer: Callable[[dict[str, Any]], tuple[str, str]]  # (value, "letter" | "index")
    hint: str = ""  # the column holding context, if any
    category: str = ""


def _abcd(row: dict[str, Any]) -> list[str]:
    out = []
    for letter in "ABCD":
        v = row.get(letter)
        if v is None or (isinstance(v, float) and v != v) or not str(v).strip() or str(v).strip() == "nan":
            break
        out.append(str(v))
    return out


SETS = {
    "mmbench": HubSet("mmbench", "lmms-lab/MMBench", "en", "dev", _abcd,
                      lambda r: (str(r.get("answer") or ""), "letter"), hint="hint", category="category"),
    "scienceqa-img": HubSet("scienceqa-img", "lmms-lab/ScienceQA", "ScienceQA-IMG", "test",
                            lambda r: [str(c) for c in r["choices"]],
                            lambda r: ("" if r.get("answer") is None else str(r["answer"]), "index"),
                            hint="hint", category="subject"),
    "ai2d": HubSet("ai2d", "lmms-lab/ai2d", None, "test", lambda r: [str(c) for c in r["options"]],
                   lambda r: ("" if r.get("answer") is None else str(r["answer"]), "index")),
}


def _rows(s: HubSet) -> tuple[list[dict[str, Any]], str]:
    source = f"hf:{s.repo}/{s.config}/{s.split}" if s.config else f"hf:{s.repo}/{s.split}"
    from mobeval.core.hub import load_hub_dataset

    return list(load_hub_dataset(s.repo, s.config, s.split, WAY_OUT)), source


def _image(source: str, n: int, value: Any):
    if value is None or not hasattr(value, "save"):
        raise row_error(source, n, "no image")
    buf = io.BytesIO()
    value.convert("RGB").save(buf, format="PNG")
    data = buf.getvalue()
    return write_once(image_cache(), f"{bytes_sha256(data)}.png", data)


def load_hub_set(s: HubSet) -> VlmSet:
    rows, source = _rows(s)
    return items_from_rows(s, rows, source)


def items_from_rows(s: HubSet, rows: list[dict[str, Any]], source: str) -> VlmSet:
    """The set from the dataset's rows (PIL images in `image`); rows numbered from 1."""
    items = []
    for n, row in enumerate(rows, start=1):
        if row.get("image") is None:  # ScienceQA's text-only questions, where a config still holds some
            continue
        options = s.options(row)
        check_options(source, n, options)
        value, fmt = s.answer(row)
        hint = str(row.get(s.hint) or "") if s.hint else ""
        items.append(VlmItem(
            id=str(row.get("index", n)), images=(_image(source, n, row["image"]),), question=str(row["question"]),
            options=tuple(options), answer=parse_answer(source, n, value, len(options), fmt),
            hint="" if hint.strip().lower() == "nan" else hint,
            category=str(row.get(s.category) or "") if s.category else "", source=f"{source}, row {n}",
        ))
    if not items:
        raise DataError(f"{source}: no image questions")
    digest = text_sha256("|".join(p.name for i in items for p in i.images))  # the names are content hashes
    return VlmSet(name=s.name, items=tuple(items), sources=[source],
                  description={"format": "hf-datasets", "images_sha256": digest})


def load_mmbench(options) -> VlmSet:
    return load_hub_set(SETS["mmbench"])


def load_scienceqa_img(options) -> VlmSet:
    return load_hub_set(SETS["scienceqa-img"])


def load_ai2d(options) -> VlmSet:
    return load_hub_set(SETS["ai2d"])
