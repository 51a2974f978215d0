"""One validation layer for run settings: every setting given that the run would not use is an error
naming the flag, ranges are checked before anything is written, --help shows the real defaults, config
keys are the flag names and the docs list them all (issue 11, items 1, 6, 7)."""

import inspect
import json
import re
import time
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.config import RENAMED, RunConfig, default_text, load_config, settings_table
from mobeval.core.errors import MobevalError
from mobeval.core.orderings import check_prompt_count, orderings_per_question
from mobeval.text.prompts import load_template
from mobeval.results.store import RunDir, utc_now
from mobeval.core.runners import (KEYWORDS, REGISTRY, RUNNER_SETTINGS, _runner_class, all_entries, check_kind,
                             check_settings, entry)

DOCS = Path(__file__).resolve().parents[1] / "docs"
SETTINGS_PAGE = DOCS / "settings.md"  # the settings table (it was README's)
MEASURED_PAGE = DOCS / "measurements.md"  # the MMLU run and its independent accuracy check (README's before)
cli = CliRunner()
REMOTE = ["--runner", "openai", "--endpoint", "http://127.0.0.1:9/v1"]  # port 9: nothing is reached


def refused(tmp_path, *args, command="run"):
    """The command fails with one clear line, and leaves nothing on disk."""
    out = tmp_path / "out"
    extra = ["--output-dir", str(out)]
    res = cli.invoke(app, [command, *args, *extra])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
    assert not out.exists() or not any(out.iterdir()), "something was written before validation passed"
    return res.output


# -- item 1: settings the chosen runner does not take ------------------------------------------------
@pytest.mark.parametrize("args,flag", [
    (["--threads", "2"], "--threads"), (["--n-ctx", "512"], "--n-ctx"), (["--n-batch", "64"], "--n-batch"),
    (["--torch-dtype", "float16"], "--torch-dtype"),
])
def test_remote_runner_refuses_local_settings(tmp_path, args, flag):
    out = refused(tmp_path, *REMOTE, *args)
    assert "runner openai does not take" in out and flag in out


@pytest.mark.parametrize("args,flag", [
    (["--endpoint", "http://127.0.0.1:9/v1"], "--endpoint"), (["--concurrency", "2"], "--concurrency"),
    (["--request-timeout", "5"], "--request-timeout"),
])
def test_local_runner_refuses_remote_settings(tmp_path, args, flag):
    out = refused(tmp_path, *args)
    assert "runner llama.cpp does not take" in out and flag in out


def test_a_config_file_setting_the_runner_does_not_take_is_refused_too(tmp_path):
    cfg = tmp_path / "remote.yaml"
    cfg.write_text("runner: openai\nendpoint: http://127.0.0.1:9/v1\nn_ctx: 4096\n")
    assert "--n-ctx" in refused(tmp_path, "--config", str(cfg))


@pytest.mark.parametrize("args,flag", [
    (["--max-tokens", "7"], "--max-tokens"),  # only with --method generate
    (["--watts-per-core", "5"], "--watts-per-core"),  # only with --energy estimate
    (["--android-serial", "abc"], "--android-serial"),  # only with --energy android
])
def test_settings_for_another_method_or_energy_mode_are_refused(tmp_path, args, flag):
    out = refused(tmp_path, *args)
    assert flag in out and "used only with" in out


def test_runner_defaults_apply_per_runner_and_given_is_told_from_default():
    local = load_config(None, {})
    assert (local.n_ctx, local.n_batch, local.threads, local.concurrency) == (2048, 512, None, None)
    remote = load_config(None, {"runner": "openai", "endpoint": "http://127.0.0.1:9/v1"})
    assert (remote.n_ctx, remote.n_batch, remote.concurrency, remote.request_timeout) == (None, None, 1, 60.0)
    assert remote.model_dump()["n_ctx"] is None  # what result.json records: nothing the run did not use
    tf = load_config(None, {"runner": "transformers"})
    assert (tf.torch_dtype, tf.batch_tokens, tf.n_ctx) == ("float32", 640, None)


