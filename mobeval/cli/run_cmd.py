"""`mobeval run`: evaluate a model on a benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from mobeval.cli.common import app, err, fail, out
from mobeval.errors import MobevalError


def _parse_columns(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    mapping = {}
    for item in items:
        if "=" not in item:
            fail(f"--column {item!r}: expected KEY=VALUE, e.g. question=prompt")
        key, value = item.split("=", 1)
        mapping[key.strip()] = value.strip()
    return mapping


@app.command()
def run(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file of settings; flags override it."),
    model: Optional[str] = typer.Option(None, help="Model alias (see `mobeval list models`) or a .gguf path; for a remote runner, the served model's name. [default: smollm2-135m]"),
    bench: Optional[str] = typer.Option(None, help="Benchmark (see `mobeval list benches`). [default: everyday-mobile]"),
    runner: Optional[str] = typer.Option(None, help="Runtime (see `mobeval list runners`). [default: llama.cpp]"),
    data: Optional[Path] = typer.Option(None, help="Local copy of the benchmark data instead of the hub."),
    answers: Optional[Path] = typer.Option(None, help="CSV question_id,answer supplying an answer key."),
    shots: Optional[int] = typer.Option(None, help="k-shot examples (mmlu). [default: 0]"),
    subjects: Optional[str] = typer.Option(None, help="Comma-separated fields to keep (mmlu)."),
    column: Optional[list[str]] = typer.Option(None, help="mcq column mapping KEY=VALUE; repeatable."),
    template: Optional[str] = typer.Option(None, help="Prompt template name. [default: the benchmark's]"),
    method: Optional[str] = typer.Option(None, help="logprob (letter log-probabilities) or generate (parse the reply). [default: logprob]"),
    max_tokens: Optional[int] = typer.Option(None, help="New tokens for --method generate. [default: 5]"),
    chat: Optional[bool] = typer.Option(None, "--chat/--no-chat", help="Wrap prompts in the model's chat template. [default: no]"),
    orderings: Optional[str] = typer.Option(None, help="original | cyclic | random:N | all. [default: cyclic]"),
    limit: Optional[int] = typer.Option(None, help="Stratified sample of N questions over fields."),
    seed: Optional[int] = typer.Option(None, help="Seed for --limit and random orderings. [default: 0]"),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads for the runtime. [default: all cores]"),
    n_ctx: Optional[int] = typer.Option(None, help="Context length. [default: 2048]"),
    n_batch: Optional[int] = typer.Option(None, help="Prompt batch size. [default: 512]"),
    torch_dtype: Optional[str] = typer.Option(None, help="transformers: weights' dtype (float32, bfloat16, float16). [default: float32]"),
    batch_tokens: Optional[int] = typer.Option(None, help="transformers: tokens per forward pass, prompts packed. [default: 640]"),
    endpoint: Optional[str] = typer.Option(None, help="Remote runners: the server's base URL, e.g. http://127.0.0.1:8080/v1."),
    api_key: Optional[str] = typer.Option(None, envvar="MOBEVAL_API_KEY", show_envvar=True,
                                          help="Remote runners: API key (never written to results)."),
    concurrency: Optional[int] = typer.Option(None, help="Remote runners: requests in flight at once. [default: 1]"),
    request_timeout: Optional[float] = typer.Option(None, help="Remote runners: seconds per request. [default: 60]"),
    energy: Optional[str] = typer.Option(None, help="auto (RAPL/NVML where readable) | estimate | android | off. [default: auto]"),
    watts_per_core: Optional[float] = typer.Option(None, help="--energy estimate: assumed watts per busy core. [default: 4.0]"),
    android_serial: Optional[str] = typer.Option(None, help="--energy android: the adb serial of the phone."),
    idle_seconds: Optional[float] = typer.Option(None, help="Idle-power window before the run, where a counter exists. [default: 2]"),
    output_dir: Optional[Path] = typer.Option(None, help="Where run folders go. [default: results]"),
    resume: bool = typer.Option(False, "--resume", help="Continue the latest unfinished run of this model and bench (or --run-dir)."),
    run_dir: Optional[Path] = typer.Option(None, help="With --resume: the run folder to continue."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or report; print the run folder."),
) -> None:
    """Evaluate a model on a benchmark under several orderings of the options."""
    from mobeval import engine
    from mobeval.config import load_config
    from mobeval.report import print_report

    overrides = dict(
        model=model, bench=bench, runner=runner, data=data, answers=answers, shots=shots,
        subjects=[s.strip() for s in subjects.split(",")] if subjects else None,
        columns=_parse_columns(column), template=template, method=method, max_tokens=max_tokens,
        chat=chat, orderings=orderings, limit=limit, seed=seed, n_threads=threads, n_ctx=n_ctx,
        n_batch=n_batch, torch_dtype=torch_dtype, batch_tokens=batch_tokens, endpoint=endpoint, api_key=api_key, concurrency=concurrency,
        request_timeout=request_timeout, energy=energy, watts_per_core=watts_per_core,
        android_serial=android_serial, idle_seconds=idle_seconds, output_dir=output_dir,
    )
    run_folder = None
    try:
        cfg = load_config(config, overrides)
        plan = engine.plan(cfg)
        run_folder = engine.open_run_dir(plan, resume, run_dir)
        if not quiet:
            err.print(f"run folder: {run_folder.path}", highlight=False)
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=err, disable=quiet, transient=False,
        ) as bar:
            task = bar.add_task(f"{plan.spec.alias} / {cfg.bench}", total=len(plan.questions))
            engine.execute(plan, run_folder, lambda done, total: bar.update(task, completed=done))
    except MobevalError as exc:
        if run_folder is not None and run_folder.samples():
            fail(f"{exc}\nfinished questions are kept in {run_folder.path}; "
                 "continue with the same command and --resume")
        fail(str(exc))
    except KeyboardInterrupt:
        where = f" in {run_folder.path}" if run_folder else ""
        err.print(f"\n[yellow]interrupted[/]: finished questions are kept{where}; "
                  "continue with the same command and --resume")
        raise typer.Exit(130)
    if quiet:
        out.print(str(run_folder.path))
        return
    print_report(run_folder.result(), out)
    out.print(f"result: {run_folder.path / 'result.json'}\nsubmission: {run_folder.path / 'submission.csv'}",
              highlight=False)
