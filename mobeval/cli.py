"""The `mobeval` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from mobeval.errors import MobevalError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
list_app = typer.Typer(no_args_is_help=True, help="List models, benchmarks or prompt templates.")
app.add_typer(list_app, name="list")
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


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


def _int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values):
        fail(f"{flag} {text!r}: expected comma-separated whole numbers, e.g. 1,2")
    return values


@app.command()
def perf(
    model: str = typer.Option("smollm2-135m", help="Model alias or .gguf path."),
    threads: str = typer.Option("", help="Thread counts to sweep, e.g. 1,2. [default: all cores]"),
    n_batch: str = typer.Option("512", help="Batch sizes to sweep, e.g. 128,512."),
    n_ctx: str = typer.Option("2048", help="Context lengths to sweep."),
    pp: int = typer.Option(512, help="Prompt-processing test length (llama-bench pp); 0 skips it."),
    tg: int = typer.Option(128, help="Generation test length (llama-bench tg); 0 skips it."),
    ttft: str = typer.Option("64,256,1024", help="Prompt lengths for time to first token."),
    reps: int = typer.Option(5, help="Measured repetitions per test."),
    warmup: int = typer.Option(1, help="Unmeasured repetitions before them."),
    min_duration: float = typer.Option(1.0, help="A test is valid only if its repetitions last this long (s)."),
    cooldown: float = typer.Option(0.0, help="Seconds to idle between swept settings."),
    output_dir: Path = typer.Option(Path("results"), help="Where perf__<model>__<time>.json goes."),
) -> None:
    """Raw engine speed (pp512, tg128, time to first token) on the runner an evaluation uses."""
    import json
    import os
    from datetime import datetime

    from mobeval.measure.environment import environment
    from mobeval.measure.perf import sweep, to_json
    from mobeval.models import resolve
    from mobeval.runners.llamacpp import LlamaCppRunner

    try:
        spec, path = resolve(model)
    except MobevalError as exc:
        fail(str(exc))
    thread_list = _int_list(threads, "--threads") if threads else [os.cpu_count() or 1]
    batches, contexts = _int_list(n_batch, "--n-batch"), _int_list(n_ctx, "--n-ctx")
    ttft_lengths = _int_list(ttft, "--ttft") if ttft else []

    def make(t: int, b: int, c: int):
        return LlamaCppRunner(path, n_threads=t, n_batch=b, n_ctx=c)

    with err.status(f"measuring {spec.alias} ..."):
        try:
            configs = sweep(make, thread_list, batches, contexts, cooldown_s=cooldown, pp=pp, tg=tg,
                            ttft_lengths=ttft_lengths, reps=reps, warmup=warmup, min_duration_s=min_duration)
        except MobevalError as exc:
            fail(str(exc))
    t = Table(title=f"{spec.alias} ({spec.quant}) on llama.cpp", header_style="bold")
    for col in ("setting", "test", "tokens/s", "llama.cpp's timer", "ratio", "TTFT", "valid"):
        t.add_column(col, justify="right", no_wrap=col in ("setting", "tokens/s"))
    for c in configs:
        for r in c.tests:
            t.add_row(f"t={c.n_threads} b={c.n_batch} c={c.n_ctx}", r.test,
                      f"{r.tokens_per_s:.1f} ± {r.tokens_per_s_std:.1f}", f"{r.engine_tokens_per_s:.1f}",
                      f"{r.ratio_to_engine:.3f}", "" if r.ttft_ms is None else f"{r.ttft_ms:.0f} ms",
                      "yes" if r.valid else "no*")
    out.print(t)
    for c in configs:
        for r in c.tests:
            if not r.valid:
                out.print(f"* {r.test} at t={c.n_threads} b={c.n_batch} c={c.n_ctx}: {r.reason}", highlight=False)
    for c in configs:
        out.print(f"t={c.n_threads} b={c.n_batch} c={c.n_ctx}: CPU {c.cpu_freq_mhz_before} -> "
                  f"{c.cpu_freq_mhz_after} MHz, KV cache {c.kv_cache_bytes / 2**20:.1f} MiB (f16, computed)",
                  highlight=False)
    output_dir.mkdir(parents=True, exist_ok=True)
    dest = output_dir / f"perf__{spec.alias}__{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    dest.write_text(json.dumps({
        "schema_version": "mobeval.perf/1", "model": {"alias": spec.alias, "path": str(path), "quant": spec.quant},
        "runner": "llama.cpp", "environment": environment(), "configs": to_json(configs),
    }, indent=2) + "\n")
    out.print(f"json: {dest}", highlight=False)


@app.command()
def env(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """The machine, as every result records it."""
    import json

    from mobeval.measure.energy import energy_meters
    from mobeval.measure.environment import environment

    info = environment()
    info["energy_sources"] = [
        m.source if m.source != "unavailable" else f"unavailable: {m.stop().reason}" for m in energy_meters("auto")
    ]
    if json_out:
        out.print_json(json.dumps(info))
        return
    t = Table(header_style="bold", show_header=False)
    t.add_column("", no_wrap=True)
    t.add_column("", overflow="fold")
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v)
        elif isinstance(value, list):
            value = "; ".join(map(str, value))
        t.add_row(key, str(value))
    out.print(t)


@app.command()
def report(result_dir: Path = typer.Argument(..., help="A run folder (results/<model>__<bench>__<time>).")) -> None:
    """Print the report of a finished run again, from its files, without the model."""
    from mobeval.report import print_report
    from mobeval.results.store import RunDir

    try:
        print_report(RunDir(result_dir).result(), out)
    except MobevalError as exc:
        fail(str(exc))


@app.command()
def compare(result_dirs: list[Path] = typer.Argument(..., help="Two or more run folders; the first is the reference.")) -> None:
    """Runs side by side: accuracy, consistency, per-question agreement, latency, memory, energy."""
    from mobeval.compare import compare_table
    from mobeval.results.store import RunDir

    if len(result_dirs) < 2:
        fail("compare needs at least two run folders")
    try:
        runs = [RunDir(d) for d in result_dirs]
        results = [r.result() for r in runs]
        samples = [r.samples() for r in runs]
    except MobevalError as exc:
        fail(str(exc))
    names = [f"#{i + 1} {r.model['alias']} / {r.runner['name']}" for i, r in enumerate(results)]
    out.print(compare_table(names, results, samples))


@app.command()
def submit(result_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Write the run's submission.csv again and check it: every question once, letters only."""
    from mobeval.results.store import RunDir
    from mobeval.results.submission import check_submission, write_submission

    try:
        run_folder = RunDir(result_dir)
        run_folder.identity()
        samples = run_folder.samples()
        if not samples:
            fail(f"{result_dir}: no samples yet")
        ids = list(dict.fromkeys(s.question_id for s in samples))
        path = run_folder.path / "submission.csv"
        write_submission(path, samples, ids)
        problems = check_submission(path, ids, {s.question_id: len(s.order) for s in samples})
    except MobevalError as exc:
        fail(str(exc))
    if problems:
        fail(f"{path} is not valid:\n  " + "\n  ".join(problems))
    complete = run_folder.is_complete()
    out.print(f"{path}: {len(ids)} questions, valid" + ("" if complete else " (the run is partial)"),
              highlight=False)


