"""One image question, and a loaded set of them.

An item is multiple choice (`options` given; `answer` is the index of the right option in the order
the file gives them, or None without a key) or open (no options; `reference` is the answer text, or
None without a key). Images are files on disk: a runner reads them itself, so what is timed as
preprocessing is the runner's own decode and resize.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mobeval.core.hashing import text_sha256


@dataclass(frozen=True)
class VlmItem:
    id: str
    images: tuple[Path, ...]
    question: str
    options: tuple[str, ...] = ()  # empty: an open question
    answer: int | None = None  # multiple choice: index into `options` as the file gives them
    reference: str | None = None  # open: the reference answer
    hint: str = ""  # context shown before the question (MMBench's hint)
    category: str = ""
    source: str = ""  # the file (and row) or dataset it came from

    @property
    def multiple_choice(self) -> bool:
        return bool(self.options)

    @property
    def keyed(self) -> bool:
        return self.answer is not None or self.reference is not None

    def fingerprint(self) -> list[Any]:
        """What identifies the item's content for --resume (image files by name; their bytes are hashed
        once per set in VlmSet.data_sha256)."""
        return [self.id, [p.name for p in self.images], self.question, list(self.options), self.answer,
                self.reference, self.hint]


@dataclass(frozen=True)
class VlmSet:
    name: str
    items: tuple[VlmItem, ...]
    sources: list[str]
    description: dict[str, Any] = field(default_factory=dict)  # recorded in the result's data section

    @property
    def data_sha256(self) -> str:
        """sha256 over the items' content; image bytes enter through `description["images_sha256"]`
        where the loader hashed them."""
        return text_sha256(json.dumps({"items": [i.fingerprint() for i in self.items],
                                       "images_sha256": self.description.get("images_sha256")},
                                      ensure_ascii=False, sort_keys=True))
