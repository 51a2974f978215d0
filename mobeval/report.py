"""The terminal report, from a Result alone (so `mobeval report` needs no model)."""

from __future__ import annotations

import re

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from mobeval.results.schema import Figure, Result, ScoreBlock


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fig(f: Figure | None, fmt: str = "{:.3f}") -> str:
    if f is None:
        return "n/a"
    if f.value is None:
        return f"unavailable ({f.note})" if f.note else "unavailable"
    if f.unit == "bytes":
        return human_bytes(f.value)
    if f.unit == "s" and f.value < 1:
        return f"{f.value * 1000:.1f} ms"
    return f"{fmt.format(f.value)} {f.unit}"


def _header(r: Result) -> str:
    m, d, cfg, env = r.model, r.data, r.config, r.environment
    what = (f"at {m['origin']}" if m.get("remote") else
            f"({m.get('quant') or '?'}, {human_bytes(m['size_bytes'])})")
    lines = [
        f"[bold]{m['alias']}[/] {what} on "
        f"[bold]{r.runner['name']}[/] ({r.runner['backend_version']}, "
        + ", ".join(f"{k}={v}" for k, v in r.runner.get("settings", {}).items()) + ")",
        f"bench [bold]{d['bench']}[/]: {r.scores.n_questions} of {d['n_questions_total']} questions x "
        f"{r.scores.orderings_per_question:g} orderings ({cfg.get('orderings')}), "
        f"method {cfg.get('method')}, template {d['template']['name']}"
        + ("" if d.get("has_key") else ", [yellow]no answer key[/]"),
        f"machine: {env.get('cpu')}, {env.get('cpu_logical')} logical cores, "
        f"{human_bytes(env.get('memory_bytes'))} RAM, {env.get('os')}",
    ]
    lines += [f"[yellow]runner note[/]: {n}" for n in r.runner.get("notes", [])]
    if r.status != "complete":
        lines.append("[bold red]partial run[/]: continue it with --resume")
    killed = killed_segments(r.performance.get("wall_time"))
    if killed:
        lines.append(f"[bold yellow]{killed} run segment(s) killed[/]: their time, memory and energy were not "
                     "recorded; the samples they finished are kept and counted")
    return "\n".join(lines)


def _validity_row(f: Figure | None) -> tuple[str, str, str]:
    if f is None:
        return ("latency figures valid", "n/a", "")
    return ("latency figures valid", "yes" if f.value else "no", f.note)


def _generate_rows(perf: dict[str, Figure]) -> list[tuple[str, str, str]]:
    if "ttft_p50" not in perf:
        return []
    return [
        ("time to first token p50 / p90 / p99",
         " / ".join(fig(perf.get(f"ttft_{q}")) for q in ("p50", "p90", "p99")), f"n={perf['ttft_p50'].count}"),
        ("decode tokens/s", fig(perf.get("decode_tokens_per_s"), "{:.1f}"), "after the first new token"),
    ]


def _engine_rows(perf: dict[str, Figure]) -> list[tuple[str, str, str]]:
    rows = [("prompt tokens/s, engine's own clock", "engine_prompt_tokens_per_s"),
            ("decode tokens/s, engine's own clock", "engine_decode_tokens_per_s")]
    return [(label, fig(perf[key], "{:.1f}"), f"{perf[key].source}, n={perf[key].count}")
            for label, key in rows if key in perf]


def _evaluated_note(perf: dict[str, Figure]) -> str:
    run, total = perf.get("evaluated_tokens"), perf.get("prompt_tokens")
    if run is None or total is None or run.value is None or total.value is None:
        return ""
    return f"{run.value:,.0f} of {total.value:,.0f} prompt tokens run; shared prefixes once"


_KILLED = re.compile(r"(\d+) (?:run )?segment\(s\) (?:were )?killed")


def killed_segments(f: Figure | None) -> int:
    """Segments killed before recording their time, as the figure's note states them."""
    m = _KILLED.search(f.note) if f is not None else None
    return int(m.group(1)) if m else 0


