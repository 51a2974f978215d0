"""The vlm kind's speed figures, from the runner's per-part timings in the records.

Every figure leaves out the warm-up question (the first of a run segment) and the records where the
runner could not time that part (None); a part no record has is a figure with value None and a note.
Times are in seconds (printed as ms below one second); token counts in tokens.
"""

from __future__ import annotations

from mobeval.measure.latency import latency_figures, per_item, validity
from mobeval.measure.stats import summarize
from mobeval.core.figures import Figure
from mobeval.vlm.task.record import VlmRecord

# figure prefix -> (record attribute in ms, what it is)
PARTS = {
    "image_preprocess": ("preprocess_ms", "image decode + resize + normalise, all images of the question"),
    "encode": ("encode_ms", "vision encoder (+ projector), all images of the question"),
    "prefill": ("prefill_ms", "prompt evaluation in the language model, image embeddings included"),
    "ttft": ("ttft_ms", "time to first token: from the start of preprocessing to the first answer token"),
    "decode": ("decode_ms", "from the first answer token to the last (0 for a one-token answer)"),
}


def _stats(prefix: str, values: list[float], unit: str, note: str) -> dict[str, Figure]:
    s = summarize(values)
    if s is None:
        return {}
    return {f"{prefix}_{k}": Figure(value=getattr(s, k), unit=unit, count=s.count, note=note)
            for k in ("mean", "p50", "p90", "p99")}


def _part(prefix: str, attr: str, note: str, records: list[VlmRecord]) -> dict[str, Figure]:
    values = [getattr(r, attr) / 1000 for r in records if getattr(r, attr) is not None]
    if not values:
        return {f"{prefix}_mean": Figure(value=None, unit="s", count=0,
                                         note=f"the runner does not time this part ({note})")}
    return latency_figures(prefix, values, note=note)


def figures(records: list[VlmRecord]) -> dict[str, Figure]:
    measured = [r for r in records if not r.warmup]
    per_question = per_item(measured)
    figs = {
        "latency_valid": validity(per_question, "question", len({r.item_id for r in records if r.warmup})),
        **latency_figures("question_latency", per_question, note="all orderings of a question"),
        **latency_figures("request_latency", [r.latency_s for r in measured], note="one answer call"),
    }
    for prefix, (attr, note) in PARTS.items():
        figs.update(_part(prefix, attr, note, measured))
    counted = [r for r in measured if r.prompt_tokens is not None]
    figs.update(_stats("prompt_tokens", [float(r.prompt_tokens) for r in counted], "tokens",
                       "language-model positions of the prompt, image tokens included"))
    figs.update(_stats("image_tokens", [float(r.image_tokens) for r in measured if r.image_tokens is not None],
                       "tokens", "positions the images take"))
    prefilled = [r for r in counted if r.prefill_ms]
    if prefilled:
        figs["prefill_tokens_per_s"] = Figure(
            value=sum(r.prompt_tokens for r in prefilled) / sum(r.prefill_ms / 1000 for r in prefilled),
            unit="tokens/s", count=len(prefilled), note="prompt tokens / prefill time")
    decoded = [r for r in measured if r.decode_tokens_per_s is not None and r.decode_ms]
    if decoded:
        figs["decode_tokens_per_s"] = Figure(
            value=sum(r.decode_tokens - 1 for r in decoded) / sum(r.decode_ms / 1000 for r in decoded),
            unit="tokens/s", count=len(decoded), note="tokens after the first / time after the first, pooled")
        figs.update(_stats("decode_tokens_per_s", [r.decode_tokens_per_s for r in decoded], "tokens/s",
                           "per answer of two or more tokens"))
    else:
        figs["decode_tokens_per_s"] = Figure(
            value=None, unit="tokens/s", count=0,
            note="no answer of two or more tokens with a decode time (answers stopped after one token)")
    figs["decode_tokens_mean"] = Figure(value=sum(r.decode_tokens for r in measured) / len(measured) if measured
                                        else None, unit="tokens", count=len(measured), note="answer tokens generated")
    return figs
