"""`mobeval sweep`: one GGUF model at several quantization levels on one benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mobeval.cli.common import app, err, fail, out
from mobeval.config import default_text, help_text
from mobeval.core.errors import MobevalError

DEFAULT_QUANTS = "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q3_K_M,Q2_K"


def _help(text: str, default: str | None = None) -> str:
    """Help text with its default shown (escaped: rich markup would eat "[...]")."""
    return f"{text} {escape(f'[default: {default}]')}" if default else text


def _opt(key: str, *decls: str):
    """A run setting every level shares: help and shown default from RunConfig, as `mobeval run` has them."""
    return typer.Option(None, *decls, help=_help(help_text(key), default_text(key)), show_default=False)


def _published(items: list[str] | None) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for item in items or []:
        level, sep, path = item.partition("=")
        if not sep or not level.strip() or not path.strip():
            fail(f"--file {item!r}: expected LEVEL=PATH, e.g. --file Q8_0=model-q8_0.gguf")
        files[level.strip().upper()] = Path(path.strip()).expanduser()
    return files


def default_folder(output_dir: Path, model: str, bench: str) -> Path:
    """results/sweep__<model>__<bench>: a rerun of the same sweep finds its runs there."""
    from mobeval.results.store import folder_prefix

    name = Path(model).stem if model.endswith(".gguf") else model
    return output_dir / ("sweep__" + folder_prefix(name, bench).rstrip("_"))


@app.command()
def sweep(
    model: Optional[str] = typer.Option(None, help=_help(
        "Model alias (see `mobeval list models`) or a .gguf path. An F16/BF16/F32 file is quantized directly; a "
        "quantized one is dequantized to an F16 GGUF first (then the levels measure the quantizer, not the "
        "original model).", "smollm2-135m")),
    quants: str = typer.Option(DEFAULT_QUANTS, help="Comma-separated GGUF levels (llama.cpp names: Q8_0, Q6_K, "
                               "Q5_K_M, Q4_K_M, Q3_K_M, Q2_K, Q4_1, F16, ...).", show_default=True),
    bench: Optional[str] = _opt("bench"),
    data: Optional[Path] = _opt("data"),
    limit: Optional[int] = _opt("limit"),
    orderings: Optional[str] = _opt("orderings"),
    seed: Optional[int] = _opt("seed"),
    threads: Optional[int] = _opt("threads"),
    n_ctx: Optional[int] = _opt("n_ctx"),
    energy: Optional[str] = _opt("energy"),
    output_dir: Optional[Path] = _opt("output_dir"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help=_help(
        "The sweep folder (level runs + sweep.json); a rerun continues it.", "OUTPUT_DIR/sweep__MODEL__BENCH")),
    file: Optional[list[str]] = typer.Option(None, "--file", help="LEVEL=PATH: a published GGUF for that level "
                                             "instead of making one; repeatable."),
    reference: Optional[str] = typer.Option(None, help=_help(
        "The level the others are compared with.", "the most precise one")),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; still the table and Pareto view."),
) -> None:
    """Evaluate one GGUF model at several quantization levels: each level an ordinary run (read by
    compare and board), then a sweep table (accuracy, consistency, position bias, size, tokens/s, memory,
    energy, flips and the paired accuracy difference against the most precise level) and a Pareto view."""
    from mobeval.config import load_config
    from mobeval.text.models import DEFAULT_MODEL
    from mobeval.sweep import Events, SweepRequest, parse_levels, run_sweep
    from mobeval.sweep.render import pareto_view, sweep_table

    overrides = dict(bench=bench, data=data, limit=limit, orderings=orderings, seed=seed, threads=threads,
                     n_ctx=n_ctx, energy=energy, output_dir=output_dir, runner="llama.cpp", task="mcq")
    bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=err, disable=quiet, transient=False)
    current: dict[str, int] = {}

    def level_start(level: str, plan) -> None:
        current["total"] = len(plan.task.item_ids)
        current["job"] = bars.add_task(escape(plan.alias), total=current["total"])  # shown as [bold]...

    def level_done(run) -> None:
        if run.how == "reused":
            bars.update(current["job"], completed=current["total"])
        if not quiet:
            err.print(f"{run.level}: {run.how} run {run.folder}", highlight=False, markup=False)

    def made(lf) -> None:
        if not quiet:
            err.print(f"{lf.level}: {lf.how} ({lf.path.stat().st_size / 2**20:.1f} MiB, "
                      f"{lf.facts.bits_per_weight:.2f} bits/weight)", highlight=False, markup=False)

    try:
        model_name = model or DEFAULT_MODEL
        cfg = load_config(None, overrides)
        folder = out_dir or default_folder(cfg.output_dir, model_name, cfg.bench)
        req = SweepRequest(model_name, parse_levels(quants), cfg, folder, _published(file), reference)
        events = Events(file=made, level_start=level_start, level_done=level_done,
                        progress=lambda done, total: bars.update(current["job"], completed=done))
        with bars:
            outcome = run_sweep(req, events)
    except MobevalError as exc:
        fail(f"{exc}\nlevels already run are kept; the same command continues the sweep" if current else str(exc),
             exc.exit_code)
    except KeyboardInterrupt:
        err.print("\n[yellow]interrupted[/]: finished levels and questions are kept; the same command continues "
                  "the sweep")
        raise typer.Exit(130)
    if outcome.note:
        out.print(f"[bold yellow]note:[/] {escape(outcome.note)}.", highlight=False)
    out.print(sweep_table(outcome))
    out.print(pareto_view(outcome))
    out.print(f"sweep: {outcome.folder / 'sweep.json'}", highlight=False, markup=False)
    out.print("runs: " + " ".join(str(r.folder) for r in outcome.runs), highlight=False, soft_wrap=True, markup=False)
