"""`mobeval fastest`: which runner to use for this model on this machine, measured on the real prompts."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.text import Text

from mobeval.cli.common import app, err, fail, out
from mobeval.core.errors import MobevalError
from mobeval.measure.contention import RULE, ContentionSampler
from mobeval.core.printing import Table


@app.command()
def fastest(
    model: Optional[str] = typer.Option(None, help="Model alias, .gguf path, or folder. \\[default: smollm2-135m]"),
    bench: Optional[str] = typer.Option(None, help="Benchmark whose prompts are timed. \\[default: everyday-mobile]"),
    data: Optional[Path] = typer.Option(None, help="Local copy of the benchmark data (as for run)."),
    runners: Optional[str] = typer.Option(None, help="Comma-separated runners. \\[default: every in-process runner that takes this model]"),
    limit: int = typer.Option(12, help="Questions timed per runner, after one warm-up question."),
    orderings: str = typer.Option("cyclic", help="Orderings per question, as for run."),
    threads: Optional[int] = typer.Option(None, help="Threads for every runner. \\[default: all cores]"),
    rounds: int = typer.Option(1, help="Alternating rounds over the runners; the median round counts."),
    output_dir: Path = typer.Option(Path("results"), help="Where fastest__<model>__<time>.json goes."),
) -> None:
    """Time each runner on the same questions and orderings and say which to use here, and by how much."""
    from mobeval.config import load_config
    from mobeval.measure.environment import environment
    from mobeval.studies.runner_speed import candidate_runners, compare_runners

    try:
        cfg = load_config(None, {"model": model, "bench": bench, "data": data, "orderings": orderings,
                                 "threads": threads})
        names = [r.strip() for r in runners.split(",") if r.strip()] if runners else candidate_runners(model)
        with err.status("timing runners ...") as status:
            sampler = ContentionSampler().start()
            result = compare_runners(cfg, names, limit, rounds, progress=lambda m: status.update(escape(m)))
            contention = sampler.stop()
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    env = environment()
    busy = (f"measured under contention: {contention.describe()} ({RULE}): other processes shared the cores, so "
            f"these times and this ranking are not the runners' own: {contention.remedy()}"
            if contention.contended else None)
    t = Table(title=f"{result.model} on {result.bench}: {limit} questions x {orderings} orderings, "
                    f"{env['cpu']} ({env['cpu_logical']} logical cores)", header_style="bold")
    for col in ("runner", "load", "s / question", "prompts / s", "vs fastest", "same choice as fastest"):
        t.add_column(col, justify="right" if col != "runner" else "left", no_wrap=col == "runner")
    ranked = result.ranked()
    for r in ranked:
        t.add_row(r.runner, f"{min(r.load_s):.2f} s", f"{r.seconds_per_question:.3f}",
                  f"{r.prompts / r.seconds_per_question / r.questions:.1f}",
                  f"{r.seconds_per_question / ranked[0].seconds_per_question:.2f}x",
                  "—" if r is ranked[0] else f"{result.agreement(ranked[0], r):.1%}")
    for r in result.runners:
        if r.error:
            t.add_row(r.runner, "", "", "", "", Text(f"not run: {r.error}", style="dim"))
    out.print(t)
    out.print(result.verdict(), highlight=False, markup=False)
    if busy:
        out.print(f"[yellow]warning[/]: {escape(busy)}", highlight=False)
    output_dir.mkdir(parents=True, exist_ok=True)
    dest = output_dir / f"fastest__{result.model.replace('/', '-')}__{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    dest.write_text(json.dumps({"schema_version": "mobeval.fastest/1", "limit": limit, "orderings": orderings,
                                "rounds": rounds, "verdict": result.verdict(), "busy": busy, "contention": contention.to_json(), "environment": env,
                                "runners": [asdict(r) | {"seconds_per_question": r.seconds_per_question}
                                            for r in result.runners]}, indent=2) + "\n")
    out.print(f"json: {dest}", highlight=False, markup=False)

