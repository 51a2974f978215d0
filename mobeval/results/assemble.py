"""Turn samples and measured segments into a Result: the one place figures get their units."""

from __future__ import annotations

from typing import Any

import mobeval
from mobeval.measure.stats import summarize
from mobeval.metrics import Scores, group_by_question, score, score_by
from mobeval.results.schema import Figure, Integrity, Result, ScoreBlock
from mobeval.results.store import Segment, utc_now
from mobeval.samples import Sample


def _block(s: Scores) -> ScoreBlock:
    return ScoreBlock(**s.model_dump())


def _latency_figures(prefix: str, values: list[float]) -> dict[str, Figure]:
    summary = summarize(values)
    if summary is None:
        return {}
    return {
        f"{prefix}_{stat}": Figure(value=getattr(summary, stat), unit="s", count=summary.count)
        for stat in ("mean", "p50", "p90", "p99")
    }


def _segments_note(segments: list[Segment], killed: int) -> str:
    notes = []
    if len(segments) > 1:
        notes.append(f"summed over {len(segments)} run segments (resumes)")
    if killed:
        notes.append(f"{killed} segment(s) killed before recording their time are not included")
    return "; ".join(notes)


MIN_LATENCY_QUESTIONS = 50
MIN_LATENCY_SECONDS = 10.0


def latency_validity(measured: list[Sample], per_question: list[float]) -> tuple[bool, str]:
    """MLPerf's rule, scaled to a laptop: enough questions over long enough, warm-up excluded."""
    problems = []
    if len(per_question) < MIN_LATENCY_QUESTIONS:
        problems.append(f"{len(per_question)} measured questions < {MIN_LATENCY_QUESTIONS}")
    if sum(per_question) < MIN_LATENCY_SECONDS:
        problems.append(f"{sum(per_question):.1f} s measured < {MIN_LATENCY_SECONDS} s")
    return not problems, "; ".join(problems)


def performance(samples: list[Sample], segments: list[Segment], killed: int = 0) -> dict[str, Figure]:
    measured = [s for s in samples if not s.warmup]
    per_question = [sum(s.latency_s for s in g) for g in group_by_question(measured).values()]
    busy = sum(s.latency_s for s in samples)
    prompt_tokens = sum(s.prompt_tokens for s in samples)
    evaluated = sum(s.evaluated_tokens for s in samples)
    valid, reason = latency_validity(measured, per_question)
    warm = len(samples) - len(measured)
    figs = {
        "model_load_time": Figure(value=segments[-1].load_time_s, unit="s",
                                  note="load of the latest segment" if len(segments) > 1 else ""),
        "wall_time": Figure(value=sum(g.wall_time_s for g in segments), unit="s", count=len(segments),
                            note=_segments_note(segments, killed)),
        "latency_valid": Figure(value=float(valid), unit="bool", source="validity rule",
                                note=reason or f">= {MIN_LATENCY_QUESTIONS} questions over >= "
                                               f"{MIN_LATENCY_SECONDS} s, {warm} warm-up request(s) excluded"),
        **_latency_figures("question_latency", per_question),
        **_latency_figures("request_latency", [s.latency_s for s in measured]),
        "prompt_tokens": Figure(value=prompt_tokens, unit="tokens", count=len(samples)),
        "evaluated_tokens": Figure(value=evaluated, unit="tokens", count=len(samples),
                                   note="tokens run through the model; shared prefixes are run once"),
    }
    if busy > 0:
        figs["prompt_tokens_per_s"] = Figure(value=prompt_tokens / busy, unit="tokens/s", count=len(samples))
        figs["evaluated_tokens_per_s"] = Figure(value=evaluated / busy, unit="tokens/s", count=len(samples),
                                                note="prefill speed: evaluated prompt tokens / time in runner")
    figs.update(_engine_figures(measured))
    generated = [s for s in measured if s.ttft_s is not None]
    if generated:
        figs.update(_latency_figures("ttft", [s.ttft_s for s in generated]))
        decode_s = sum(s.latency_s - s.ttft_s for s in generated)
        new_tokens = sum(max((s.generated_tokens or 0) - 1, 0) for s in generated)
        if decode_s > 0:
            figs["decode_tokens_per_s"] = Figure(value=new_tokens / decode_s, unit="tokens/s", count=len(generated),
                                                 note="tokens after the first / time after the first")
    return figs


