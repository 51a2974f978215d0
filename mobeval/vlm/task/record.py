"""One line of a vlm run's samples.jsonl: one image question under one ordering of its options.

A multiple-choice record keeps the ordering (`order[position]` = the option's index in the file), the
position chosen and the letter log-probabilities, so every order-invariance figure is computed from the
file alone (the text track's definitions, mobeval.text.metrics). An open record keeps the answer text, the
reference and both matches. Both keep the runner's per-part timings (ms) and token counts as it
reported them (None: the runtime does not expose that part).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mobeval.text.samples import Sample


@dataclass(frozen=True)
class VlmRecord:
    item_id: str
    ordering: int  # index into the item's orderings; 0 is the file's order (open items: always 0)
    order: tuple[int, ...]  # order[position] = original option index; () for an open item
    choice: int | None  # multiple choice: the position chosen; None = invalid (or an open item)
    answer: int | None  # multiple choice: original index of the right option; None without a key
    reference: str | None  # open: the reference answer; None without a key (or multiple choice)
    text: str  # the generated answer
    logprobs: tuple[float, ...] | None  # per position, the candidate letter's log-probability, where given
    correct: bool | None  # the right option / a normalised match; None without a key
    exact_match: bool | None  # open, keyed: exact match
    category: str
    n_images: int
    prompt_sha256: str
    preprocess_ms: float | None  # image decode + resize + normalise (all images), as the runner timed it
    encode_ms: float | None  # vision encoder + projector
    prefill_ms: float | None  # prompt evaluation in the language model
    ttft_ms: float | None  # start of preprocessing to the first answer token
    decode_ms: float | None  # after the first token
    prompt_tokens: int | None  # image tokens included (the runtime's tokenizer)
    image_tokens: int | None
    decode_tokens: int  # answer tokens generated
    decode_tokens_per_s: float | None  # tokens after the first / time after the first (None: under two)
    latency_s: float  # wall time of the runner's answer call
    warmup: bool = False

    @property
    def multiple_choice(self) -> bool:
        return bool(self.order)

    @property
    def chosen_option(self) -> int | None:
        return None if self.choice is None else self.order[self.choice]

    def as_sample(self) -> Sample:
        """The multiple-choice record as the text track's Sample, to score with mobeval.text.metrics."""
        return Sample(
            question_id=self.item_id, ordering=self.ordering, order=self.order, choice=self.choice,
            answer=self.answer, field=self.category, category=self.category, prompt_sha256=self.prompt_sha256,
            logprobs=self.logprobs, text=self.text, prompt_tokens=self.prompt_tokens or 0, evaluated_tokens=0,
            latency_s=self.latency_s, warmup=self.warmup,
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> VlmRecord:
        d = dict(d)
        d["order"] = tuple(d["order"])
        if d.get("logprobs") is not None:
            d["logprobs"] = tuple(float(x) for x in d["logprobs"])
        return cls(**d)
