"""A run's configuration: defaults, then a YAML file (--config), then command-line flags.

Every key is the name of its `mobeval run` flag with dashes as underscores (`n_ctx` is `--n-ctx`).
Validation happens here, before anything is written to disk: value ranges, the endpoint URL, and
settings given that the chosen runner, method or energy mode would not use (an error naming the flag,
never a silent no-op). Runner settings default to None ("not given") and get the chosen runner's own
default once it is known (mobeval.core.runners.REGISTRY), so a given setting can be told from a default.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mobeval.core.benchmarks import BENCHMARKS, DEFAULT_BENCH, bench_entry, canonical_bench
from mobeval.core.errors import MobevalError
from mobeval.core.options import BenchOptions
from mobeval.core.kinds import KINDS, kind_entry
from mobeval.core.orderings import DEFAULT_MAX_PROMPTS, validate_spec
from mobeval.core.runners import KEYWORDS, REGISTRY, RUNNER_SETTINGS, all_entries, check_settings, entry, flag

MAX_N_CTX = 1 << 20  # a context beyond a million tokens is a typo, not a setting
RENAMED = {"n_threads": "threads", "columns": "column"}  # old config key -> its flag's name; still accepted
SECRET = {"api_key", "endpoint"}  # never echoed in an error (an endpoint may carry user:password)
# What a default of None means, for --help and the README (runner settings: see runner_default_text)
NONE_MEANS = {
    "model": "the task's: " + ", ".join(f"{e.default_model} ({k})" for k, e in KINDS.items())
             + "; with a remote runner, the server's model",
    "task": "the benchmark's",
    "bench": f"{DEFAULT_BENCH}; with --task, that task's bundled set",
    "runner": "the task's: " + ", ".join(f"{e.default_runner} ({k})" for k, e in KINDS.items()),
    "data": "the hub, or the bundled file",
    "template": "the benchmark's",
    "limit": "every question",
    "subjects": "every subject",
    "shard": "every selected item",
    "until": "no interval rule",
    "budget": "none",
}
# Settings that only some task kinds use (benchmark options are checked by the benchmark itself): one
# listed for any kind is refused for a kind that does not list it
KIND_SETTINGS = {name: e.settings for name, e in KINDS.items()}
# Settings that only mean something under another setting's value: (key, needs key, needs value); checked
# only where the task uses the needed setting (vlm answers take --max-tokens without --method)
DEPENDS = (
    ("max_tokens", "method", "generate"),
    ("watts_per_core", "energy", "estimate"),
    ("android_serial", "energy", "android"),
)


def _d(description: str, default: Any = None, **kw: Any) -> Any:
    if "default_factory" in kw:
        return Field(description=description, **kw)
    return Field(default, description=description, **kw)


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = _d("Model alias (see `mobeval list models`) or a .gguf path; for a remote runner, the "
                           "served model's name; for mlc/transformers also a model folder or hub id.")
    task: str | None = _d("Task kind: mcq | image-classification | spectrum-segmentation | vlm (see `mobeval list "
                          "benches`); alone, it runs that kind's bundled benchmark.")
    bench: str | None = _d("Benchmark (see `mobeval list benches`).")
    runner: str | None = _d("Runtime (see `mobeval list runners`).")
    data: Path | None = _d("Local copy of the benchmark data instead of the hub.")
    answers: Path | None = _d("CSV question_id,answer supplying an answer key.")
    labels: Path | None = _d("imagefolder: labels file (.txt class per line, or .csv file/folder,class_index).")
    shots: int = _d("k-shot examples (mmlu).", 0)
    column: dict[str, str] = _d("mcq column mapping KEY=VALUE (a mapping in a config file); repeatable.",
                                default_factory=dict)
    subjects: list[str] = _d("Comma-separated fields to keep (mmlu); a list in a config file.",
                             default_factory=list)
    template: str | dict[str, str] | None = _d(
        "Prompt template name (see `mobeval list templates`); in a config file also a mapping overriding "
        "fields of one.")
    method: Literal["logprob", "generate"] = _d(
        "logprob (letter log-probabilities) or generate (parse the reply).", "logprob")
    max_tokens: int = _d("New tokens for --method generate; vlm: the longest answer.", 5, ge=1)
    chat: bool = _d("Wrap prompts in the model's chat template.", False)
    orderings: str = _d("original | cyclic | random:N | all (n! per question).", "cyclic")
    max_prompts: int = _d("Refuse a run of more prompts (questions x orderings) than this, e.g. --orderings "
                          "all on 10 options; raise it to confirm.", DEFAULT_MAX_PROMPTS, ge=1)
    limit: int | None = _d("Stratified sample of N questions over fields.", ge=1)
    seed: int = _d("Seed for --limit and random orderings.", 0, ge=0)
    shard: str | None = _d("K/N: run only shard K of N of the selected items (sha256 of the item id mod N "
                           "is K-1); join the N run folders with `mobeval merge`.")
    until: str | None = _d("Stop once the 95% confidence sequence of the kind's per-item figure is this narrow: "
                           "ci=0.02 (±2 points); items run in a seeded random order (see docs/sequential.md).")
    budget: str | None = _d("Stop at a budget: evaluation time (90s, 20m, 1.5h), items (500) or energy (5Wh, "
                            "where a meter exists); comma-separated parts, and --until: whichever comes first.")
    threads: int | None = _d("Threads for the runtime.", ge=1)
    n_ctx: int | None = _d("Context length (tokens).", ge=1, le=MAX_N_CTX)
    n_batch: int | None = _d("Prompt batch size (tokens).", ge=1, le=MAX_N_CTX)
    # transformers runner: weights' dtype; tokens run per forward pass (prompts packed, see runners/packing)
    torch_dtype: Literal["float32", "bfloat16", "float16"] | None = _d("transformers: the weights' dtype.")
    batch_tokens: int | None = _d("transformers: tokens per forward pass, prompts packed.", ge=1)
    # vision runners
    provider: str | None = _d("onnxruntime: execution provider (cpu, xnnpack, openvino, coreml, qnn, cuda, dml).")
    graph_optimization: Literal["disable", "basic", "extended", "all"] | None = _d(
        "onnxruntime: graph optimisation level.")
    channels_last: bool | None = _d("torch: NHWC (channels-last) weights and inputs.")
    preprocess: str | None = _d("Images: preprocessing preset name or JSON file (default: the "
                                "model's own).")
    batch_sizes: list[int] = _d("Images and captures: batch sizes for the throughput "
                                "pass after the single-stream one (separated by commas; empty: none).",
                                default_factory=list)
    exclude_calibration: bool = _d("A quantized image model: leave out the images that calibrated "
                                   "it (without this, a run that would evaluate one is refused).", False)
    accuracy_target: float = _d("A quantized image model: share of the float model's top-1 it "
                                "must keep to pass (MLPerf Mobile: 0.98).", 0.98, gt=0, le=1)
    # remote runners (an OpenAI-compatible server); the key is never written to results or logs
    endpoint: str | None = _d("Remote runners: the server's base URL, e.g. http://127.0.0.1:8080/v1.")
    api_key: str | None = Field(default=None, exclude=True, repr=False,
                                description="Remote runners: API key, or the environment variable MOBEVAL_API_KEY (never written to results).")
    concurrency: int | None = _d("Remote runners: requests in flight at once.", ge=1)
    request_timeout: float | None = _d("Remote runners: seconds per request.", gt=0)
    # energy: auto = every real counter found (RAPL, NVML); estimate = an estimate beside them;
    # android = a phone's battery over adb; off = none
    energy: Literal["auto", "estimate", "android", "off"] = _d(
        "auto (RAPL/NVML where readable) | estimate | android | off.", "auto")
    watts_per_core: float = _d("--energy estimate: assumed watts per busy core.", 4.0, gt=0)
    android_serial: str | None = _d("--energy android: the adb serial of the phone.")
    idle_seconds: float = _d("Idle-power window before the run, where a counter exists.", 2.0, ge=0)
    output_dir: Path = _d("Where run folders go.", Path("results"))
    log_texts: bool = _d("Keep each question's text and options (original order) in samples.jsonl, for per-item "
                         "analysis without the data.", False)

    @field_validator("orderings")
    @classmethod
    def _orderings(cls, v: str) -> str:
        return validate_spec(v)

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str | None) -> str | None:
        if v is None:
            return v
        k, sep, n = v.partition("/")
        if not (sep and k.strip().isdigit() and n.strip().isdigit()) or not 1 <= int(k) <= int(n):
            raise ValueError("expected K/N with 1 <= K <= N, e.g. 1/4")
        return f"{int(k)}/{int(n)}"

    @field_validator("until")
    @classmethod
    def _until(cls, v: str | None) -> str | None:
        from mobeval.stopping import parse_until

        return None if v is None else parse_until(v).text

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        from mobeval.stopping import parse_budget

        if v is None:
            return v
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ValueError("expected a time (20m), a number of items (500) or an energy (5Wh), as text")
        return parse_budget(v).text

    @property
    def sequential(self) -> bool:
        """The run stops by a rule (--until, --budget): its items run in a seeded random order."""
        return self.until is not None or self.budget is not None

    @property
    def until_rule(self):
        """--until parsed (mobeval.stopping.Until); None when not given."""
        from mobeval.stopping import parse_until

        return None if self.until is None else parse_until(self.until)

    @property
    def budget_rule(self):
        """--budget parsed (mobeval.stopping.Budget); None when not given."""
        from mobeval.stopping import parse_budget

        return None if self.budget is None else parse_budget(self.budget)

    @property
    def shard_parts(self) -> tuple[int, int] | None:
        """--shard as (K, N); None when the run is not a shard."""
        if self.shard is None:
            return None
        k, n = self.shard.split("/")
        return int(k), int(n)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc}); expected http://HOST:PORT/v1") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected http(s)://HOST[:PORT]/v1, with a scheme and a host")
        return v

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, v: list[int]) -> list[int]:
        if any(b < 1 for b in v):
            raise ValueError("every batch size must be at least 1")
        return sorted(set(v))

    @model_validator(mode="after")
    def _fits_the_run(self) -> RunConfig:
        """Fill the task, benchmark and runner from each other; then settings given that this task,
        runner, method or energy mode would not use are errors; then the runner's own defaults fill
        the runner settings not given."""
        given = {k for k in self.model_fields_set if getattr(self, k) not in (None, [], {})}
        self._fill_task()
        mine = KIND_SETTINGS.get(self.task, ())
        for kind, keys in KIND_SETTINGS.items():
            if kind != self.task:
                wrong = [k for k in keys if k in given and k not in mine]
                if wrong:
                    users = [n for n, ks in KIND_SETTINGS.items() if all(k in ks for k in wrong)]
                    raise MobevalError(f"{', '.join(flag(k) for k in wrong)}: for {' and '.join(users)} tasks only; "
                                       f"this run is {self.task} (--bench {self.bench})")
        check_settings(self.runner, {k: getattr(self, k) for k in RUNNER_SETTINGS if k in given}, self.task)
        kind_of = {k for keys in KIND_SETTINGS.values() for k in keys}
        for key, needs, value in DEPENDS:
            if needs in kind_of and needs not in mine:
                continue
            if key in given and getattr(self, needs) != value:
                raise MobevalError(f"{flag(key)} is used only with {flag(needs)} {value} (this run: "
                                   f"{flag(needs)} {getattr(self, needs)}); drop it or set {flag(needs)} {value}")
        for key, default in entry(self.runner, self.task).settings.items():
            if getattr(self, key) is None and default is not None:
                object.__setattr__(self, key, default)  # not marked as given
        self._check_stopping()
        return self

    def _check_stopping(self) -> None:
        """--until/--budget against the rest: a shard has no whole selection to estimate; an energy budget
        needs a meter, which --energy off turns off."""
        if not self.sequential:
            return
        given = " and ".join(f"{flag(k)} {getattr(self, k)}" for k in ("until", "budget") if getattr(self, k))
        if self.shard is not None:
            raise MobevalError(f"{given}: not with --shard {self.shard} (an early stop estimates the whole "
                               "selection; a shard is part of it): drop one of them")
        budget = self.budget_rule
        if budget is not None and budget.joules is not None and self.energy == "off":
            raise MobevalError(f"--budget {self.budget}: the energy part ({budget.shown['joules']}) needs an energy "
                               "meter, and --energy off turns them off; drop that part or the --energy off")

    def _fill_task(self) -> None:
        if self.task is not None:
            kind_entry(self.task)  # an unknown kind is an error naming the known ones
        if self.bench is None:
            object.__setattr__(self, "bench", kind_entry(self.task).default_bench if self.task else DEFAULT_BENCH)
        object.__setattr__(self, "bench", canonical_bench(self.bench))
        bench_kind = bench_entry(self.bench).kind
        if self.task is None:
            object.__setattr__(self, "task", bench_kind)
        elif self.task != bench_kind:
            same = [n for n, e in BENCHMARKS.items() if e.kind == self.task]
            raise MobevalError(f"--bench {self.bench} is a {bench_kind} benchmark, not {self.task}; "
                               f"{self.task} benchmarks: {', '.join(same)}")
        if self.runner is None:
            object.__setattr__(self, "runner", kind_entry(self.task).default_runner)

    @property
    def model_name(self) -> str:
        return self.model or kind_entry(self.task).default_model

    def bench_options(self) -> BenchOptions:
        """Every benchmark option this run was given: each plan hands the benchmark all of them, so one the
        benchmark does not take (--labels for a question set, --answers for images) is refused by name."""
        return BenchOptions(data=self.data, answers=self.answers, shots=self.shots, columns=self.column,
                            subjects=tuple(self.subjects), labels=self.labels)

    def runner_settings(self) -> dict[str, Any]:
        """The runner settings given, or defaulted for the chosen runner, as constructor keywords, plus
        chat and seed. A default filled for another runner is left out, so a copy with only `runner`
        changed (model_copy) still passes check_settings; make_runner passes each runner those it takes."""
        taken, given = entry(self.runner, self.task).settings, self.model_fields_set
        return {**{KEYWORDS.get(k, k): getattr(self, k) for k in RUNNER_SETTINGS if k in given or k in taken},
                "chat": self.chat, "seed": self.seed}

    def with_changes(self, **changes: Any) -> RunConfig:
        """A copy with `changes`, validated again from the settings given (not the defaults filled for
        the old runner): use it, not model_copy, to switch runners."""
        return RunConfig(**{**{k: getattr(self, k) for k in self.model_fields_set}, **changes})


def runner_default_text(key: str) -> str | None:
    """A runner setting's default per runner, e.g. "2048 (llama.cpp); 4096 (llama.cpp-mtmd)"; one default that
    every runner taking the setting shares is shown alone ("all cores")."""
    by_value: dict[str, list[str]] = {}
    for name, e in all_entries():
        if key in e.settings:
            d = e.settings[key]
            text = "all cores" if key == "threads" and d is None else ("none" if d is None else str(d))
            label = name if e.kinds == REGISTRY[name].kinds else f"{name} for {', '.join(e.kinds)}"
            by_value.setdefault(text, []).append(label)
    if len(by_value) == 1 and len(next(iter(by_value.values()))) > 2:
        return next(iter(by_value))
    return "; ".join(f"{text} ({', '.join(names)})" for text, names in by_value.items()) or None


def default_text(key: str) -> str | None:
    """The default of a config key as --help and the README show it; None where there is none to show."""
    if key in RUNNER_SETTINGS:
        return runner_default_text(key)
    info = RunConfig.model_fields[key]
    value = info.get_default(call_default_factory=True)
    if value is None:
        return NONE_MEANS.get(key)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)) and not value:
        return None
    return f"{value:,}" if isinstance(value, int) and value >= 10_000 else str(value)


def choices(key: str) -> tuple[str, ...] | None:
    """The values a config key takes when they are a fixed set (a Literal field), else None."""
    from typing import get_args, get_origin

    annotation = RunConfig.model_fields[key].annotation
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is Literal:
            return tuple(str(v) for v in get_args(candidate))
    return None


# `mobeval run --help` in panels: each config key's panel (a key not listed goes under "Other settings")
PANELS = {
    "Model and runner": ("model", "task", "runner", "endpoint", "api_key", "concurrency", "request_timeout"),
    "Benchmark and data": ("bench", "data", "answers", "labels", "shots", "subjects", "column", "limit", "seed",
                           "shard"),
    "Stopping early": ("until", "budget"),
    "Prompting and orderings": ("template", "method", "max_tokens", "chat", "orderings", "max_prompts"),
    "Runtime settings": ("threads", "n_ctx", "n_batch", "torch_dtype", "batch_tokens"),
    "Vision runtimes": ("provider", "graph_optimization", "channels_last"),
    "Images and captures": ("preprocess", "batch_sizes", "exclude_calibration", "accuracy_target"),
    "Energy": ("energy", "watts_per_core", "android_serial", "idle_seconds"),
    "Output": ("output_dir", "log_texts"),
}


def panel(key: str) -> str:
    return next((name for name, keys in PANELS.items() if key in keys), "Other settings")


def help_text(key: str) -> str:
    """The --help line of a config key's flag: its description (the default goes in show_default)."""
    return RunConfig.model_fields[key].description or ""


