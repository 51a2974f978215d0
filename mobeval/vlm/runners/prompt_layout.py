"""Where a VLM prompt's image embeddings go among its text tokens; shared by the runner and the training script.

The query text (with one IMAGE_MARKER per image) is wrapped in the chat turn the projector was trained
with (its meta "prefix"/"suffix": SmolLM2's ChatML user turn, no system turn) and cut at the markers.
Each text piece is tokenized on its own (special tokens parsed; the model's BOS, if it wants one, on the
first), so training and evaluation see exactly the same token ids around the images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mobeval.core.errors import RunnerError
from mobeval.vlm.runners.base import IMAGE_MARKER

CHATML_USER = ("<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n")


@dataclass(frozen=True)
class Layout:
    """The prompt as runs: token ids (list[int]) and image slots (int: which image), in order."""

    runs: tuple[list[int] | int, ...]
    image_tokens_each: int

    @property
    def text_tokens(self) -> int:
        return sum(len(r) for r in self.runs if isinstance(r, list))

    @property
    def image_tokens(self) -> int:
        return self.image_tokens_each * sum(1 for r in self.runs if isinstance(r, int))

    @property
    def total_tokens(self) -> int:
        return self.text_tokens + self.image_tokens


def layout(prompt: str, n_images: int, tokenize: Callable[[str, bool], list[int]], image_tokens_each: int,
           prefix: str = CHATML_USER[0], suffix: str = CHATML_USER[1], item_id: str = "") -> Layout:
    """`tokenize(text, first)` gives a piece's ids (first: the prompt's first piece, where a BOS goes)."""
    markers = prompt.count(IMAGE_MARKER)
    if markers != n_images:
        raise RunnerError(f"item {item_id}: the prompt has {markers} {IMAGE_MARKER} marker(s) for {n_images} image(s)")
    pieces = (prefix + prompt + suffix).split(IMAGE_MARKER)
    runs: list[list[int] | int] = []
    for i, text in enumerate(pieces):
        if text:
            runs.append(tokenize(text, not runs))
        if i < n_images:
            runs.append(i)
    return Layout(tuple(runs), image_tokens_each)
