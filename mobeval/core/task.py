"""The task-kind seam: what an item is, what a runner is asked, how a response is scored and shown.

The run loop (mobeval/engine.py), the run folder (results/store.py), the integrity check and the
printers know only these two interfaces. A kind (`mcq`, `image-classification`, ...) brings:

- a `TaskPlan`, made before any model loads: the selected items, what identifies the run (for
  --resume), what the result records of the model and the data, what the runner is given as its
  model, and `evaluate`, which asks the runner about some items and returns their records;
- a `TaskKind`: the record type of samples.jsonl, the scores of the result's task section, its
  performance figures, its report tables, its rows in `mobeval compare` and its output files.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Hashable, Protocol, Sequence, runtime_checkable

from pydantic import BaseModel
from rich.console import RenderableType

from mobeval.core.figures import Figure


@runtime_checkable
class Record(Protocol):
    """One line of samples.jsonl: one item under one replica (an ordering of the options, for mcq)."""

    ordering: int  # replica index, 0-based; an item has `Selection.orderings[i]` of them
    latency_s: float  # time inside the runner for this record
    warmup: bool  # the first item of a run segment: kept apart from latency statistics

    @property
    def item_id(self) -> str: ...

    def to_json(self) -> dict: ...


Row = tuple[str, str, str]  # (figure, value, how it was obtained)
OFFLINE_SECTION = "task_section"  # offline_phase's key for fields of the task section (not a Figure)


def shard_index(item_id: str, count: int) -> int:
    """The 0-based shard of `count` an item belongs to: sha256 of its id (UTF-8), as a number, mod
    `count`. Depends on nothing but the id, so shards never depend on order or on each other."""
    return int.from_bytes(hashlib.sha256(item_id.encode("utf-8")).digest(), "big") % count


class TaskPlan(ABC):
    """One run's items and everything about them that is known before the model loads."""

    kind: ClassVar[str]
    item_noun: ClassVar[str] = "item"  # "question", "image": how figures and progress name an item

    @property
    @abstractmethod
    def item_ids(self) -> list[str]:
        """The selected items, in run order."""

    @abstractmethod
    def restrict(self, item_ids: set[str]) -> "TaskPlan":
        """A copy of this plan keeping only the selected items in `item_ids` (their order unchanged):
        what `--shard` runs."""

    @abstractmethod
    def replicas(self) -> list[int]:
        """How many records each selected item gets (orderings for mcq; 1 elsewhere)."""

    @property
    @abstractmethod
    def n_items_total(self) -> int:
        """Items in the benchmark before --limit."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """Everything that changes a record (a resumed run must agree on all of it); includes
        `selection_sha256`."""

    @abstractmethod
    def model_info(self) -> dict[str, Any]:
        """What the result records about the model: alias, name, source, origin, path, size_bytes, sha256."""

    @abstractmethod
    def data_info(self) -> dict[str, Any]:
        """What the result records about the data, beyond bench, sources and item counts."""

    @property
    @abstractmethod
    def sources(self) -> list[str]:
        """Files or datasets the items came from."""

    @property
    @abstractmethod
    def runner_model(self) -> Any:
        """What the runner's constructor is given as its model."""

    @property
    def remote(self) -> bool:
        """The model runs behind an endpoint, not in this process."""
        return False

    def items_per_call(self, runner: Any) -> int:
        """Items handed to the runner at once."""
        return 1

    @abstractmethod
    def evaluate(self, runner: Any, item_ids: Sequence[str]) -> list[list[Record]]:
        """Ask the runner about these items; one list of records (all replicas) per item, in order.
        A runner failure is a RunnerError naming the item(s)."""

    def value_population(self) -> dict[str, int] | None:
        """Before the run: how many selected items will have a value (TaskKind.item_values), per group
        (TaskKind.item_groups' groups; one group "" for a kind with none); None when only the records will
        tell. A run under --until/--budget samples these without replacement (mobeval/stopping.py)."""
        return None

    def offline_phase(self, runner: Any) -> dict[str, dict]:
        """Measurements made after every item has its record, with the runner still loaded (e.g.
        throughput at batch sizes); Figure dicts, stored in the segment. None by default. An entry
        under OFFLINE_SECTION is not a Figure: its fields are added to the result's task section
        (e.g. a quantized model's SQNR per layer and accuracy against its float model)."""
        return {}