def _engine_figures(measured: list[Sample]) -> dict[str, Figure]:
    """Speeds from the engine's own clock (llama-server's `timings`), beside those timed on this side of
    the wire: the gap is network, HTTP and queueing."""
    timed = [s for s in measured if s.engine_timings]
    generated = [s for s in timed if s.ttft_s is not None]  # letter scoring decodes no token worth a speed
    figs: dict[str, Figure] = {}
    for key, samples, what in (("prompt", timed, "prompt tokens it evaluated"),
                               ("decode", generated, "tokens it generated")):
        seconds = sum(s.engine_timings[f"{key}_s"] for s in samples)
        if seconds > 0:
            figs[f"engine_{key}_tokens_per_s"] = Figure(
                value=sum(s.engine_timings[f"{key}_tokens"] for s in samples) / seconds, unit="tokens/s",
                count=len(samples), source="the server's own timings",
                note=f"{what} / the time it reports for them")
    return figs


def memory(segments: list[Segment], model_size: int | None, remote: bool = False) -> dict[str, Figure]:
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
                                   note="remote model" if remote else "the model is a folder or hub id")),
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


def cpu_frequency(segments: list[Segment]) -> dict[str, Figure]:
    first, last = segments[0], segments[-1]
    if first.cpu_freq_mhz_start is None:
        return {}
    return {
        "cpu_freq_start": Figure(value=first.cpu_freq_mhz_start, unit="MHz", source="psutil.cpu_freq"),
        "cpu_freq_end": Figure(value=last.cpu_freq_mhz_end, unit="MHz", source="psutil.cpu_freq",
                               note="a drop from the start suggests throttling"),
    }


def energy(segments: list[Segment], n_questions: int, evaluated_tokens: int, killed: int = 0) -> dict[str, Figure]:
    """Per source: joules, average watts, joules per question, millijoules per evaluated token,
    and the idle watts measured before the run; `energy` is unavailable with the reason otherwise."""
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
        if n_questions:
            figs[f"{source}.energy_per_question"] = Figure(value=joules / n_questions, unit="J", source=source)
        if evaluated_tokens:
            figs[f"{source}.energy_per_token"] = Figure(value=1000 * joules / evaluated_tokens, unit="mJ",
                                                        source=source, note="per evaluated token")
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
    info: dict[str, Any], identity: dict[str, Any], env: dict[str, Any], runner: dict[str, Any],
    samples: list[Sample], segments: list[Segment], complete: bool, killed: int = 0,
    integrity: Integrity | None = None,
) -> Result:
    n_questions = len(group_by_question(samples))
    return Result(
        mobeval_version=mobeval.__version__,
        status="complete" if complete else "partial",
        started_at=segments[0].started_at,
        finished_at=utc_now(),
        config=identity.get("config", {}),
        environment=env,
        model=info["model"],
        runner=runner,
        data={**info["data"], "selection_sha256": identity.get("selection_sha256")},
        scores=_block(score(samples)),
        per_field=({k: _block(v) for k, v in score_by(samples, "field").items()}),
        per_category=({k: _block(v) for k, v in score_by(samples, "category").items()}
                      if any(s.category for s in samples) else {}),
        performance={**performance(samples, segments, killed), **cpu_frequency(segments)},
        memory=memory(segments, info["model"]["size_bytes"], info["model"].get("remote", False)),
        energy=energy(segments, n_questions, sum(s.evaluated_tokens for s in samples), killed),
        integrity=integrity,
    )
