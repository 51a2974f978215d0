"""`mobeval compare`: runs side by side. The envelope's rows (runner, model, speed, memory, energy) are
the same for every kind; the task kind adds its own (accuracy, agreement with the first run)."""

from __future__ import annotations

from rich.table import Table

from mobeval.errors import MobevalError
from mobeval.printing import fig
from mobeval.results.schema import Result
from mobeval.tasks import task_kind


def compare_table(names: list[str], results: list[Result], records: list[list]) -> Table:
    kinds = {r.kind for r in results}
    if len(kinds) > 1:
        raise MobevalError(f"cannot compare runs of different task kinds ({', '.join(sorted(kinds))})")
    kind = task_kind(results[0].kind)
    t = Table(title="Runs side by side", header_style="bold")
    t.add_column("figure")
    for name in names:
        t.add_column(name, justify="right", overflow="fold")
    rows = [
        ("runner", [f"{r.runner['name']} ({r.runner['backend_version']})" for r in results]),
        ("model", [r.model["alias"] for r in results]),
        *kind.compare_rows(names, results, records),
        ("model load time", [fig(r.performance.get("model_load_time")) for r in results]),
        ("wall time", [fig(r.performance.get("wall_time"), "{:.1f}") for r in results]),
        ("peak RSS", [fig(r.memory.get("peak_rss")) for r in results]),
        ("energy", [_energy(r) for r in results]),
    ]
    for label, values in rows:
        t.add_row(label, *values)
    return t


def _energy(r: Result) -> str:
    if "energy" in r.energy:
        return "unavailable"
    return ", ".join(f"{f.value:.1f} J ({k.split('.')[0]})" for k, f in r.energy.items() if k.endswith(".energy"))
