"""`mobeval compare`: runs side by side, and how often they chose the same option."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

from mobeval.metrics import group_by_question
from mobeval.report import fig, pct
from mobeval.results.schema import Result
from mobeval.samples import Sample


@dataclass
class Agreement:
    shared_questions: int  # questions both runs answered
    same_choice: float | None  # share whose original-order choice is the same option
    same_every_ordering: float | None  # share choosing the same option under every shared ordering
    max_logprob_gap: float | None  # largest |difference| of a letter log-probability


def agreement(a: list[Sample], b: list[Sample]) -> Agreement:
    ga, gb = group_by_question(a), group_by_question(b)
    shared = sorted(set(ga) & set(gb))
    if not shared:
        return Agreement(0, None, None, None)
    same, every, gap = 0, 0, None
    for q in shared:
        pa = {s.ordering: s for s in ga[q]}
        pb = {s.ordering: s for s in gb[q]}
        orderings = sorted(set(pa) & set(pb))
        same += pa[0].chosen_option == pb[0].chosen_option if 0 in orderings else 0
        every += all(pa[k].chosen_option == pb[k].chosen_option for k in orderings)
        for k in orderings:
            if pa[k].logprobs and pb[k].logprobs and pa[k].order == pb[k].order:
                g = max(abs(x - y) for x, y in zip(pa[k].logprobs, pb[k].logprobs))
                gap = g if gap is None else max(gap, g)
    n = len(shared)
    return Agreement(n, same / n, every / n, gap)


def compare_table(names: list[str], results: list[Result], samples: list[list[Sample]]) -> Table:
    t = Table(title="Runs side by side", header_style="bold")
    t.add_column("figure")
    for name in names:
        t.add_column(name, justify="right", overflow="fold")

    def row(label: str, values: list[str]) -> None:
        t.add_row(label, *values)

    row("runner", [f"{r.runner['name']} ({r.runner['backend_version']})" for r in results])
    row("model", [r.model["alias"] for r in results])
    row("bench / questions", [f"{r.data['bench']} / {r.scores.n_questions}" for r in results])
    row("orderings / method", [f"{r.config.get('orderings')} / {r.config.get('method')}" for r in results])
    for key, label in (("accuracy_original", "accuracy, original order"), ("accuracy_mean", "accuracy, mean"),
                       ("accuracy_strict", "accuracy, strict"), ("accuracy_debiased", "accuracy, debiased"),
                       ("consistency", "consistency")):
        row(label, [pct(getattr(r.scores, key)) for r in results])
    row("position bias", ["n/a" if r.scores.position_bias is None else f"{r.scores.position_bias:.3f}"
                          for r in results])
    agree = [agreement(samples[0], s) for s in samples]
    row(f"same choice as {names[0]}", ["—" if i == 0 else f"{pct(g.same_choice)} of {g.shared_questions}"
                                        for i, g in enumerate(agree)])
    row("same under every ordering", ["—" if i == 0 else pct(g.same_every_ordering) for i, g in enumerate(agree)])
    row("max letter log-prob gap", ["—" if i == 0 or g.max_logprob_gap is None else f"{g.max_logprob_gap:.4f}"
                                    for i, g in enumerate(agree)])
    row("latency per question p50", [fig(r.performance.get("question_latency_p50")) for r in results])
    row("evaluated tokens/s", [fig(r.performance.get("evaluated_tokens_per_s"), "{:.1f}") for r in results])
    row("model load time", [fig(r.performance.get("model_load_time")) for r in results])
    row("wall time", [fig(r.performance.get("wall_time"), "{:.1f}") for r in results])
    row("peak RSS", [fig(r.memory.get("peak_rss")) for r in results])
    row("energy", [_energy(r) for r in results])
    return t


def _energy(r: Result) -> str:
    if "energy" in r.energy:
        return "unavailable"
    return ", ".join(f"{f.value:.1f} J ({k.split('.')[0]})" for k, f in r.energy.items() if k.endswith(".energy"))
