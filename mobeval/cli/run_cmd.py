"""`mobeval run`: evaluate a model on a benchmark."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Optional

import typer
import typer.core
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from mobeval.cli.common import app, emit, err, fail, out
from mobeval.config import choices, default_text, help_text, panel
from mobeval.core.errors import MobevalError


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


def _parse_sizes(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"--batch-sizes {text!r}: expected whole numbers separated by commas, e.g. 1,8,32")


def _opt(key: str, *decls: str, **kw):
    """A `run` option for a config key: help text and shown default come from RunConfig (and, for a
    runner setting, from the runner registry), so --help cannot drift from what a run uses. The
    option itself defaults to None, "not given", so a config file can fill it; typer would show no
    default for it, so the help text carries the real one (escaped: rich markup would eat "[...]")."""
    default = default_text(key)
    shown = f"[default: {default}]" if default else ""
    if shown and getattr(typer.core, "DEFAULT_MARKUP_MODE", None) == "rich":
        shown = escape(shown)
    values = choices(key)
    one_of = ""
    if values is not None:  # checked by RunConfig, which names the flag and the values it takes
        kw["metavar"] = "<choice>"
        one_of = escape(f"[one of: {', '.join(values)}]")
    return typer.Option(None, *decls, help=f"{help_text(key)} {one_of} {shown}".replace("  ", " ").strip(),
                        show_default=False,
                        rich_help_panel=panel(key), **kw)


EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the run is, so its finally blocks write what was done."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def _job_secrets() -> dict[str, str]:
    """The settings a matrix job gets in its environment, not its job.yaml (matrix/job.py: the api_key, an
    endpoint with credentials), taken out of the environment so that no process this run starts sees them."""
    from mobeval.config import SECRET
    from mobeval.matrix.job import SECRETS_ENV

    raw = os.environ.pop(SECRETS_ENV, None)
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        fail(f"{SECRETS_ENV}: expected a JSON object of settings (set by mobeval matrix)")
    return {k: v for k, v in values.items() if k in SECRET and isinstance(v, str)}


@app.command()
def run(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file of settings; flags override it. "
                                          "Keys are the flags' names with dashes as underscores (docs/settings.md)."),
    task: Optional[str] = _opt("task"),
    model: Optional[str] = _opt("model"),
    bench: Optional[str] = _opt("bench"),
    runner: Optional[str] = _opt("runner"),
    data: Optional[Path] = _opt("data"),
    answers: Optional[Path] = _opt("answers"),
    labels: Optional[Path] = _opt("labels"),
    shots: Optional[int] = _opt("shots"),
    subjects: Optional[str] = _opt("subjects"),
    column: Optional[list[str]] = _opt("column"),
    template: Optional[str] = _opt("template"),
    method: Optional[str] = _opt("method"),
    max_tokens: Optional[int] = _opt("max_tokens"),
    chat: Optional[bool] = _opt("chat", "--chat/--no-chat"),
    orderings: Optional[str] = _opt("orderings"),
    max_prompts: Optional[int] = _opt("max_prompts"),
    limit: Optional[int] = _opt("limit"),
    seed: Optional[int] = _opt("seed"),
    shard: Optional[str] = _opt("shard"),
    until: Optional[str] = _opt("until"),
    budget: Optional[str] = _opt("budget"),
    threads: Optional[int] = _opt("threads"),
    n_ctx: Optional[int] = _opt("n_ctx"),
    n_batch: Optional[int] = _opt("n_batch"),
    torch_dtype: Optional[str] = _opt("torch_dtype"),
    batch_tokens: Optional[int] = _opt("batch_tokens"),
    provider: Optional[str] = _opt("provider"),
    graph_optimization: Optional[str] = _opt("graph_optimization"),
    channels_last: Optional[bool] = _opt("channels_last", "--channels-last/--no-channels-last"),
    preprocess: Optional[str] = _opt("preprocess"),
    batch_sizes: Optional[str] = _opt("batch_sizes"),
    exclude_calibration: Optional[bool] = _opt("exclude_calibration", "--exclude-calibration/--no-exclude-calibration"),
    accuracy_target: Optional[float] = _opt("accuracy_target"),
    endpoint: Optional[str] = _opt("endpoint"),
    api_key: Optional[str] = _opt("api_key"),
    concurrency: Optional[int] = _opt("concurrency"),
    request_timeout: Optional[float] = _opt("request_timeout"),
    energy: Optional[str] = _opt("energy"),
    watts_per_core: Optional[float] = _opt("watts_per_core"),
    android_serial: Optional[str] = _opt("android_serial"),
    idle_seconds: Optional[float] = _opt("idle_seconds"),
    output_dir: Optional[Path] = _opt("output_dir"),
    log_texts: Optional[bool] = _opt("log_texts", "--log-texts/--no-log-texts"),
    resume: bool = typer.Option(False, "--resume", help="Continue the newest unfinished run of this model and bench whose settings match (or --run-dir).",
                                rich_help_panel="Output"),
    run_dir: Optional[Path] = typer.Option(None, help="With --resume: the run folder to continue.",
                                           rich_help_panel="Output"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or report; print the run folder (alone, unwrapped: for scripts).",
                               rich_help_panel="Output"),
) -> None:
    """Evaluate a model on a benchmark: multiple choice under several orderings of the options, or images."""
    import mobeval.engine as engine
    from mobeval.config import load_config
    from mobeval.core.runners import entry as runner_entry
    from mobeval.core.redact import redact_text, url_secrets
    from mobeval.report import print_report

    job_secrets = _job_secrets()  # a flag given beats them, as it beats the config file
    endpoint = endpoint if endpoint is not None else job_secrets.get("endpoint")
    api_key = api_key if api_key is not None else job_secrets.get("api_key")
    overrides = dict(
        task=task, model=model, bench=bench, runner=runner, data=data, answers=answers, labels=labels, shots=shots,
        subjects=[s.strip() for s in subjects.split(",")] if subjects else None,
        column=_parse_columns(column), template=template, method=method, max_tokens=max_tokens,
        chat=chat, orderings=orderings, max_prompts=max_prompts, limit=limit, seed=seed, shard=shard, until=until, budget=budget,
        threads=threads,
        n_ctx=n_ctx, n_batch=n_batch, torch_dtype=torch_dtype, batch_tokens=batch_tokens, provider=provider,
        graph_optimization=graph_optimization, channels_last=channels_last, preprocess=preprocess,
        batch_sizes=_parse_sizes(batch_sizes), exclude_calibration=exclude_calibration,
        accuracy_target=accuracy_target, endpoint=endpoint,
        api_key=api_key, concurrency=concurrency, request_timeout=request_timeout, energy=energy,
        watts_per_core=watts_per_core,
        android_serial=android_serial, idle_seconds=idle_seconds, output_dir=output_dir, log_texts=log_texts,
    )
    run_folder = None
    # `kill` (SIGTERM) stops a run as Ctrl-C does: the segment is written (no "killed segment"), then exit 143
    on_main = threading.current_thread() is threading.main_thread()  # only the main thread may set a handler
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main else None
    secrets = [api_key, *url_secrets(endpoint)]  # masked in any message (redact.py)
    try:
        cfg = load_config(config, overrides)
        env_key = os.environ.get("MOBEVAL_API_KEY")
        if env_key and cfg.api_key is None and runner_entry(cfg.runner, cfg.task).remote:  # local runners never see it
            cfg = cfg.with_changes(api_key=env_key)
        secrets += [cfg.api_key, *url_secrets(cfg.endpoint)]
        plan = engine.plan(cfg)
        run_folder = engine.open_run_dir(plan, resume, run_dir)
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=err, disable=quiet, transient=False,
        ) as bar:
            job = bar.add_task(escape(f"{plan.alias} / {cfg.bench}"), total=len(plan.task.item_ids))  # in [bold]
            engine.execute(plan, run_folder, lambda done, total: bar.update(job, completed=done),
                           on_open=None if quiet else lambda r: err.print(f"run folder: {r.path}", highlight=False,
                                                                          markup=False))
    except MobevalError as exc:
        if run_folder is not None and run_folder.exists and run_folder.samples():
            fail(redact_text(f"{exc}\nfinished questions are kept in {run_folder.path}; "
                             "continue with the same command and --resume", secrets), exc.exit_code)
        fail(redact_text(str(exc), secrets), exc.exit_code)
    except KeyboardInterrupt as exc:
        where = f" in {escape(str(run_folder.path))}" if run_folder is not None and run_folder.exists else ""
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        err.print(f"\n[yellow]{what}[/]: finished questions are kept{where}, with the segment's time, memory and "
                  "energy; continue with the same command and --resume")
        raise typer.Exit(EXIT_TERMINATED if isinstance(exc, Terminated) else 130)
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if quiet:
        emit(str(run_folder.path))
        return
    print_report(run_folder.result(), out)
    files = ["result.json", *plan.kind.outputs]
    out.print("\n".join(f"{Path(f).stem}: {run_folder.path / f}" for f in files), highlight=False, markup=False,
              soft_wrap=True)
