"""The run folder: run.json (identity), samples.jsonl (append-only), segments.jsonl, result.json.

Samples of a question are appended in one write and flushed, so a killed run loses at most the
question in flight; a torn last line is ignored on reading.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mobeval.errors import MobevalError
from mobeval.results.schema import Result
from mobeval.samples import Sample


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


@dataclass
class Segment:
    """One stretch of a run between start (or --resume) and finish (or interruption)."""

    started_at: str
    finished_at: str
    questions: int
    load_time_s: float
    eval_time_s: float
    wall_time_s: float  # load included
    baseline_rss_bytes: int
    peak_rss_bytes: int
    rss_samples: int
    energy: list[dict]  # one EnergyReading (as a dict) per meter
    peak_uss_bytes: int | None = None
    peak_pss_bytes: int | None = None
    kv_cache_bytes: int | None = None
    cpu_freq_mhz_start: float | None = None
    cpu_freq_mhz_end: float | None = None


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path, model: str, bench: str, identity: dict[str, Any]) -> "RunDir":
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{_slug(model)}__{_slug(bench)}__{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = Path(root) / f"{_slug(model)}__{_slug(bench)}__{stamp}-{n}"
        path.mkdir(parents=True)
        run = cls(path)
        run._write_json("run.json", identity)
        return run

    @classmethod
    def latest_unfinished(cls, root: Path, model: str, bench: str) -> "RunDir":
        prefix = f"{_slug(model)}__{_slug(bench)}__"
        candidates = sorted(
            (p for p in Path(root).glob(prefix + "*") if (p / "run.json").exists()),
            key=lambda p: p.stat().st_mtime,
        )
        for p in reversed(candidates):
            run = cls(p)
            if not run.is_complete():
                return run
        raise MobevalError(f"--resume: no unfinished run of {model} on {bench} under {root}")

    # -- files -------------------------------------------------------------------------------
    def _write_json(self, name: str, obj: Any) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(self.path / name)

    def identity(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MobevalError(f"{self.path}: not a mobeval run folder (run.json unreadable)") from exc

    def append_samples(self, samples: list[Sample]) -> None:
        lines = "".join(json.dumps(s.to_json(), ensure_ascii=False) + "\n" for s in samples)
        with open(self.path / "samples.jsonl", "a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())

    def samples(self) -> list[Sample]:
        path = self.path / "samples.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(Sample.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError):
                continue  # a line torn by a kill mid-write
        return out

    def _append_segment_line(self, obj: dict) -> None:
        with open(self.path / "segments.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(obj) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def open_segment(self, started_at: str) -> None:
        """Mark a segment as begun, so one that is killed before it ends still shows."""
        self._append_segment_line({"open": started_at})

    def keep_whole_questions(self, expected: dict[str, int]) -> set[str]:
        """Drop torn lines and questions with fewer samples than `expected` orderings (a kill
        mid-write); return the ids of the questions that are whole."""
        path = self.path / "samples.jsonl"
        if not path.exists():
            return set()
        lines = path.read_text(encoding="utf-8").splitlines()
        samples = self.samples()
        counts: dict[str, int] = {}
        for s in samples:
            counts[s.question_id] = counts.get(s.question_id, 0) + 1
        whole = {q for q, n in counts.items() if n == expected.get(q)}
        kept = [s for s in samples if s.question_id in whole]
        if len(kept) != len(lines):
            tmp = self.path / ".samples.jsonl.tmp"
            tmp.write_text("".join(json.dumps(s.to_json(), ensure_ascii=False) + "\n" for s in kept),
                           encoding="utf-8")
            tmp.replace(path)
        return whole

    def append_segment(self, seg: Segment) -> None:
        self._append_segment_line(asdict(seg))

    def _segment_lines(self) -> list[dict]:
        path = self.path / "segments.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # torn by a kill
        return out

    def segments(self) -> list[Segment]:
        return [Segment(**d) for d in self._segment_lines() if "open" not in d]

    def killed_segments(self) -> int:
        """Segments begun but never ended: killed, so their time and memory were not recorded."""
        lines = self._segment_lines()
        ended = {d["started_at"] for d in lines if "open" not in d}
        return sum(1 for d in lines if "open" in d and d["open"] not in ended)

    def write_result(self, result: Result) -> None:
        self._write_json("result.json", result.model_dump(mode="json"))

    def result(self) -> Result:
        path = self.path / "result.json"
        if not path.exists():
            raise MobevalError(f"{self.path}: no result.json (the run has not written one yet)")
        return Result.model_validate_json(path.read_text(encoding="utf-8"))

    def is_complete(self) -> bool:
        try:
            return self.result().status == "complete"
        except MobevalError:
            return False
