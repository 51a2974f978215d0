"""The text a vision-language runner is given for an item (VlmQuery.prompt), LLaVA's MMBench style:

    <image>
    {hint}                       (only when the item has one)
    {question}
    A. {option shown first}
    B. ...
    Answer with the option's letter from the given choices directly.

An open item is the image markers and the question only. Images go where the question's own
IMAGE_MARKERs are, else one marker per image comes first, each on its own line.
"""

from __future__ import annotations

from mobeval.vlm.benchmarks.items import VlmItem
from mobeval.vlm.runners.base import IMAGE_MARKER
from mobeval.text.types import LETTERS

INSTRUCTION = "Answer with the option's letter from the given choices directly."


def build_prompt(item: VlmItem, order: tuple[int, ...] = ()) -> str:
    """The prompt for `item` with its options shown in `order` (order[position] = original index)."""
    lines = [] if IMAGE_MARKER in item.question else [IMAGE_MARKER] * len(item.images)
    if item.hint.strip():
        lines.append(item.hint.strip())
    lines.append(item.question.strip())
    if item.multiple_choice:
        lines += [f"{LETTERS[pos]}. {item.options[i]}" for pos, i in enumerate(order)]
        lines.append(INSTRUCTION)
    return "\n".join(lines)


def letters(n_options: int) -> tuple[str, ...]:
    """The candidates of an item with `n_options` options: A, B, ..."""
    return tuple(LETTERS[:n_options])