class KindScoring(ABC):
    """What a kind scores: its records parsed and checked, the task section and speed figures computed from them,
    and each item's right/wrong for paired tests."""


    name: ClassVar[str]
    item_noun: ClassVar[str] = "item"
    section_model: ClassVar[type[BaseModel]]  # the result's task section
    record_type: ClassVar[type]  # the record of samples.jsonl: a dataclass with to_json / from_json
    outputs: ClassVar[tuple[str, ...]] = ()  # files write_outputs puts beside result.json
    # what the mean of item_values is (a run under --until/--budget estimates it); "" for a kind without values
    value_label: ClassVar[str] = ""
    group_label: ClassVar[str] = ""  # what item_groups' groups are ("field", "SNR dB"); "" for none

    def record_from_json(self, data: dict) -> Record:
        """A samples.jsonl line parsed; ValueError/TypeError/KeyError when it is not a record."""
        return self.record_type.from_json(data)

    @abstractmethod
    def record_problem(self, record: Record, replicas: int | None) -> str:
        """Why a parsed record cannot be one mobeval wrote ('' when it can)."""

    @abstractmethod
    def section(self, records: list[Record]) -> BaseModel:
        """The scores of the result's task section."""

    @abstractmethod
    def performance(self, records: list[Record]) -> dict[str, Figure]:
        """The kind's speed figures from its records (latency per item, tokens/s, ...)."""

    def energy_units(self, records: list[Record]) -> dict[str, tuple[float, str, str]]:
        """Counts energy is divided by: key -> (count, unit of the quotient, note). Items always."""
        n = len({r.item_id for r in records})
        return {f"energy_per_{self.item_noun}": (n, "J", "")}

    def item_values(self, records: list[Record]) -> dict[str, float]:
        """Each item's value in [0, 1], whose mean over the items is the figure `value_label` names: what a run
        under --until/--budget estimates with a confidence sequence (mobeval/stopping.py). An item without one
        (no key) is left out. {} for a kind with no per-item figure."""
        return {}

    def item_groups(self, records: list[Record]) -> dict[str, str]:
        """Each item's group for per-group estimates (`group_label`: an mcq field, an SNR level); {} for none."""
        return {}

    def item_outcomes(self, records: list[Record]) -> dict[str, dict[str, tuple[bool, Hashable]]]:
        """What a paired test between two runs on the same items compares (`mobeval compare`): per basis of
        accuracy, preferred first (mcq: "debiased", "original order"), each keyed item's (right, prediction).
        {} for a kind with no right/wrong per item."""
        return {}


class KindPrinting(ABC):
    """What a kind prints: its rows and tables in the report and in `mobeval compare`."""

    item_noun: ClassVar[str] = "item"

    @abstractmethod
    def summary_rows(self, result: Any) -> list[Row]:
        """Accuracy rows at the top of the report's summary table."""

    @abstractmethod
    def performance_rows(self, result: Any) -> list[Row]:
        """Speed rows of the report's summary table."""

    def header_lines(self, result: Any) -> list[str]:
        """What the report's header says about the data (after the model and runner line)."""
        d = result.data
        return [f"bench [bold]{d['bench']}[/]: {d.get('n_items_selected')} of {d.get('n_items_total')} "
                f"{self.item_noun}s"]

    def tables(self, result: Any) -> list[RenderableType]:
        """Tables after the summary (breakdowns)."""
        return []

    @abstractmethod
    def compare_rows(self, names: list[str], results: list[Any],
                     records: list[list[Record]]) -> list[tuple[str, list[str]]]:
        """Rows of `mobeval compare` (the first run, `names[0]`, is the reference): label, one value per run."""

    def compare_tables(self, names: list[str], results: list[Any]) -> list[RenderableType]:
        """Tables `mobeval compare` prints after the side-by-side rows (a breakdown per run)."""
        return []


class KindChecking(ABC):
    """What a kind writes beside result.json and checks in `mobeval submit --check`."""

    def write_outputs(self, folder: Path, records: list[Record], item_ids: list[str]) -> list[Path]:
        """Files written beside result.json (a submission file); the paths written."""
        return []

    def submission_checks(self, folder: Path, records: list[Record], item_ids: list[str]) -> dict[str, list[str]]:
        """`mobeval submit --check`'s checks of the kind's answer file in `folder` (its first output), one
        list of problems per concern (empty: it passes); {} for a kind that writes no answer file."""
        return {}


class TaskKind(KindScoring, KindPrinting, KindChecking):
    """A kind's records, scores, figures and printers: everything that reads a finished run."""
