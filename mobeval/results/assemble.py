"""Turn samples and measured segments into a Result: the one place figures get their units."""

from __future__ import annotations

from typing import Any

from mobeval.core.version import __version__
from mobeval.core.figures import Figure
from mobeval.measure.contention import RULE, Contention
from mobeval.results.headline import headline_metrics
from mobeval.results.schema import Integrity, Provenance, Result
from mobeval.results.store import Segment, utc_now
from mobeval.core.task import OFFLINE_SECTION, TaskKind


def _segments_note(segments: list[Segment], killed: int) -> str:
    notes = []
    if len(segments) > 1:
        notes.append(f"summed over {len(segments)} run segments (resumes)")
    if killed:
        notes.append(f"{killed} segment(s) killed before recording their time are not included")
    return "; ".join(notes)


def timing(segments: list[Segment], killed: int = 0) -> dict[str, Figure]:
    """Load and wall time, from the segments: the same for every task kind."""
    return {
        "model_load_time": Figure(value=segments[-1].load_time_s, unit="s",
                                  note="load of the latest segment" if len(segments) > 1 else ""),
        "wall_time": Figure(value=sum(g.wall_time_s for g in segments), unit="s", count=len(segments),
                            note=_segments_note(segments, killed)),
    }


def offline_figures(segments: list[Segment]) -> dict[str, Figure]:
    """Figures a task measured after its items (throughput at batch sizes): the latest segment's."""
    for seg in reversed(segments):
        if seg.offline:
            return {k: Figure(**v) for k, v in seg.offline.items() if k != OFFLINE_SECTION}
    return {}


def offline_section(segments: list[Segment]) -> dict[str, Any]:
    """Fields of the task section a task measured after its items (the latest segment's)."""
    for seg in reversed(segments):
        if seg.offline:
            return seg.offline.get(OFFLINE_SECTION, {})
    return {}


def memory(segments: list[Segment], model_size: int | None, remote: bool = False,
           no_file: str = "the model is a folder or hub id") -> dict[str, Figure]:
    peak = max(segments, key=lambda g: g.peak_rss_bytes)
    scope = "this client process only: the model runs behind an endpoint" if remote else ""
    mapped = ("the model file is memory-mapped: its pages count once touched, in RSS, and in USS/PSS "
              "unless another process maps the same file")
    figs = {
        "peak_rss": Figure(value=peak.peak_rss_bytes, unit="bytes", source="psutil RSS, sampled every 10 ms",
                           count=peak.rss_samples, note=scope or mapped),
        "baseline_rss": Figure(value=peak.baseline_rss_bytes, unit="bytes", source="psutil RSS before model load",
                               note=scope),
        "peak_rss_over_baseline": Figure(value=peak.peak_rss_bytes - peak.baseline_rss_bytes, unit="bytes",
                                         note=scope),
        "model_file_size": (Figure(value=model_size, unit="bytes", source="file size on disk")
                            if model_size is not None else
                            Figure(value=None, unit="bytes", source="unavailable",
                                   note="remote model" if remote else no_file)),
    }
    for key, attr, what in (("peak_uss", "peak_uss_bytes", "unique set size"),
                            ("peak_pss", "peak_pss_bytes", "proportional set size")):
        values = [getattr(g, attr) for g in segments if getattr(g, attr) is not None]
        figs[key] = (Figure(value=max(values), unit="bytes", source=f"psutil {what}, sampled every 0.25 s",
                            note=scope) if values else
                     Figure(value=None, unit="bytes", source="unavailable", note=f"no {what} on this platform"))
    kv = segments[-1].kv_cache_bytes
    if kv is not None:
        figs["kv_cache"] = Figure(value=kv, unit="bytes", source="computed from the model's shape and n_ctx (f16)",
                                  note="allocated for the whole context, not only the cells used")
    return figs


def contention(segments: list[Segment], remote: bool) -> dict[str, Figure]:
    """`cpu_contention`: the largest share of the CPU other processes (or the hypervisor) took during any
    segment's items, value 1 when that segment was contended (measure/contention.py's rule). Absent where no
    segment recorded it (folders written before mobeval did)."""
    seen = [s.contention for s in segments if s.contention]
    if not seen:
        return {}
    worst = max(seen, key=lambda c: max(c["others_share"], c["steal_share"]))
    desc = Contention(**worst).describe()
    if remote:
        note = f"{desc}; the model runs behind an endpoint, whose work on this machine (a local server) counts here"
        return {"cpu_contention": Figure(value=0.0, unit="bool", source="psutil.cpu_times", note=note)}
    contended = any(c["contended"] for c in seen)
    note = (f"measured under contention: {desc} ({RULE}); {Contention(**worst).remedy()}" if contended
            else f"quiet: {desc}")
    return {"cpu_contention": Figure(value=float(contended), unit="bool", source="psutil.cpu_times", note=note)}