def _wall_row(f: Figure | None) -> tuple[str, str, str]:
    """Wall time, saying over how many segments (resumes), how many were killed, and that a killed
    segment's time is missing, rather than one reassuring "load included"."""
    if f is None or f.value is None:
        return ("wall time", fig(f), "")
    recorded, killed = f.count or 1, killed_segments(f)
    segments = f"{recorded} segment{'s' if recorded > 1 else ''}"
    if killed:
        return ("wall time", f"at least {fig(f, '{:.1f}')}",
                f"load included; {segments} recorded; {killed} more killed: their time is missing")
    return ("wall time", fig(f, "{:.1f}"),
            f"load included; summed over {segments} (resumes)" if recorded > 1 else "load included")


def _energy_rows(en: dict[str, Figure]) -> list[tuple[str, str, str]]:
    if "energy" in en:
        return [("energy", "unavailable", en["energy"].note)]
    rows = []
    for key, f in en.items():
        source, what = key.split(".", 1)
        label = f"{'energy' if what == 'energy' else what.replace('_', ' ')} ({source})"
        value = f"{f.value:.3f} {f.unit}" if f.value < 10 else f"{f.value:.1f} {f.unit}"
        rows.append((label, value, f.note if what in ("energy", "idle_power") else ""))
    return rows


def summary_table(r: Result) -> Table:
    s, perf, mem, en = r.scores, r.performance, r.memory, r.energy
    t = Table(title="Summary", show_header=True, header_style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("how", style="dim")
    rows = [
        ("accuracy, original order", pct(s.accuracy_original), f"{s.n_keyed} keyed questions"),
        ("accuracy, mean over orderings", pct(s.accuracy_mean), "per question, then averaged"),
        ("accuracy, strict", pct(s.accuracy_strict), "right under every ordering"),
        ("accuracy, debiased", pct(s.accuracy_debiased), "best option by mean log-prob over orderings"),
        ("consistency", pct(s.consistency), "same option under every ordering; needs no key"),
        ("position bias", "n/a" if s.position_bias is None else f"{s.position_bias:.3f}",
         "total variation from uniform letters (0 = none)"),
        ("invalid answers", f"{s.invalid} of {s.n_samples}", "unparseable generations"),
        ("latency per question p50 / p90 / p99",
         " / ".join(fig(perf.get(f"question_latency_{q}")) for q in ("p50", "p90", "p99")),
         f"all orderings of a question, n={perf['question_latency_p50'].count if 'question_latency_p50' in perf else 0}"),
        _validity_row(perf.get("latency_valid")),
        ("prompt tokens/s", fig(perf.get("prompt_tokens_per_s"), "{:.1f}"), "prompt tokens / time in runner"),
        ("evaluated tokens/s", fig(perf.get("evaluated_tokens_per_s"), "{:.1f}"), _evaluated_note(perf)),
        *_generate_rows(perf),
        *_engine_rows(perf),
        ("model load time", fig(perf.get("model_load_time")), perf["model_load_time"].note
         if "model_load_time" in perf else ""),
        _wall_row(perf.get("wall_time")),
        ("CPU frequency start / end", f"{fig(perf.get('cpu_freq_start'), '{:.0f}')} / "
         f"{fig(perf.get('cpu_freq_end'), '{:.0f}')}", "a drop suggests throttling"),
        ("peak RSS", fig(mem.get("peak_rss")), f"baseline {fig(mem.get('baseline_rss'))}, sampled every 10 ms"),
        ("peak USS / PSS", f"{fig(mem.get('peak_uss'))} / {fig(mem.get('peak_pss'))}",
         "private / proportional share; sampled every 0.25 s"),
        ("KV cache", fig(mem.get("kv_cache")), "allocated for n_ctx (f16)"),
        ("model file", fig(mem.get("model_file_size")), ""),
        *_energy_rows(en),
    ]
    for row in rows:
        t.add_row(*row)
    return t


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
        t.add_row(letter, pct(share), f"[cyan]{bar}[/]", pct(s.letter_expected.get(letter)))
    return t


def render(r: Result) -> Group:
    parts = [Panel(_header(r), title="mobeval", expand=False), summary_table(r)]
    if len(r.per_field) > 1:
        parts.append(breakdown_table("Per field", r.per_field))
    if len(r.per_category) > 1:
        parts.append(breakdown_table("Per category", r.per_category))
    if r.scores.letter_share:
        parts.append(letter_bars(r.scores))
    return Group(*parts)


def print_report(r: Result, console: Console | None = None) -> None:
    (console or Console()).print(render(r))
