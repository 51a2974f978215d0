"""The run folder: run.json (identity, with the task kind), selection.json (the items and how many
records each gets: a question's orderings), samples.jsonl (append-only, one record per line, of the
kind's record type), segments.jsonl, result.json.

A new folder exists on disk only once `ensure_on_disk` is called, after the runner has loaded, so a
run that cannot start leaves nothing behind. Samples of a question are appended in one write and
flushed, so a killed run loses at most the question in flight; a torn last line is ignored on reading.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mobeval.core.errors import MobevalError
from mobeval.core.hashing import bytes_sha256, text_sha256
from mobeval.results.schema import Integrity, Result, load_result
from mobeval.core.kinds import task_kind

SELECTION = "selection.json"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def folder_prefix(model: str, bench: str) -> str:
    """How the names of a model's run folders on a bench begin: <model>__<bench>__[<tag>__]<time>."""
    return f"{_slug(model)}__{_slug(bench)}__"


def folder_tag(identity: dict[str, Any]) -> str:
    """What a folder's name says beyond model, bench and time: `shard2of4` for a `--shard 2/4` run,
    `merged` for a run joined from shards; '' otherwise."""
    if identity.get("merged_from"):
        return "merged"
    if identity.get("shard"):
        return "shard{}of{}".format(*str(identity["shard"]).split("/"))
    return ""


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
    offline: dict[str, dict] = field(default_factory=dict)  # figures measured after the items (Figure dicts)
    segment_id: str = ""  # matches its "open" line (start times alone collide within a second)
    # what the rest of the machine took of the CPU while the items ran (measure/contention.py); None: not recorded
    contention: dict | None = None


