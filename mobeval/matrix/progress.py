"""What the driver sees of each job while it runs, read from the job's folder: its attempts log and its
run folder's selection and samples (read incrementally: a run of 65,000 records is not re-read every tick).
With a results folder the driver cannot see (a node without shared storage), a job shows items only
once it has finished and its files are gathered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mobeval.matrix.job import events, job_dir, run_folder

ID_KEYS = ("question_id", "image_id", "capture_id", "item_id")  # a record's item, per task kind


@dataclass
class Seen:
    """One job's progress as last read."""

    run: Path | None = None
    offset: int = 0  # bytes of samples.jsonl read
    items: set[str] = field(default_factory=set)
    total: int | None = None  # selected items
    attempts: int = 0


class Watcher:
    def __init__(self, out: Path, job_ids: list[str]):
        self.out = Path(out)
        self.seen = {j: Seen() for j in job_ids}

    def poll(self, job_id: str) -> Seen:
        s = self.seen[job_id]
        folder = job_dir(self.out, job_id)
        if not folder.is_dir():
            return s
        s.attempts = sum(1 for e in events(folder) if e.get("event") == "start")
        run = run_folder(folder)
        if run is None:
            return s
        if run != s.run:
            self.seen[job_id] = s = Seen(run=run, attempts=s.attempts)
        if s.total is None:
            try:
                s.total = len(json.loads((run / "selection.json").read_text(encoding="utf-8"))["question_ids"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
        self._read_samples(s)
        return s

    @staticmethod
    def _read_samples(s: Seen) -> None:
        try:
            with open(s.run / "samples.jsonl", "rb") as f:
                if f.seek(0, 2) < s.offset:  # a resume cut a torn item off the end: read again
                    s.offset, s.items = 0, set()
                f.seek(s.offset)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        for line in chunk[:end].splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line torn by a killed attempt
            item = next((rec[k] for k in ID_KEYS if k in rec), None)
            if item is not None:
                s.items.add(item)
        s.offset += end