def test_switching_runner_drops_only_defaults_of_the_old_one():
    from mobeval.core.runners import check_settings

    base = load_config(None, {"limit": 3})  # llama.cpp: n_ctx 2048 filled in, not given
    copied = base.model_copy(update={"runner": "transformers"})
    check_settings(copied.runner, copied.runner_settings())  # the filled default is not held against it
    again = base.with_changes(runner="transformers")
    assert (again.n_ctx, again.torch_dtype, again.limit) == (None, "float32", 3)
    with pytest.raises(MobevalError, match=r"runner transformers does not take: n_ctx \(--n-ctx\)"):
        load_config(None, {"n_ctx": 512}).with_changes(runner="transformers")  # given: still an error


@pytest.mark.parametrize("name,kind", [(n, e.kinds[0]) for n, e in all_entries()])
def test_registry_settings_are_the_constructors_keywords_and_defaults(name, kind):
    """The defaults --help and the README show are the ones each runner (and each kind's variant of it)
    uses: checked, so they cannot drift."""
    params = inspect.signature(_runner_class(name, kind)).parameters
    keyword = {**{k: k for k in RUNNER_SETTINGS}, **{KEYWORDS.get(k, k): k for k in RUNNER_SETTINGS}}
    takes = {keyword[p]: v.default for p, v in params.items() if p in keyword}
    empty = inspect.Parameter.empty
    assert {k: (None if d is empty else d) for k, d in takes.items()} == dict(entry(name, kind).settings)


def test_a_runner_name_serves_each_kind_with_its_variant():
    """`--runner openai` on image questions is the openai runner's vlm variant; its settings are checked
    against that variant (--concurrency is the text runner's only)."""
    assert entry("openai", "vlm").target.endswith("OpenAIVlmRunner") and entry("openai", "mcq") is REGISTRY["openai"]
    check_kind("transformers", "vlm")
    with pytest.raises(MobevalError, match="runner hybrid does not serve mcq"):
        check_kind("hybrid", "mcq")
    with pytest.raises(MobevalError, match=r"runner openai does not take: concurrency"):
        check_settings("openai", {"concurrency": 4}, "vlm")
    check_settings("openai", {"concurrency": 4}, "mcq")


# -- item 1: ranges, each error naming the flag -------------------------------------------------------
@pytest.mark.parametrize("args,flag", [
    (["--max-tokens", "0", "--method", "generate"], "--max-tokens 0"),
    (["--watts-per-core", "-5", "--energy", "estimate"], "--watts-per-core -5"),
    (["--watts-per-core", "0", "--energy", "estimate"], "--watts-per-core 0"),
    (["--threads", "-3"], "--threads -3"),
    (["--threads", "0"], "--threads 0"),
    (["--n-ctx", "0"], "--n-ctx 0"),
    (["--n-ctx", "99999999"], "--n-ctx 99999999"),
    (["--n-batch", "0"], "--n-batch 0"),
    ([*REMOTE, "--request-timeout", "0"], "--request-timeout 0"),
    ([*REMOTE, "--concurrency", "0"], "--concurrency 0"),
    (["--limit", "-2"], "--limit -2"),
    (["--idle-seconds", "-1"], "--idle-seconds -1"),
    (["--seed", "-1"], "--seed -1"),
    (["--max-prompts", "0"], "--max-prompts 0"),
])
def test_nonsense_values_are_refused_naming_the_flag(tmp_path, args, flag):
    assert flag in refused(tmp_path, *args)


