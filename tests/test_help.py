"""Every command's help, rendered at 80 and 200 columns: whole flag names, each `run` default and panel as the
code has them, and every install hint naming an extra that pyproject.toml defines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.config import PANELS, RunConfig, choices, default_text
from mobeval.core.runners import flag

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def _commands(cmd, path: tuple[str, ...] = ()):
    yield path, cmd
    if hasattr(cmd, "commands"):  # a group (typer vendors click: not click.Group)
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _flat(text: str) -> str:
    """The help without its box and line breaks: what a reader reads across wrapped lines."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", text)


def _help(path: tuple[str, ...], width: int) -> str:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(width)})
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    return res.output


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "mobeval" for p, _ in COMMANDS])
def test_every_help_renders_whole(path, cmd, width):
    text = _help(path, width)
    for param in cmd.params:
        for name in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
            if name.startswith("--"):
                assert re.search(re.escape(name) + r"(?![\w-])", text), f"{name} cut or missing in {path} --help"
        if getattr(param, "help", None):  # every word of the help shows: none is eaten as rich markup
            assert _flat(param.help.replace("\\[", "[")) in _flat(text), f"{path} {param.name}'s help is cut: {param.help!r}"
        if getattr(param, "is_flag", False):
            line = next((line for line in text.splitlines() if param.opts[0] in line), "")
            assert "<bool>" not in line, f"{param.opts[0]} shows a value it does not take"
    assert "…" not in text, f"something is cut short in {' '.join(path)} --help"
    for extra in re.findall(r"mobeval\[([\w,-]+)\]|\.\[([\w,-]+)\]", text):
        for name in ",".join(e for e in extra if e).split(","):
            assert name in EXTRAS, f"{' '.join(path)} --help names the extra {name!r}, which pyproject.toml lacks"


@pytest.mark.parametrize("width", [80, 200])
def test_run_help_shows_each_default_choice_and_panel_from_the_code(width):
    text = _help(("run",), width)
    flat = _flat(text)
    for key in RunConfig.model_fields:
        assert _flat(flag(key)) in flat
        default = default_text(key)
        if default:
            assert _flat(default) in flat, f"the default of {flag(key)} ({default}) is not in run --help"
        values = choices(key)
        if values:
            assert _flat("[one of: " + ", ".join(values) + "]") in flat
    for name in PANELS:
        assert f"─ {name} " in text
    # the kinds' defaults come from their catalog entries (the spectrum kind runs spectrum-torch, not energy-detector)
    assert _flat("spectrum-torch (spectrum-segmentation)") in flat


def test_install_hints_keep_their_brackets():
    res = CliRunner().invoke(app, ["list", "benches"], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "pip install 'mobeval[torchsig]'" in res.output


def test_version():
    from mobeval.core.version import __version__

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output == f"mobeval {__version__}\n"


def test_a_benchmark_given_to_task_points_at_bench():
    res = CliRunner().invoke(app, ["run", "--task", "mmlu"])
    assert res.exit_code == 2 and "mmlu is a benchmark: --bench mmlu" in res.output
    res = CliRunner().invoke(app, ["run", "--bench", "mmul"])
    assert res.exit_code == 2 and "did you mean mmlu?" in res.output
