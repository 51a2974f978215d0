"""Image questions for vision-language models as a task kind: records, the order-invariance and
open-answer scores, the per-part speed figures (encode, prefill, time to first token, decode), the
report's rows and tables, agreement between runs, and predictions.csv."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Hashable

from rich.console import RenderableType

from mobeval.core.printing import fig, pct, plain
from mobeval.core.figures import Figure
from mobeval.core.task import Row, TaskKind
from mobeval.text.task.agreement import agreement
from mobeval.text.task.printing import breakdown_table, letter_bars, validity_row
from mobeval.vlm.task.answers import normalise
from mobeval.vlm.task.encoder_cost import EncoderCost
from mobeval.vlm.task.performance import figures
from mobeval.vlm.task.record import VlmRecord
from mobeval.vlm.task.scoring import VlmSection, section
from mobeval.text.types import LETTERS


def _ms(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 and not math.isnan(x))


class VlmKind(TaskKind):
    name = "vlm"
    item_noun = "question"
    outputs = ("predictions.csv",)
    section_model = VlmSection
    record_type = VlmRecord
    value_label = "accuracy over keyed questions (multiple choice: mean over orderings; open: normalised match)"
    group_label = "category"

    def item_values(self, records: list[VlmRecord]) -> dict[str, float]:
        """Per keyed question: multiple choice, the share of its orderings answered right (as mcq); open, 1 for a
        normalised match of the reference."""
        groups: dict[str, list[VlmRecord]] = defaultdict(list)
        for r in records:
            groups[r.item_id].append(r)
        out = {}
        for i, g in groups.items():
            if g[0].multiple_choice and g[0].answer is not None:
                out[i] = sum(bool(r.correct) for r in g) / len(g)
            elif not g[0].multiple_choice and g[0].reference is not None:
                out[i] = float(bool(g[0].correct))
        return out

    def item_groups(self, records: list[VlmRecord]) -> dict[str, str]:
        return {r.item_id: r.category or "-" for r in records}

    def record_problem(self, r: VlmRecord, replicas: int | None) -> str:
        try:
            return _problem(r, replicas)
        except TypeError as exc:
            return f"malformed fields ({exc})"

    def section(self, records: list[VlmRecord]) -> VlmSection:
        return section(records)

    def performance(self, records: list[VlmRecord]) -> dict[str, Figure]:
        return figures(records)

    def energy_units(self, records: list[VlmRecord]) -> dict[str, tuple[float, str, str]]:
        units = {"energy_per_question": (len({r.item_id for r in records}), "J", "all orderings of a question")}
        answers = len(records)
        if answers:
            units["energy_per_answer"] = (answers, "J", "one question under one ordering")
        return units

    def header_lines(self, r: Any) -> list[str]:
        d, s = r.data, VlmSection.model_validate(r.task)
        per = s.multiple_choice.orderings_per_question if s.multiple_choice else 0
        model = r.model
        lines = [f"bench [bold]{plain(d['bench'])}[/]: {s.n_items} of {d.get('n_items_total')} questions "
                 f"({s.n_multiple_choice} multiple choice x {per:g} orderings ({plain(r.config.get('orderings'))}), "
                 f"{s.n_open} open), answers up to {r.config.get('max_tokens')} tokens"
                 + ("" if d.get("has_key") else ", [yellow]no answer key[/]")]
        parts = model.get("parts") or {}
        if parts:
            lines.append("parts: " + plain(", ".join(f"{p} {Path(v['path']).name}" for p, v in parts.items()))
                         + ("" if model.get("encoder_sqnr_db") is None
                            else f"; encoder SQNR {model['encoder_sqnr_db']:.1f} dB vs its float model"))
        return lines

    def summary_rows(self, r: Any) -> list[Row]:
        s = VlmSection.model_validate(r.task)
        rows: list[Row] = []
        if s.multiple_choice:
            b = s.multiple_choice
            rows += [
                ("accuracy, original order", pct(b.accuracy_original), f"{b.n_keyed} keyed multiple-choice questions"),
                ("accuracy, mean over orderings", pct(b.accuracy_mean), "per question, then averaged"),
                ("accuracy, every ordering", pct(b.accuracy_strict),
                 "right under every ordering (cyclic: MMBench circular evaluation)"),
                ("accuracy, debiased", pct(b.accuracy_debiased), "best option by mean log-prob over orderings"),
                ("consistency", pct(b.consistency), "same option under every ordering; needs no key"),
                ("position bias", "n/a" if b.position_bias is None else f"{b.position_bias:.3f}",
                 "total variation from uniform letters (0 = none)"),
                ("invalid answers", f"{b.invalid} of {b.n_samples}", "no letter read from the answer"),
            ]
        if s.open:
            o = s.open
            rows += [
                ("open answers, exact match", pct(o.exact_match), f"{o.n_keyed} keyed open questions"),
                ("open answers, normalised match", pct(o.normalised_match),
                 "lowercase, no punctuation, articles or extra spaces"),
            ]
        if s.encoder_quantization:
            rows += quantization_rows(s.encoder_quantization)
        return rows

    def performance_rows(self, r: Any) -> list[Row]:
        p = r.performance

        def three(prefix: str) -> str:
            if f"{prefix}_p50" not in p:
                return fig(p.get(f"{prefix}_mean"))
            return " / ".join(fig(p.get(f"{prefix}_{q}")) for q in ("p50", "p90", "p99"))

        def n(prefix: str) -> str:
            f = p.get(f"{prefix}_p50") or p.get(f"{prefix}_mean")
            return f"n={f.count}" if f is not None and f.count is not None else ""

        tokens = p.get("prompt_tokens_mean")
        image = p.get("image_tokens_mean")
        return [
            ("latency per question p50 / p90 / p99", three("question_latency"), f"all orderings, {n('question_latency')}"),
            validity_row(p.get("latency_valid")),
            ("image preprocessing p50 / p90 / p99", three("image_preprocess"), n("image_preprocess")),
            ("vision encode p50 / p90 / p99", three("encode"), f"encoder + projector, {n('encode')}"),
            ("prefill p50 / p90 / p99", three("prefill"), f"image tokens included, {n('prefill')}"),
            ("time to first token p50 / p90 / p99", three("ttft"), f"from preprocessing on, {n('ttft')}"),
            ("decode tokens/s", fig(p.get("decode_tokens_per_s"), "{:.1f}"),
             p["decode_tokens_per_s"].note if "decode_tokens_per_s" in p else ""),
            ("prompt tokens, mean", fig(tokens, "{:.1f}"),
             "" if image is None else f"of which image tokens {fig(image, '{:.1f}')}"),
            ("prefill tokens/s", fig(p.get("prefill_tokens_per_s"), "{:.1f}"), "prompt tokens / prefill time"),
        ]

    def tables(self, r: Any) -> list[RenderableType]:
        s = VlmSection.model_validate(r.task)
        parts: list[RenderableType] = []
        if len(s.per_category) > 1:
            parts.append(breakdown_table("Multiple choice, per category", s.per_category))
        if s.multiple_choice and s.multiple_choice.letter_share:
            parts.append(letter_bars(s.multiple_choice))
        return parts

    def item_outcomes(self, records: list[VlmRecord]) -> dict[str, dict[str, tuple[bool, Hashable]]]:
        """Per keyed item (right, prediction): multiple choice right under every ordering (the prediction: the
        options chosen, in ordering order), then under the original order; open items by normalised match."""
        groups: dict[str, list[VlmRecord]] = defaultdict(list)
        for r in records:
            if r.correct is not None:
                groups[r.item_id].append(r)
        mc = {i: sorted(g, key=lambda r: r.ordering) for i, g in groups.items() if g[0].multiple_choice}
        out: dict[str, dict[str, tuple[bool, Hashable]]] = {}
        if mc:
            out["every ordering"] = {i: (all(r.correct for r in g), tuple(r.chosen_option for r in g))
                                     for i, g in mc.items()}
            out["original order"] = {i: (bool(g[0].correct), g[0].chosen_option)
                                     for i, g in mc.items() if g[0].ordering == 0}
        opened = {i: g[0] for i, g in groups.items() if not g[0].multiple_choice}
        if opened:
            out["open, normalised match"] = {i: (bool(r.correct), normalise(r.text)) for i, r in opened.items()}
        return out

    def compare_rows(self, names: list[str], results: list[Any],
                     records: list[list[VlmRecord]]) -> list[tuple[str, list[str]]]:
        sections = [VlmSection.model_validate(r.task) for r in results]

        def mc(key: str) -> list[str]:
            return [pct(getattr(s.multiple_choice, key)) if s.multiple_choice else "n/a" for s in sections]

        rows = [
            ("bench / questions", [f"{r.data['bench']} / {s.n_items}" for r, s in zip(results, sections)]),
            ("orderings", [str(r.config.get("orderings")) for r in results]),
            ("accuracy, original order", mc("accuracy_original")),
            ("accuracy, every ordering", mc("accuracy_strict")),
            ("consistency", mc("consistency")),
            ("open answers, normalised match",
             [pct(s.open.normalised_match) if s.open else "n/a" for s in sections]),
        ]
        samples = [[x.as_sample() for x in recs if x.multiple_choice] for recs in records]
        agree = [agreement(samples[0], s) for s in samples]
        rows += [
            (f"same choice as {names[0]}",
             ["—" if i == 0 else f"{pct(g.same_choice)} of {g.shared_questions}" for i, g in enumerate(agree)]),
            ("vision encode p50", [fig(r.performance.get("encode_p50")) for r in results]),
            ("time to first token p50", [fig(r.performance.get("ttft_p50")) for r in results]),
            ("decode tokens/s", [fig(r.performance.get("decode_tokens_per_s"), "{:.1f}") for r in results]),
        ]
        return rows

    def write_outputs(self, folder: Path, records: list[VlmRecord], item_ids: list[str]) -> list[Path]:
        """predictions.csv: one row per question and ordering: the letter chosen and the option it names
        (its letter in the file's order), or the open answer, and whether it is right."""
        path = folder / self.outputs[0]
        order = {i: n for n, i in enumerate(item_ids)}
        rows = sorted((r for r in records if r.item_id in order), key=lambda r: (order[r.item_id], r.ordering))
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["item_id", "ordering", "shown_order", "chosen_letter", "chosen_option", "answer_text",
                        "correct"])
            for r in rows:
                shown = "".join(LETTERS[i] for i in r.order)
                w.writerow([r.item_id, r.ordering, shown,
                            "" if r.choice is None else LETTERS[r.choice],
                            "" if r.chosen_option is None else LETTERS[r.chosen_option],
                            r.text, "" if r.correct is None else int(r.correct)])
        return [path]