@app.command()
def pull(alias: str = typer.Argument(..., help="Model alias to fetch ahead of time.")) -> None:
    """Fetch a model into the local cache (Hugging Face aliases) or assemble it (chunked packages)."""
    from mobeval.hashing import file_sha256
    from mobeval.models import resolve

    try:
        spec, path = resolve(alias, fetch=True)
    except MobevalError as exc:
        fail(str(exc))
    digest = file_sha256(path)
    if spec.sha256 and digest != spec.sha256:
        fail(f"{path}: sha256 {digest} differs from the published {spec.sha256}")
    out.print(f"{spec.alias}: {path} (sha256 {digest[:16]}…{' verified' if spec.sha256 else ''})", highlight=False)


@list_app.command("models")
def list_models() -> None:
    """Every model alias: size, quantization, origin, and whether its file is here."""
    from mobeval.models import catalog, locate
    from mobeval.report import human_bytes

    t = Table(header_style="bold")
    for col in ("alias", "quant", "size", "here"):
        t.add_column(col, no_wrap=True)
    t.add_column("from", overflow="fold")
    for spec in catalog().values():
        path = locate(spec, fetch=False)
        if path is not None:
            here = "[green]yes[/]"
        elif spec.source == "pypi-chunks" and _installed(spec.package):
            here = "on use"
        else:
            here = "[dim]no[/]"
        size = spec.size_bytes or (path.stat().st_size if path else None)
        t.add_row(spec.alias, spec.quant, human_bytes(size), here, spec.origin)
    out.print(t)


def _installed(package: str | None) -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(package or "")
        return True
    except PackageNotFoundError:
        return False


@list_app.command("benches")
def list_benches() -> None:
    """Every benchmark."""
    from mobeval.benchmarks import REGISTRY

    t = Table(header_style="bold")
    t.add_column("bench", no_wrap=True)
    t.add_column("what", overflow="fold")
    for name, (_, text) in REGISTRY.items():
        t.add_row(name, text)
    out.print(t)


@list_app.command("runners")
def list_runners() -> None:
    """Every runner."""
    from mobeval.runners import REGISTRY

    t = Table(header_style="bold")
    t.add_column("runner", no_wrap=True)
    t.add_column("model", no_wrap=True)
    t.add_column("what", overflow="fold")
    for name, e in REGISTRY.items():
        t.add_row(name, {"gguf": "alias or .gguf", "endpoint": "--endpoint", "folder-or-id": "folder or id",
                                  "gguf-folder-or-id": "alias, .gguf, folder or id"}[e.model],
                  e.description)
    out.print(t)


@list_app.command("templates")
def list_templates() -> None:
    """Every prompt template, shown as data."""
    from mobeval.prompts import load_template, template_names

    for name in template_names():
        out.print(f"[bold]{name}[/]: {load_template(name, name).model_dump(exclude={'name'})!r}", highlight=False)


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
