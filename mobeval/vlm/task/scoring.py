"""The vlm task section from records alone.

Multiple-choice items are scored with the text track's definitions (mobeval.text.metrics): accuracy under
the original order, mean over orderings, strict (right under every ordering), debiased (needs
log-probabilities), consistency (same option under every ordering; needs no key) and position bias.
With cyclic orderings, strict accuracy is MMBench's circular evaluation. Open items: the share of keyed
items whose answer is an exact match, and a normalised match, of the reference (vlm/task/answers.py).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean

from pydantic import BaseModel

from mobeval.text.metrics import score
from mobeval.text.metrics import ScoreBlock
from mobeval.vlm.task.encoder_cost import EncoderCost
from mobeval.vlm.task.record import VlmRecord


class OpenScores(BaseModel):
    n_items: int
    n_keyed: int
    exact_match: float | None
    normalised_match: float | None
    empty_answers: int  # items whose answer text is blank
    unit: str = "fraction"


class VlmSection(BaseModel):
    n_items: int
    n_multiple_choice: int
    n_open: int
    multiple_choice: ScoreBlock | None = None
    per_category: dict[str, ScoreBlock] = {}  # multiple choice, per item category (when there are several)
    open: OpenScores | None = None
    encoder_quantization: EncoderCost | None = None  # with a quantized encoder: its cost (offline phase)


def _block(records: list[VlmRecord]) -> ScoreBlock:
    return ScoreBlock(**score([r.as_sample() for r in records]).model_dump())


def open_scores(records: list[VlmRecord]) -> OpenScores:
    keyed = [r for r in records if r.reference is not None]
    return OpenScores(
        n_items=len({r.item_id for r in records}), n_keyed=len(keyed),
        exact_match=fmean(float(bool(r.exact_match)) for r in keyed) if keyed else None,
        normalised_match=fmean(float(bool(r.correct)) for r in keyed) if keyed else None,
        empty_answers=sum(not r.text.strip() for r in records),
    )


def section(records: list[VlmRecord]) -> VlmSection:
    mc = [r for r in records if r.multiple_choice]
    op = [r for r in records if not r.multiple_choice]
    by_category: dict[str, list[VlmRecord]] = defaultdict(list)
    for r in mc:
        by_category[r.category or "-"].append(r)
    return VlmSection(
        n_items=len({r.item_id for r in records}),
        n_multiple_choice=len({r.item_id for r in mc}),
        n_open=len({r.item_id for r in op}),
        multiple_choice=_block(mc) if mc else None,
        per_category={k: _block(v) for k, v in sorted(by_category.items())} if len(by_category) > 1 else {},
        open=open_scores(op) if op else None,
    )
