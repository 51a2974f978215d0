"""Turn samples and measured segments into a Result: the one place figures get their units."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import mobeval
from mobeval.measure.stats import summarize
from mobeval.metrics import Scores, group_by_question, score, score_by
from mobeval.results.schema import Figure, Result, ScoreBlock
from mobeval.results.store import Segment, utc_now
from mobeval.samples import Sample


def _block(s: Scores) -> ScoreBlock:
    return ScoreBlock(**asdict(s))


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


def performance(samples: list[Sample], segments: list[Segment], killed: int = 0) -> dict[str, Figure]:
    per_question = [sum(s.latency_s for s in g) for g in group_by_question(samples).values()]
    busy = sum(s.latency_s for s in samples)
    prompt_tokens = sum(s.prompt_tokens for s in samples)
    evaluated = sum(s.evaluated_tokens for s in samples)
    figs = {
        "model_load_time": Figure(value=segments[-1].load_time_s, unit="s",
                                  note="load of the latest segment" if len(segments) > 1 else ""),
        "wall_time": Figure(value=sum(g.wall_time_s for g in segments), unit="s", count=len(segments),
                            note=_segments_note(segments, killed)),
        **_latency_figures("question_latency", per_question),
        **_latency_figures("request_latency", [s.latency_s for s in samples]),
        "prompt_tokens": Figure(value=prompt_tokens, unit="tokens", count=len(samples)),
        "evaluated_tokens": Figure(value=evaluated, unit="tokens", count=len(samples),
                                   note="tokens run through the model; shared prefixes are run once"),
    }
    if busy > 0:
        figs["prompt_tokens_per_s"] = Figure(value=prompt_tokens / busy, unit="tokens/s", count=len(samples))
        figs["evaluated_tokens_per_s"] = Figure(value=evaluated / busy, unit="tokens/s", count=len(samples))
    return figs


def memory(segments: list[Segment], model_size: int | None) -> dict[str, Figure]:
    peak = max(segments, key=lambda g: g.peak_rss_bytes)
    scope = "" if model_size is not None else "this client process only: the model runs behind an endpoint"
    return {
        "peak_rss": Figure(value=peak.peak_rss_bytes, unit="bytes", source="psutil RSS, sampled every 10 ms",
                           count=peak.rss_samples, note=scope),
        "baseline_rss": Figure(value=peak.baseline_rss_bytes, unit="bytes", source="psutil RSS before model load",
                               note=scope),
        "peak_rss_over_baseline": Figure(value=peak.peak_rss_bytes - peak.baseline_rss_bytes, unit="bytes",
                                         note=scope),
        "model_file_size": (Figure(value=model_size, unit="bytes", source="file size on disk")
                            if model_size is not None else
                            Figure(value=None, unit="bytes", source="unavailable", note="remote model")),
    }


def energy(segments: list[Segment], n_questions: int, killed: int = 0) -> dict[str, Figure]:
    if killed:
        return {"energy": Figure(value=None, unit="J", source="unavailable",
                                 note=f"{killed} run segment(s) were killed before reading the counters")}
    if any(g.energy_source != "rapl" or g.energy_j is None for g in segments):
        reason = next((g.energy_reason for g in segments if g.energy_source != "rapl"), "")
        return {"energy": Figure(value=None, unit="J", source="unavailable", note=reason)}
    joules = sum(g.energy_j for g in segments)
    seconds = sum(g.eval_time_s for g in segments)
    scope = segments[-1].energy_scope
    figs = {"energy": Figure(value=joules, unit="J", source="rapl", note=scope)}
    if seconds > 0:
        figs["average_power"] = Figure(value=joules / seconds, unit="W", source="rapl", note=scope)
    if n_questions:
        figs["energy_per_question"] = Figure(value=joules / n_questions, unit="J", source="rapl", note=scope)
    return figs


def build_result(
    info: dict[str, Any], identity: dict[str, Any], env: dict[str, Any], runner: dict[str, Any],
    samples: list[Sample], segments: list[Segment], complete: bool, killed: int = 0,
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
        performance=performance(samples, segments, killed),
        memory=memory(segments, info["model"]["size_bytes"]),
        energy=energy(segments, n_questions, killed),
    )