def with_contention(perf: dict[str, Figure], busy: dict[str, Figure]) -> dict[str, Figure]:
    """Latency measured under contention is not valid: `latency_valid` says so, with the neighbours' share."""
    flag = busy.get("cpu_contention")
    valid = perf.get("latency_valid")
    if flag is None or not flag.value or valid is None:
        return perf
    return {**perf, "latency_valid": Figure(value=0.0, unit="bool", source=valid.source,
                                            note="; ".join(n for n in (valid.note, flag.note) if n))}


def cpu_frequency(segments: list[Segment]) -> dict[str, Figure]:
    first, last = segments[0], segments[-1]
    if first.cpu_freq_mhz_start is None:
        return {}
    return {
        "cpu_freq_start": Figure(value=first.cpu_freq_mhz_start, unit="MHz", source="psutil.cpu_freq"),
        "cpu_freq_end": Figure(value=last.cpu_freq_mhz_end, unit="MHz", source="psutil.cpu_freq",
                               note="a drop from the start suggests throttling"),
    }


def energy(segments: list[Segment], units: dict[str, tuple[float, str, str]], killed: int = 0) -> dict[str, Figure]:
    """Per source: joules, average watts, joules per item (and per whatever else the task kind counts,
    `units`: key -> (count, unit, note)), and the idle watts measured before the run; `energy` is
    unavailable with the reason otherwise."""
    if killed:
        return {"energy": Figure(value=None, unit="J", source="unavailable",
                                 note=f"{killed} run segment(s) were killed before reading the counters")}
    by_source: dict[str, list[dict]] = {}
    for seg in segments:
        for r in seg.energy:
            by_source.setdefault(r["source"], []).append(r)
    figs: dict[str, Figure] = {}
    for source, readings in by_source.items():
        if source == "unavailable" or any(r["joules"] is None for r in readings) or len(readings) < len(segments):
            continue
        joules = sum(r["joules"] for r in readings)
        seconds = sum(r["seconds"] for r in readings)
        note = readings[-1]["scope"] + (f"; {readings[-1]['assumption']}" if readings[-1].get("assumption") else "")
        figs[f"{source}.energy"] = Figure(value=joules, unit="J", source=source, note=note)
        if seconds > 0:
            figs[f"{source}.average_power"] = Figure(value=joules / seconds, unit="W", source=source, note=note)
        for key, (count, unit, what) in units.items():
            if count:
                figs[f"{source}.{key}"] = Figure(value=joules / count, unit=unit, source=source, note=what)
        idle = [r.get("idle_watts") for r in readings]
        if idle and all(w is not None for w in idle):
            figs[f"{source}.idle_power"] = Figure(
                value=sum(idle) / len(idle), unit="W", source=source,
                note="measured before the model loaded; subtract it for the run's own share")
    if not figs:
        reasons = [r.get("reason", "") for seg in segments for r in seg.energy if r["source"] == "unavailable"]
        figs["energy"] = Figure(value=None, unit="J", source="unavailable", note=reasons[-1] if reasons else "")
    return figs


def build_result(
    kind: TaskKind, plan: dict[str, Any], identity: dict[str, Any], env: dict[str, Any], runner: dict[str, Any],
    records: list, segments: list[Segment], complete: bool, killed: int = 0, integrity: Integrity | None = None,
) -> Result:
    """The result of a run folder: `plan` is what the plan records (model, data); the kind scores the records."""
    busy = contention(segments, plan["model"].get("remote", False))
    task = {**kind.section(records).model_dump(mode="json"), **offline_section(segments)}
    return Result(
        kind=kind.name,
        mobeval_version=__version__,
        status="complete" if complete else "partial",
        started_at=segments[0].started_at,
        finished_at=utc_now(),
        config=identity.get("config", {}),
        environment=env,
        model=plan["model"],
        runner=runner,
        data={**plan["data"], "selection_sha256": identity.get("selection_sha256")},
        performance={**timing(segments, killed), **with_contention(kind.performance(records), busy),
                     **offline_figures(segments), **cpu_frequency(segments), **busy},
        memory=memory(segments, plan["model"].get("size_bytes"), plan["model"].get("remote", False),
                      plan["model"].get("no_file_reason") or "the model is a folder or hub id"),
        energy=energy(segments, kind.energy_units(records), killed),
        provenance=Provenance(integrity=integrity,
                              hashes={k: v for k, v in identity.items() if k.endswith("_sha256") and v is not None}),
        task=task,
        metrics=headline_metrics(kind.name, task),
    )
