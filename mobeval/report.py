"""The terminal report, from a Result alone (so `mobeval report` needs no model)."""

from __future__ import annotations

import re

from rich.console import Console, Group
from rich.panel import Panel

from mobeval.core.printing import Table, fig, human_bytes, plain
from mobeval.core.figures import Figure
from mobeval.results.schema import Result
from mobeval.core.kinds import task_kind


def _header(r: Result) -> str:
    """Rich markup: every value from the run (names, paths, settings, notes) goes in through plain()."""
    m, env = r.model, r.environment
    what = (f"at {plain(m['origin'])}" if m.get("remote") else
            f"({plain(m.get('quant') or m.get('format') or '?')}, {human_bytes(m.get('size_bytes'))})")
    lines = [
        f"[bold]{plain(m['alias'])}[/] {what} on "
        f"[bold]{plain(r.runner['name'])}[/] ({plain(r.runner['backend_version'])}, "
        + plain(", ".join(f"{k}={v}" for k, v in r.runner.get("settings", {}).items())) + ")",
        *task_kind(r.kind).header_lines(r),
        plain(f"machine: {env.get('cpu')}, {env.get('cpu_logical')} logical cores, "
              f"{human_bytes(env.get('memory_bytes'))} RAM, {env.get('os')}"),
    ]
    ran = r.runner.get("model_file")
    if ran and ran not in (m.get("path"), m.get("origin")):
        lines.append(f"the runtime loaded {plain(ran)}")
    lines += [f"[yellow]runner note[/]: {plain(n)}" for n in r.runner.get("notes", [])]
    merged = r.provenance.merged_from
    if merged:
        lines.append(f"merged from {len(merged)} shards: " + plain(", ".join(m.get("folder", "?") for m in merged)))
    if r.provenance.upgraded_from:
        lines.append(f"[dim]read from a {plain(r.provenance.upgraded_from)} result.json (an older mobeval)[/]")
    busy = r.performance.get("cpu_contention")
    if busy is not None and busy.value:
        lines.append(f"[bold yellow]measured under contention[/]: latency is not valid; {plain(busy.note)}")
    if r.status != "complete":
        lines.append("[bold red]partial run[/]: continue it with --resume")
    seq = r.sequential
    if seq is not None and seq.stopped_early:
        noun = task_kind(r.kind).item_noun
        lines.append(f"[bold yellow]stopped early[/] ({plain(seq.stop_reason)}): {seq.items_used} of "
                     f"{seq.items_used + seq.items_left} {noun}s run in a seeded random order, {seq.items_left} left; "
                     f"the figures below are of the {seq.items_used} run, the estimate of the whole selection")
    killed = killed_segments(r.performance.get("wall_time"))
    if killed:
        lines.append(f"[bold yellow]{killed} run segment(s) killed[/]: their time, memory and energy were not "
                     "recorded; the samples they finished are kept and counted")
    return "\n".join(lines)


_KILLED = re.compile(r"(\d+) (?:run )?segment\(s\) (?:were )?killed")


def killed_segments(f: Figure | None) -> int:
    """Segments killed before recording their time, as the figure's note states them."""
    m = _KILLED.search(f.note) if f is not None else None
    return int(m.group(1)) if m else 0


def _wall_row(f: Figure | None, merged: bool = False) -> tuple[str, str, str]:
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
            f"load included; summed over {segments} ({'of merged shards' if merged else 'resumes'})"
            if recorded > 1 else "load included")


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
    perf, mem, en = r.performance, r.memory, r.energy
    kind = task_kind(r.kind)
    t = Table(title="Summary", show_header=True, header_style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("how", style="dim")
    rows = [
        *kind.summary_rows(r),
        *kind.performance_rows(r),
        ("model load time", fig(perf.get("model_load_time")), perf["model_load_time"].note
         if "model_load_time" in perf else ""),
        _wall_row(perf.get("wall_time"), bool(r.provenance.merged_from)),
        ("CPU frequency start / end", f"{fig(perf.get('cpu_freq_start'), '{:.0f}')} / "
         f"{fig(perf.get('cpu_freq_end'), '{:.0f}')}", "a drop suggests throttling"),
        *([("CPU contention", "yes" if perf["cpu_contention"].value else "no", perf["cpu_contention"].note)]
          if "cpu_contention" in perf else []),
        ("peak RSS", fig(mem.get("peak_rss")), f"baseline {fig(mem.get('baseline_rss'))}, sampled every 10 ms"),
        ("peak USS / PSS", f"{fig(mem.get('peak_uss'))} / {fig(mem.get('peak_pss'))}",
         "private / proportional share; sampled every 0.25 s"),
        *([("KV cache", fig(mem["kv_cache"]), "allocated for n_ctx (f16)")] if "kv_cache" in mem else []),
        ("model file", fig(mem.get("model_file_size")), ""),
        *_energy_rows(en),
    ]
    for row in rows:
        t.add_row(*row)
    return t


def _ci(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}% [{100 * low:.1f}–{100 * high:.1f}]"


def sequential_tables(r: Result) -> list[Table]:
    """A run under --until/--budget: its estimate with the anytime-valid interval, why and when it stopped, and
    the estimate per group (each with its own interval)."""
    seq = r.sequential
    if seq is None:
        return []
    noun = task_kind(r.kind).item_noun
    t = Table(title="Estimate (--until / --budget)", show_header=True, header_style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("how", style="dim")
    rule = ", ".join(f"--{k} {v}" for k, v in seq.rule.items() if v)
    pop = (f"of all {seq.population} {noun}s with a value" if seq.population else "population unknown up front")
    t.add_row(seq.figure, _ci(seq.estimate, seq.low, seq.high),
              f"95% confidence sequence ({seq.items_with_value} values, {pop}); valid at any stopping time")
    t.add_row("half-width", "n/a" if seq.half_width is None else f"±{100 * seq.half_width:.1f} pts", "")
    t.add_row("stopped", seq.stop_reason, rule)
    t.add_row(f"{noun}s run / left", f"{seq.items_used} / {seq.items_left}", "seeded random order (--seed)")
    spent = seq.spent
    if "eval_seconds" in spent:
        joules = spent.get("joules")
        t.add_row("spent on items", f"{float(spent['eval_seconds']):.1f} s"
                  + ("" if joules is None else f", {float(joules):.1f} J"),
                  "model load excluded" + ("" if joules is None else f"; energy: {spent.get('energy_source')}"))
    out = [t]
    if seq.groups:
        g = Table(title=f"Estimate per {seq.group_label or 'group'}", show_header=True, header_style="bold")
        for col in (seq.group_label or "group", "run / of", "estimate [95% sequence]"):
            g.add_column(col, justify="left" if col == (seq.group_label or "group") else "right")
        for name, e in seq.groups.items():
            g.add_row(name, f"{e.n} / {'?' if e.population is None else e.population}", _ci(e.estimate, e.low, e.high))
        out.append(g)
    return out


def report_tables(r: Result) -> list:
    """The report's tables (what `report --format csv|md` writes): the summary, a run's estimate under
    --until/--budget, then the kind's own."""
    return [summary_table(r), *sequential_tables(r), *task_kind(r.kind).tables(r)]


def render(r: Result) -> Group:
    return Group(Panel(_header(r), title="mobeval", expand=False), *report_tables(r))


def print_report(r: Result, console: Console | None = None) -> None:
    (console or Console()).print(render(r))
