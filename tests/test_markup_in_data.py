"""Issue 30 (security): names from data are text, never rich markup. A field, category or class named
"[/bold]" raised a MarkupError at the end of `run` (after result.json was written), in `report` and in
`report --html`; "[tech] cats" printed " cats"; "[link=...]" could put a link in the terminal. Real runs
on files written here (the bundled model; a folder of images), then `report` and `report --html` of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobeval.cli import app

NAMES = ["[/bold]", "[tech] cats", "[link=https://evil.example]x[/link]"]


def invoke(*args: str):
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit)), \
        repr(res.exception)
    assert res.exit_code == 0, res.output
    return res


def shows_every_name(text: str) -> bool:
    return all(name in text for name in NAMES)


def check_report(run: Path, tmp_path: Path) -> None:
    """`report` of the run folder and its --html page show the names as they are."""
    assert shows_every_name(invoke("report", str(run)).stdout)
    page = tmp_path / "page.html"
    invoke("report", str(run), "--html", str(page))
    assert all(f"<td>{name}</td>" in page.read_text() for name in NAMES)


def test_fields_and_categories_named_like_markup(tmp_path):
    data = tmp_path / "q.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "A", "B", "C", "D", "answer", "field", "category"])
        for i, (field, category) in enumerate(zip(NAMES, NAMES[1:] + NAMES[:1])):
            w.writerow([f"q{i}", f"Which app shows a map? ({i})", "Maps", "Clock", "Notes", "Camera", "A", field,
                        category])
    out = tmp_path / "runs"
    res = invoke("run", "--bench", "mcq", "--data", str(data), "--orderings", "original", "--output-dir", str(out))
    (run,) = out.iterdir()
    assert json.loads((run / "result.json").read_text())["status"] == "complete"
    report = res.stdout.split("Per field")[1]
    fields, categories = report.split("Per category")
    assert shows_every_name(fields) and shows_every_name(categories), res.stdout
    assert "│ cats" not in res.stdout  # "[tech]" kept
    check_report(run, tmp_path)
    # the header: a model named after its file ("[/bold].gguf"), a runner note, the machine's name
    result = json.loads((run / "result.json").read_text())
    result["model"]["alias"], result["environment"]["cpu"] = NAMES[0], NAMES[1]
    result["runner"]["notes"] = [*result["runner"].get("notes", []), NAMES[2]]
    (run / "result.json").write_text(json.dumps(result))
    header = invoke("report", str(run)).stdout.split("Summary")[0]
    assert shows_every_name(header), header


def test_classes_named_like_markup(tmp_path):
    image = pytest.importorskip("PIL.Image")
    folder = tmp_path / "images"
    (folder / "x").mkdir(parents=True)
    rows = ["file,class_index,name"]
    for i, name in enumerate(NAMES, 1):
        image.new("RGB", (40, 40), (60 * i, 30, 30)).save(folder / "x" / f"{i}.png")
        rows.append(f"x/{i}.png,{i},{name}")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    out = tmp_path / "runs"
    res = invoke("run", "--bench", "imagefolder", "--data", str(folder), "--labels", str(labels), "--threads", "1",
                 "--output-dir", str(out))
    (run,) = out.iterdir()
    assert shows_every_name(res.stdout.split("Per class")[1]), res.stdout
    check_report(run, tmp_path)
