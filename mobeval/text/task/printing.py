"""What the report and `mobeval compare` show of a multiple-choice run (read from the result alone)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from mobeval.text.task.agreement import agreement
from mobeval.core.printing import Table, fig, pct, plain
from mobeval.core.figures import Figure
from mobeval.text.metrics import ScoreBlock
from mobeval.text.samples import Sample

Row = tuple[str, str, str]


def header_lines(r: Any, sec: Any) -> list[str]:
    d, cfg, s = r.data, r.config, sec.scores
    return [f"bench [bold]{plain(d['bench'])}[/]: {s.n_questions} of {d['n_questions_total']} questions x "
            + plain(f"{s.orderings_per_question:g} orderings ({cfg.get('orderings')}), "
                    f"method {cfg.get('method')}, template {d['template']['name']}")
            + ("" if d.get("has_key") else ", [yellow]no answer key[/]")]


def summary_rows(sec: Any) -> list[Row]:
    s = sec.scores
    return [
        ("accuracy, original order", pct(s.accuracy_original), f"{s.n_keyed} keyed questions"),
        ("accuracy, mean over orderings", pct(s.accuracy_mean), "per question, then averaged"),
        ("accuracy, strict", pct(s.accuracy_strict), "right under every ordering"),
        ("accuracy, debiased", pct(s.accuracy_debiased), "best option by mean log-prob over orderings"),
        ("consistency", pct(s.consistency), "same option under every ordering; needs no key"),
        ("position bias", "n/a" if s.position_bias is None else f"{s.position_bias:.3f}",
         "total variation from uniform letters (0 = none)"),
        ("invalid answers", f"{s.invalid} of {s.n_samples}", "unparseable generations"),
    ]


def _generate_rows(perf: dict[str, Figure]) -> list[Row]:
    if "ttft_p50" not in perf:
        return []
    return [
        ("time to first token p50 / p90 / p99",
         " / ".join(fig(perf.get(f"ttft_{q}")) for q in ("p50", "p90", "p99")), f"n={perf['ttft_p50'].count}"),
        ("decode tokens/s", fig(perf.get("decode_tokens_per_s"), "{:.1f}"), "after the first new token"),
    ]


def _engine_rows(perf: dict[str, Figure]) -> list[Row]:
    rows = [("prompt tokens/s, engine's own clock", "engine_prompt_tokens_per_s"),
            ("decode tokens/s, engine's own clock", "engine_decode_tokens_per_s")]
    return [(label, fig(perf[key], "{:.1f}"), f"{perf[key].source}, n={perf[key].count}")
            for label, key in rows if key in perf]


def _evaluated_note(perf: dict[str, Figure]) -> str:
    run, total = perf.get("evaluated_tokens"), perf.get("prompt_tokens")
    if run is None or total is None or run.value is None or total.value is None:
        return ""
    return f"{run.value:,.0f} of {total.value:,.0f} prompt tokens run; shared prefixes once"


def performance_rows(perf: dict[str, Figure]) -> list[Row]:
    n = perf["question_latency_p50"].count if "question_latency_p50" in perf else 0
    return [
        ("latency per question p50 / p90 / p99",
         " / ".join(fig(perf.get(f"question_latency_{q}")) for q in ("p50", "p90", "p99")),
         f"all orderings of a question, n={n}"),
        validity_row(perf.get("latency_valid")),
        ("prompt tokens/s", fig(perf.get("prompt_tokens_per_s"), "{:.1f}"), "prompt tokens / time in runner"),
        ("evaluated tokens/s", fig(perf.get("evaluated_tokens_per_s"), "{:.1f}"), _evaluated_note(perf)),
        *_generate_rows(perf),
        *_engine_rows(perf),
    ]


def validity_row(f: Figure | None) -> Row:
    if f is None:
        return ("latency figures valid", "n/a", "")
    return ("latency figures valid", "yes" if f.value else "no", f.note)


def breakdown_table(title: str, blocks: dict[str, ScoreBlock]) -> Table:
    t = Table(title=title, header_style="bold")
    for col in ("", "n", "acc orig", "acc mean", "strict", "debiased", "consistency"):
        t.add_column(col, justify="left" if not col else "right", overflow="fold")
    for name, b in blocks.items():
        t.add_row(name, str(b.n_questions), pct(b.accuracy_original), pct(b.accuracy_mean),
                  pct(b.accuracy_strict), pct(b.accuracy_debiased), pct(b.consistency))
    return t


def letter_bars(s: ScoreBlock, width: int = 40) -> Table:
    t = Table(title="Letter chosen (all orderings)", header_style="bold", show_edge=False)
    for col in ("letter", "share", "", "uniform"):
        t.add_column(col)
    top = max(list(s.letter_share.values()) + [1e-9])
    for letter, share in s.letter_share.items():
        bar = "█" * round(width * share / top)
        t.add_row(letter, pct(share), Text(bar, style="cyan"), pct(s.letter_expected.get(letter)))
    return t


def tables(sec: Any) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if len(sec.per_field) > 1:
        parts.append(breakdown_table("Per field", sec.per_field))
    if len(sec.per_category) > 1:
        parts.append(breakdown_table("Per category", sec.per_category))
    if sec.scores.letter_share:
        parts.append(letter_bars(sec.scores))
    return parts


def compare_rows(reference: str, results: list[Any], sections: list[Any],
                 samples: list[list[Sample]]) -> list[tuple[str, list[str]]]:
    rows = [
        ("bench / questions", [f"{r.data['bench']} / {s.scores.n_questions}" for r, s in zip(results, sections)]),
        ("orderings / method", [f"{r.config.get('orderings')} / {r.config.get('method')}" for r in results]),
    ]
    for key, label in (("accuracy_original", "accuracy, original order"), ("accuracy_mean", "accuracy, mean"),
                       ("accuracy_strict", "accuracy, strict"), ("accuracy_debiased", "accuracy, debiased"),
                       ("consistency", "consistency")):
        rows.append((label, [pct(getattr(s.scores, key)) for s in sections]))
    rows.append(("position bias", ["n/a" if s.scores.position_bias is None else f"{s.scores.position_bias:.3f}"
                                   for s in sections]))
    agree = [agreement(samples[0], s) for s in samples]
    rows += [
        (f"same choice as {reference}", ["—" if i == 0 else f"{pct(g.same_choice)} of {g.shared_questions}"
                                for i, g in enumerate(agree)]),
        ("same under every ordering", ["—" if i == 0 else pct(g.same_every_ordering) for i, g in enumerate(agree)]),
        ("max letter log-prob gap", ["—" if i == 0 or g.max_logprob_gap is None else f"{g.max_logprob_gap:.4f}"
                                     for i, g in enumerate(agree)]),
        ("latency per question p50", [fig(r.performance.get("question_latency_p50")) for r in results]),
        ("evaluated tokens/s", [fig(r.performance.get("evaluated_tokens_per_s"), "{:.1f}") for r in results]),
    ]
    return rows