def test_a_bad_value_in_a_config_file_names_the_key_the_file_and_the_flag(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("n_ctx: 0\n")
    out = refused(tmp_path, "--config", str(cfg))
    assert "n_ctx: 0 in --config" in out and "bad.yaml" in out and "--n-ctx" in out


@pytest.mark.parametrize("url", ["http://[::1/v1", "http://user:s3cret@[::1/v1", "http://127.0.0.1:99999/v1",
                                 "127.0.0.1:8080/v1", "ftp://127.0.0.1/v1"])
def test_an_unparseable_endpoint_is_an_error_naming_the_flag_without_echoing_it(tmp_path, url):
    out = refused(tmp_path, "--runner", "openai", "--endpoint", url)
    assert "--endpoint" in out and "s3cret" not in out


# -- item 7: config keys are the flag names, listed in docs/settings.md; --help shows defaults -------
def _run_params():
    command = typer.main.get_command(app).commands["run"]
    return {p.name: p for p in command.params}


def test_every_config_key_is_a_run_flag_of_the_same_name():
    params = _run_params()
    for key in RunConfig.model_fields:
        assert key in params, f"config key {key} has no --{key.replace('_', '-')} flag"
        assert f"--{key.replace('_', '-')}" in params[key].opts


def test_old_config_key_names_work_with_a_note(tmp_path, capsys):
    cfg = tmp_path / "old.yaml"
    cfg.write_text("n_threads: 1\ncolumns: {question: prompt}\n")
    c = load_config(cfg, {})
    assert c.threads == 1 and c.column == {"question": "prompt"}
    err = capsys.readouterr().err
    for old, new in RENAMED.items():
        assert f"'{old}' is now called '{new}'" in err
    cfg.write_text("n_threads: 1\nthreads: 2\n")
    with pytest.raises(MobevalError, match="both 'n_threads' and 'threads'"):
        load_config(cfg, {})


def test_an_unknown_config_key_lists_the_known_ones(tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("n_thread: 2\n")
    out = refused(tmp_path, "--config", str(cfg))
    assert "unknown setting 'n_thread'" in out and "threads" in out


def test_help_shows_every_default():
    res = cli.invoke(app, ["run", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert res.exit_code == 0
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.output).split())
    for key in RunConfig.model_fields:
        shown = default_text(key)
        if shown:
            assert f"[default: {shown}]" in text, key
    assert "[default: 2048 (llama.cpp); 4096 (llama.cpp-mtmd)]" in text and "[default: cyclic]" in text and "[default: 5]" in text


def test_readme_lists_every_config_key():
    page = SETTINGS_PAGE.read_text(encoding="utf-8")
    table = settings_table()
    assert table in page, "docs/settings.md's settings table is stale; paste this in:\n" + table


def test_readme_code_fences_are_balanced_and_the_accuracy_check_appears_once():
    readme = MEASURED_PAGE.read_text(encoding="utf-8")
    fences = [line for line in readme.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert readme.count("python bench/independent_accuracy.py") == 1
    assert len(re.findall(r"^figure +independent +mobeval$", readme, flags=re.M)) == 1


# -- item 7: --orderings all on many options ------------------------------------------------------------
def test_orderings_all_on_ten_options_is_refused_with_an_estimate():
    assert orderings_per_question(10, "all") == 3_628_800
    with pytest.raises(MobevalError, match=r"3,628,800 prompts, more than --max-prompts 1,000,000"):
        check_prompt_count([10], "all")
    assert check_prompt_count([10], "all", max_prompts=4_000_000) == 3_628_800
    assert check_prompt_count([4] * 180, "cyclic") == 720


def _ten_option_file(tmp_path: Path) -> Path:
    path = tmp_path / "ten.jsonl"
    rows = [{"id": f"q{i}", "question": f"Question {i}?", "choices": [f"option {j}" for j in range(10)], "answer": "A"}
            for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_run_with_orderings_all_on_ten_options_refuses_before_starting(tmp_path):
    out = refused(tmp_path, "--bench", "mcq", "--data", str(_ten_option_file(tmp_path)), "--orderings", "all")
    assert "10,886,400 prompts" in out and "--max-prompts" in out


def test_more_random_orderings_than_exist_is_refused_before_a_folder_opens(tmp_path):
    out = refused(tmp_path, "--limit", "2", "--orderings", "random:30")
    assert "only 24 orderings exist for 4 options" in out


# -- item 7: a template overridden from a config is not reported under the built-in's name ---------------
def test_an_overridden_template_is_not_named_as_the_builtin():
    same = load_template({"name": "mmlu", "answer": "Answer:"}, "mobile-mmlu")
    assert same.name == "mmlu"  # nothing changed: it is the built-in
    changed = load_template({"name": "mmlu", "answer": "Answer (letter):"}, "mobile-mmlu")
    assert changed.name == "custom (mmlu with answer changed)"
    with pytest.raises(MobevalError, match="unknown field"):
        load_template({"name": "mmlu", "anwser": "x"}, "mmlu")


def test_a_run_with_the_custom_template_config_reports_it_as_custom(tmp_path):
    config = Path(__file__).resolve().parents[1] / "configs" / "custom-template.yaml"
    res = cli.invoke(app, ["run", "--config", str(config), "--limit", "1", "--orderings", "original",
                           "--output-dir", str(tmp_path), "--idle-seconds", "0"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    (d,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    name = json.loads((d / "result.json").read_text())["data"]["template"]["name"]
    assert name == "custom (mobile-mmlu with answer, choice changed)"
    assert f"template {name}" in " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.output).split())


# -- item 7: the report does not hide killed segments ------------------------------------------------------
def test_the_report_says_segments_were_killed_and_their_time_is_missing(tmp_path):
    args = ["run", "--limit", "2", "--orderings", "original", "--output-dir", str(tmp_path), "--idle-seconds", "0"]
    assert cli.invoke(app, [*args, "-q"]).exit_code == 0
    (d,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    lines = (d / "samples.jsonl").read_text().splitlines()
    (d / "samples.jsonl").write_text(lines[0] + "\n")  # as a kill after the first question leaves it
    (d / "result.json").unlink()
    RunDir(d).open_segment(utc_now())  # ... and a segment begun, never ended: what a kill -9 leaves
    time.sleep(1.1)  # segments are told apart by their start, to the second
    res = cli.invoke(app, [*args, "--resume"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.output).split())
    assert "1 run segment(s) killed" in text
    assert "2 segments recorded; 1 more killed: their time is missing" in text
    assert "at least" in text


def test_api_key_in_the_environment_reaches_remote_runners_only(tmp_path, monkeypatch):
    """MOBEVAL_API_KEY set for a server must not make a local run fail ("does not take: api_key"), as it did
    when the flag read the variable for every runner."""
    monkeypatch.setenv("MOBEVAL_API_KEY", "sk-environment-secret")
    done = CliRunner().invoke(app, ["run", "--limit", "1", "--orderings", "original", "--output-dir",
                                    str(tmp_path), "-q"])
    assert done.exit_code == 0, done.output
    run = next(tmp_path.iterdir())
    assert all("sk-environment-secret" not in f.read_text() for f in run.iterdir())


# -- issue 30 (security): a YAML alias bomb, a huge value ------------------------------------------------
def billion_laughs(indent: str = "  ") -> str:
    """The classic: 9 anchors, each a list of 9 aliases of the one before, under `limit:` (9^9 values once
    expanded, a few hundred bytes on disk)."""
    lines = [f"{indent}- &a0 [{', '.join(['lol'] * 9)}]"]
    lines += [f"{indent}- &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "limit:\n" + "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_in_a_config_file_is_refused_at_once(tmp_path):
    """Refused before anything walks the expanded value: one line naming the file, within seconds (it took
    60 s and 2.5 GB, then a MemoryError traceback). A subprocess, so that a regression times out instead
    of eating the test run's memory."""
    import os
    import subprocess
    import sys

    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(billion_laughs())
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "mobeval", "run", "--config", str(cfg), "--output-dir",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=30, check=False,
                         env={**os.environ, "COLUMNS": "250"})
    assert time.perf_counter() - t0 < 20, "the bomb was walked"
    assert res.returncode == 2, res.stderr
    assert f"--config {cfg}: not valid YAML: its aliases (*name) expand to more than 100,000 values" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr) < 1000, res.stderr
    assert not (tmp_path / "out").exists()


def test_anchors_that_expand_modestly_still_load(tmp_path):
    cfg = tmp_path / "anchors.yaml"
    cfg.write_text("column: &cols {question: q, answer: a}\nlimit: &n 3\nmax_prompts: *n\n")
    assert load_config(cfg, {}).limit == 3
    from mobeval.config import load_yaml

    assert len(load_yaml("a: &a [" + ", ".join(["x"] * 999) + "]\nb: [*a, *a, *a]\n")["b"]) == 3
    with pytest.raises(Exception, match="refer to themselves"):
        load_yaml("a: &a [1, *a]\n")


def test_an_error_quotes_a_huge_value_cut_short(tmp_path):
    cfg = tmp_path / "huge.yaml"
    cfg.write_text("limit: " + "x" * 20_000 + "\n")
    out = refused(tmp_path, "--config", str(cfg))
    assert "limit: 'xxxx" in out and "(20,002 characters)" in out and len(out) < 1000, out[:2000]