def settings_table() -> str:
    """Every config key as a markdown table (the README's copy is checked against it by a test)."""
    rows = ["| config key | flag | default | meaning |", "|---|---|---|---|"]
    for key, info in RunConfig.model_fields.items():
        d = default_text(key)
        desc = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{flag(key)}` | {d.replace('|', '/') if d else '—'} | {desc} |")
    return "\n".join(rows)


def _problem(err: dict, key_source: dict[str, str]) -> str:
    key = str(err["loc"][0]) if err["loc"] else ""
    if err["type"] == "extra_forbidden":
        where = key_source.get(key, "flags")
        where = "the settings given" if where == "flags" else where
        return (f"unknown setting {key!r} in {where}; the keys are the `mobeval run` flags with dashes as "
                f"underscores: {', '.join(RunConfig.model_fields)}")
    bounds = {"greater_than_equal": ("ge", "at least"), "greater_than": ("gt", "more than"),
              "less_than_equal": ("le", "at most")}
    if err["type"] in bounds:
        bound, words = bounds[err["type"]]
        msg = f"must be {words} {err['ctx'][bound]:,}"
    else:
        msg = err["msg"].removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
    if key not in RunConfig.model_fields:
        return f"{key}: {msg}" if key else msg
    value = "" if key in SECRET else " " + shown(err["input"], as_repr=isinstance(err["input"], str))
    source = key_source.get(key)
    if source is None or source == "flags":
        return f"{flag(key)}{value}: {msg} (config key {key})"
    return f"{key}:{value} in {source}: {msg} (flag {flag(key)})"


SHOWN_CHARS = 80  # of a value quoted in an error: a file's value may be huge (an alias bomb, a pasted blob)
MAX_YAML_NODES = 100_000  # values a settings file may hold once its aliases are expanded


def shown(value: Any, as_repr: bool = True, limit: int = SHOWN_CHARS) -> str:
    """A value as an error message quotes it: its repr (or str), cut to `limit` characters."""
    text = repr(value) if as_repr else str(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


class _BoundedLoader(yaml.SafeLoader):
    """yaml.safe_load's loader, refusing a document whose aliases (*name) expand to more than
    MAX_YAML_NODES values: a few lines of anchors nested 9 deep (a "billion laughs") expand to 9^9
    values, which validation or an error message would walk. Checked on the composed nodes, before any
    Python object is made."""

    def compose_document(self):  # noqa: ANN201  (PyYAML's)
        node = super().compose_document()
        if _expanded_size(node, MAX_YAML_NODES) > MAX_YAML_NODES:
            raise yaml.YAMLError(f"its aliases (*name) expand to more than {MAX_YAML_NODES:,} values, or refer "
                                 "to themselves; write the values out")
        return node


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in the document with every alias expanded, counted on the shared node graph (each node once,
    its size remembered), stopping past `limit`; a node inside itself (a recursive alias) counts as past."""
    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        return []

    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children(node))
            if sizes[key] > limit:
                return sizes[key]
        elif key in open_:
            return limit + 1
        elif key not in sizes:
            open_.add(key)
            stack.append((node, True))
            stack += [(c, False) for c in children(node) if id(c) not in sizes]
    return sizes[id(root)]


def load_yaml(text: str) -> Any:
    """yaml.safe_load for files a user gives (--config, a matrix plan): a yaml.YAMLError, never a hang or a
    MemoryError, for an alias bomb or nesting too deep for the parser."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506  (a SafeLoader)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def _renamed(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Old key names mapped to the flag names, with a note on stderr."""
    out = dict(values)
    for old, new in RENAMED.items():
        if old in out:
            if new in out:
                raise MobevalError(f"{where}: both {old!r} and {new!r} given; keep {new!r} (the flag's name)")
            out[new] = out.pop(old)
            print(f"note: {where}: setting {old!r} is now called {new!r} ({flag(new)}); {old!r} still works",
                  file=sys.stderr)
    return out


def load_config(path: Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Defaults < YAML file < flags given on the command line (None means not given)."""
    values: dict[str, Any] = {}
    key_source: dict[str, str] = {}
    if path is not None:
        try:
            loaded = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise MobevalError(f"--config {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise MobevalError(f"--config {path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise MobevalError(f"--config {path}: expected a mapping of settings")
        values.update(_renamed(loaded, f"--config {path}"))
        key_source.update({str(k): f"--config {path}" for k in values})
    given = _renamed({k: v for k, v in overrides.items() if v is not None}, "settings")
    values.update(given)
    key_source.update({k: "flags" for k in given})
    try:
        return RunConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(_problem(e, key_source) for e in exc.errors())
        raise MobevalError(f"invalid run configuration: {problems}") from exc
