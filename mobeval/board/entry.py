"""One run on the board: what it shows of a checked run folder, read from result.json and the integrity
check alone (printers read only the result), and stored as JSON in the index."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mobeval.board.figures import KIND_FIGURES, Estimate
from mobeval.report import killed_segments
from mobeval.results.integrity import RunCheck
from mobeval.results.schema import Result
from mobeval.core.kinds import task_kind

# marks, and the tier each puts a run in: 0 whole, 1 ranked below the whole ones, 2 and 3 never ranked
TIERS = {
    "latency invalid": 1,  # too few items or seconds for the latency figures (the shared validity rule)
    "estimate": 1,  # stopped early by --until/--budget: its figures are of a uniform sample of the selection
    "killed segment": 1,  # complete, but a segment was killed: its time, memory and energy are missing
    "unverified": 1,  # the result records no hash of its samples (an older mobeval)
    "partial": 2,  # the result counts only some of the selected items
    "shard": 2,  # one shard of a run split with --shard: part of the benchmark's selection (merge the shards)
    "samples after result": 2,  # a resumed run was stopped before writing its result
    "no result": 2,  # killed before its first result.json
    "damaged": 3,  # the folder contradicts itself (integrity problems)
}
RANKED_TIERS = (0, 1)


@dataclass
class Energy:
    value: float
    unit: str  # "J" per item, or per run when the kind counts no item
    per: str  # what the value is divided by ("question", "image", "run")
    source: str  # rapl, nvml, estimate, ...


@dataclass
class BoardEntry:
    path: str
    folder: str
    kind: str
    bench: str
    model: str
    runner: str
    runner_version: str = ""
    device: str = ""  # the CPU named in the result's environment
    cores: int | None = None
    model_format: str = ""  # quantization or file format
    model_size_bytes: float | None = None
    started_at: str = ""
    n_items: int | None = None  # items the result counts
    n_selected: int | None = None
    shard: str = ""  # "K/N" for one shard of a split run
    figures: dict[str, Estimate | None] = field(default_factory=dict)  # KIND_FIGURES order; first = headline
    latency_s: float | None = None
    latency_valid: bool | None = None
    latency_note: str = ""
    speed: float | None = None
    speed_unit: str = ""
    peak_rss_bytes: float | None = None
    energy: Energy | None = None
    energy_note: str = ""  # why energy is unavailable
    breakdown: dict[str, dict[str, Estimate | None]] = field(default_factory=dict)  # per field / per SNR
    stages_s: dict[str, float | None] = field(default_factory=dict)  # p50 seconds per part of an item (vlm)
    # a run under --until/--budget: its anytime-valid estimate (figure, estimate, low, high, stop_reason,
    # items_used, items_left, stopped_early), from result.json's sequential section
    sequential: dict[str, Any] | None = None
    marks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tier(self) -> int:
        return max((TIERS[m] for m in self.marks), default=0)

    @property
    def rankable(self) -> bool:
        return self.tier in RANKED_TIERS

    @property
    def headline(self) -> Estimate | None:
        return next(iter(self.figures.values()), None)

    @property
    def run_id(self) -> str:
        """The folder name past <model>__<bench>__: its time (and tag)."""
        parts = self.folder.split("__")
        return "__".join(parts[2:]) if len(parts) > 2 else self.folder

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["figures"] = {k: None if e is None else e.to_json() for k, e in self.figures.items()}
        d["breakdown"] = {g: {k: None if e is None else e.to_json() for k, e in fs.items()}
                          for g, fs in self.breakdown.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BoardEntry:
        d = dict(d)
        d["figures"] = {k: Estimate.from_json(e) for k, e in d["figures"].items()}
        d["breakdown"] = {g: {k: Estimate.from_json(e) for k, e in fs.items()} for g, fs in d["breakdown"].items()}
        d["energy"] = None if d["energy"] is None else Energy(**d["energy"])
        return cls(**d)


def _energy(r: Result, item_noun: str) -> tuple[Energy | None, str]:
    """Energy per item from the first measured source (an estimate only when nothing measured it)."""
    if "energy" in r.energy:
        return None, r.energy["energy"].note or "unavailable"
    sources = sorted({k.split(".", 1)[0] for k in r.energy}, key=lambda s: (s == "estimate", s))
    for source in sources:
        for key, per in ((f"{source}.energy_per_{item_noun}", item_noun), (f"{source}.energy", "run")):
            f = r.energy.get(key)
            if f is not None and f.value is not None:
                return Energy(f.value, f.unit, per, source), ""
    return None, "no energy figure"


def _marks(check: RunCheck) -> list[str]:
    r = check.result
    marks = []
    if check.problems:
        marks.append("damaged")
    if r is None:
        if not check.problems:
            marks.append("no result")
        return marks
    if r.status != "complete":
        marks.append("partial")
    if r.sequential is not None and r.sequential.stopped_early:
        marks.append("estimate")
    if r.data.get("shard"):
        marks.append("shard")
    if check.appended:
        marks.append("samples after result")
    if killed_segments(r.performance.get("wall_time")):
        marks.append("killed segment")
    valid = r.performance.get("latency_valid")
    if valid is None or not valid.value:
        marks.append("latency invalid")
    if r.integrity is None:
        marks.append("unverified")
    return marks


def _identity_entry(check: RunCheck) -> BoardEntry:
    """What a folder without a readable result shows: its identity (run.json) only."""
    ident = check.identity
    cfg = ident.get("config") or {}
    return BoardEntry(path=str(check.path), folder=check.path.name, kind=ident.get("kind", "mcq"),
                      bench=str(ident.get("bench") or cfg.get("bench") or "?"),
                      model=str(ident.get("model") or cfg.get("model") or "?"),
                      runner=str(ident.get("runner") or cfg.get("runner") or "?"))


def entry_from_check(check: RunCheck) -> BoardEntry:
    """The board's row of a checked folder (check_run with need_result=False)."""
    r = check.result
    if r is None:
        e = _identity_entry(check)
    else:
        spec = KIND_FIGURES.get(r.kind)
        perf, env = r.performance, r.environment
        speed = next((perf[k] for k in (spec.speed if spec else ()) if k in perf and perf[k].value is not None), None)
        latency = perf.get(spec.latency) if spec else None
        valid = perf.get("latency_valid")
        energy, energy_note = _energy(r, task_kind(r.kind).item_noun)
        e = BoardEntry(
            path=str(check.path), folder=check.path.name, kind=r.kind, bench=str(r.data.get("bench")),
            model=str(r.model.get("alias")), runner=str(r.runner.get("name")),
            runner_version=str(r.runner.get("backend_version") or ""), device=str(env.get("cpu") or "?"),
            cores=env.get("cpu_logical"), model_format=str(r.model.get("quant") or r.model.get("format") or ""),
            model_size_bytes=r.model.get("size_bytes"), started_at=r.started_at,
            n_items=len({s.item_id for s in check.result_samples}),
            n_selected=r.data.get("n_items_selected"),
            shard=(f"{r.data['shard'].get('index')}/{r.data['shard'].get('count')}"
                   if isinstance(r.data.get("shard"), dict) else ""),
            figures={f.key: f.extract(r.task) for f in spec.figures} if spec else {},
            latency_s=None if latency is None else latency.value,
            latency_valid=None if valid is None else bool(valid.value), latency_note="" if valid is None else valid.note,
            speed=None if speed is None else speed.value, speed_unit="" if speed is None else speed.unit,
            peak_rss_bytes=r.memory["peak_rss"].value if "peak_rss" in r.memory else None,
            energy=energy, energy_note=energy_note,
            breakdown=spec.breakdown(r.task) if spec and spec.breakdown else {},
            stages_s={label: perf[f"{prefix}_p50"].value if f"{prefix}_p50" in perf else None
                      for prefix, label in (spec.stages if spec else ())},
            sequential=None if r.sequential is None else {
                k: getattr(r.sequential, k) for k in ("figure", "estimate", "low", "high", "stop_reason", "items_used",
                                                     "items_left", "stopped_early")},
        )
        if spec is None:
            check.notes.append(f"the board shows no figures of task kind {r.kind!r} (mobeval/board/figures.py)")
    e.marks = _marks(check)
    e.problems, e.notes = list(check.problems), list(check.notes)
    return e