def quantization_rows(q: EncoderCost) -> list[Row]:
    """The quantized encoder's SQNR and, per outcome, what it cost against the float encoder."""
    rows: list[Row] = [("encoder SQNR vs float", f"{q.encoder_sqnr_db:.1f} dB",
                        f"image-token features, {q.images} images of this run")]
    for name, c in q.outcomes.items():
        rows.append((f"quantized encoder: accuracy change ({name})",
                     f"{c.difference * 100:+.1f} pts [{c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}]",
                     f"float {pct(c.accuracy_float)} -> quantized {pct(c.accuracy_quantized)} on {c.items} items; "
                     f"95% paired bootstrap; McNemar p={c.mcnemar_p:.2f}; {c.flip_rate:.0%} changed answer"))
    return rows


def _problem(r: VlmRecord, replicas: int | None) -> str:
    n = len(r.order)
    if not isinstance(r.item_id, str) or not r.item_id:
        return "item_id is not a string"
    if not isinstance(r.ordering, int) or r.ordering < 0 or (replicas is not None and r.ordering >= replicas):
        return f"ordering {r.ordering!r} is outside 0..{(replicas or 1) - 1}"
    if n and (n < 2 or sorted(r.order) != list(range(n))):
        return f"order {list(r.order)} is not an ordering of the options"
    if not n and (r.ordering != 0 or r.choice is not None or r.answer is not None or r.logprobs is not None):
        return "an open question has one record, no choice, no option answer and no letter log-probs"
    if n and (r.reference is not None or r.exact_match is not None):
        return "a multiple-choice record has no reference text"
    for name in ("choice", "answer"):
        v = getattr(r, name)
        if v is not None and (not isinstance(v, int) or not 0 <= v < n):
            return f"{name} {v!r} is not an option index"
    if r.logprobs is not None and len(r.logprobs) != n:
        return f"{len(r.logprobs)} logprobs for {n} options"
    expected = (None if r.answer is None else r.chosen_option == r.answer) if n else r.correct
    if n and r.correct != expected:
        return f"correct is {r.correct!r} but the choice says {expected!r}"
    if not n and (r.correct is None) != (r.reference is None):
        return "correct is set without a reference, or missing with one"
    for name in ("preprocess_ms", "encode_ms", "prefill_ms", "ttft_ms", "decode_ms", "decode_tokens_per_s"):
        if not _ms(getattr(r, name)):
            return f"{name} {getattr(r, name)!r} is not a duration or rate"
    if not isinstance(r.latency_s, (int, float)) or r.latency_s < 0:
        return f"latency_s {r.latency_s!r} is not a duration"
    if not isinstance(r.decode_tokens, int) or r.decode_tokens < 0:
        return f"decode_tokens {r.decode_tokens!r} is not a count"
    return ""