@dataclass(frozen=True)
class Selection:
    """The run's items, in order, and how many records each gets (a question's orderings; 1 for an
    image). The file keeps the key names of the text track (question_ids, orderings) for old folders."""

    question_ids: list[str]
    orderings: list[int]

    def expected(self) -> dict[str, int]:
        return dict(zip(self.question_ids, self.orderings))

    def to_text(self) -> str:
        return json.dumps({"question_ids": self.question_ids, "orderings": self.orderings},
                          ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_text(cls, text: str) -> "Selection":
        """Raises ValueError saying what is wrong."""
        d = json.loads(text)
        ids, orders = (d.get("question_ids"), d.get("orderings")) if isinstance(d, dict) else (None, None)
        if not isinstance(ids, list) or not all(isinstance(q, str) for q in ids):
            raise ValueError("question_ids must be a list of strings")
        if not isinstance(orders, list) or not all(isinstance(n, int) and n >= 1 for n in orders):
            raise ValueError("orderings must be a list of whole numbers >= 1")
        if len(ids) != len(orders):
            raise ValueError(f"{len(ids)} question_ids but {len(orders)} orderings")
        if len(set(ids)) != len(ids):
            raise ValueError("a question id appears twice")
        return cls(ids, orders)


@dataclass
class SampleLine:
    """One line of samples.jsonl: the sample, or why it is not one."""

    number: int  # 1-based
    sample: Any | None  # a record of the run's task kind
    error: str = ""


@dataclass
class RunDir:
    path: Path
    # a new run not yet on disk: its identity and selection, written by ensure_on_disk
    pending: tuple[dict[str, Any], Selection] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @classmethod
    def new(cls, root: Path, model: str, bench: str, identity: dict[str, Any], selection: Selection) -> "RunDir":
        """A run folder to be: nothing is written until ensure_on_disk."""
        return cls(cls._free_path(Path(root), model, bench, folder_tag(identity)), (identity, selection))

    @staticmethod
    def _free_path(root: Path, model: str, bench: str, tag: str = "") -> Path:
        base = root / (folder_prefix(model, bench) + (f"{tag}__" if tag else "")
                       + datetime.now().strftime("%Y%m%d-%H%M%S"))
        path, n = base, 1
        while path.exists():
            n += 1
            path = Path(f"{base}-{n}")
        return path

    @property
    def kind(self) -> str:
        """The run's task kind (run.json's `kind`; folders from before task kinds are multiple choice)."""
        return self.identity().get("kind", "mcq")

    @property
    def exists(self) -> bool:
        return self.pending is None and self.path.is_dir()

    def ensure_on_disk(self, selection: Selection | None = None) -> None:
        """Create a new run's folder (run.json, selection.json); give a resumed folder from an older
        mobeval the selection.json it lacks."""
        if self.pending is not None:
            identity, selection = self.pending
            if self.path.exists():  # taken since `new` chose the name
                self.path = self._free_path(self.path.parent, identity.get("model") or "run",
                                            identity.get("bench") or "bench", folder_tag(identity))
            text = selection.to_text()
            try:
                self.path.mkdir(parents=True)
                self._write_text(SELECTION, text)
                self._write_json("run.json", {**identity, "selection_file_sha256": text_sha256(text)})
            except OSError as exc:
                raise MobevalError(f"cannot create the run folder {self.path}: {exc.strerror} "
                                   "(see --output-dir)") from exc
            self.pending = None
        elif selection is not None and not (self.path / SELECTION).exists():
            self._write_text(SELECTION, selection.to_text())

    # -- files -------------------------------------------------------------------------------
    def _write_text(self, name: str, text: str) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path / name)

    def _write_json(self, name: str, obj: Any) -> None:
        self._write_text(name, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")

    def identity(self) -> dict[str, Any]:
        if self.pending is not None:
            return self.pending[0]
        path = self.path / "run.json"
        if not self.path.is_dir():
            raise MobevalError(f"{self.path}: no such run folder")
        try:
            identity = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MobevalError(f"{path}: unreadable ({exc.strerror}): not a mobeval run folder") from exc
        except ValueError as exc:
            raise MobevalError(f"{path}: not valid JSON ({exc}): the file is truncated or was edited") from exc
        if not isinstance(identity, dict) or not {"bench", "model", "selection_sha256"} <= identity.keys():
            raise MobevalError(f"{path}: not a run identity (bench, model, selection_sha256 expected)")
        return identity

    def selection(self) -> Selection | None:
        """The recorded selection; None for a folder from before mobeval recorded it."""
        path = self.path / SELECTION
        if self.pending is not None:
            return self.pending[1]
        if not path.exists():
            return None
        try:
            return Selection.from_text(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise MobevalError(f"{path}: not a selection ({exc})") from exc

    def selection_file_sha256(self) -> str | None:
        path = self.path / SELECTION
        return bytes_sha256(path.read_bytes()) if path.exists() else None

    def append_samples(self, samples: list) -> None:
        lines = "".join(json.dumps(s.to_json(), ensure_ascii=False) + "\n" for s in samples)
        with open(self.path / "samples.jsonl", "a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())

    def samples_bytes(self) -> bytes:
        path = self.path / "samples.jsonl"
        return path.read_bytes() if path.exists() else b""

    def sample_lines(self, data: bytes | None = None) -> list[SampleLine]:
        """Every line of samples.jsonl (or of `data`, its bytes already read), parsed or with the reason
        it is not a sample."""
        out = []
        parse = task_kind(self.kind).record_from_json
        text = (self.samples_bytes() if data is None else data).decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            try:
                out.append(SampleLine(n, parse(json.loads(line))))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                out.append(SampleLine(n, None, f"{type(exc).__name__}: {exc}"[:200]))
        return out

    def samples(self) -> list:
        """The samples; lines that are not one (a line torn by a kill mid-write) are skipped here:
        results/integrity.py is what reports them."""
        return [line.sample for line in self.sample_lines() if line.sample is not None]

    def integrity(self) -> Integrity:
        """What result.json records of the files it was computed from."""
        data = self.samples_bytes()
        samples = sum(1 for line in self.sample_lines(data) if line.sample is not None)
        return Integrity(samples_sha256=bytes_sha256(data), samples_bytes=len(data), samples=samples,
                         selection_file_sha256=self.selection_file_sha256())

    def _append_segment_line(self, obj: dict) -> None:
        with open(self.path / "segments.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(obj) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def open_segment(self, started_at: str, segment_id: str = "") -> None:
        """Mark a segment as begun, so one that is killed before it ends still shows."""
        self._append_segment_line({"open": started_at, "id": segment_id} if segment_id else {"open": started_at})

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
            counts[s.item_id] = counts.get(s.item_id, 0) + 1
        whole = {q for q, n in counts.items() if n == expected.get(q)}
        kept = [s for s in samples if s.item_id in whole]
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
        ended = {d.get("segment_id") or d["started_at"] for d in lines if "open" not in d}
        return sum(1 for d in lines if "open" in d and (d.get("id") or d["open"]) not in ended)

    def write_result(self, result: Result) -> None:
        self._write_json("result.json", result.to_json())

    def result(self) -> Result:
        """The parsed result.json; a MobevalError naming the file and what is wrong otherwise."""
        path = self.path / "result.json"
        if not path.exists():
            raise MobevalError(f"{self.path}: no result.json (the run has not written one yet)")
        return load_result(path)

    def is_complete(self) -> bool:
        try:
            return self.result().status == "complete"
        except MobevalError:
            return False
