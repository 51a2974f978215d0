"""Image-question loaders on small real files (real handwritten-digit PNGs from the bundled set, a real
photograph from scikit-image): the local JSONL format, MMBench's TSV with base64 images, the hub sets'
rows (a real `datasets` table built locally), the hub failing clearly offline, and the bundled set.
Every bad row is a DataError naming the file and the row."""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("PIL")

from mobeval.core.benchmarks import BenchOptions, load_benchmark
from mobeval.vlm.benchmarks import digits, hub, jsonl, mmbench_tsv
from mobeval.core.errors import DataError

DIGITS = digits.folder()
PNG = DIGITS / "images" / "digits-00005.png"  # a handwritten 5
PNG2 = DIGITS / "images" / "digits-00010.png"  # a handwritten 0


def write_jsonl(folder: Path, rows: list, images: dict[str, Path] | None = None) -> Path:
    for name, src in (images or {"five.png": PNG, "zero.png": PNG2}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, folder / name)
    path = folder / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD = [
    {"id": "mc", "images": ["five.png"], "question": "Which digit is shown?", "options": ["3", "5", "8"],
     "answer": "B", "category": "digits"},
    {"id": 7, "images": ["zero.png"], "question": "Which digit? Answer with the digit only.", "answer": "0"},
    {"id": "two", "images": ["five.png", "zero.png"], "question": "Left <image> right <image>: which is larger?",
     "options": ["left", "right"]},
]


def test_jsonl_reads_multiple_choice_open_and_unkeyed_items(tmp_path):
    path = write_jsonl(tmp_path, GOOD)
    s = load_benchmark("vlm-jsonl", BenchOptions(data=path))
    mc, op, two = s.items
    assert (mc.id, mc.options, mc.answer, mc.category, mc.images) == ("mc", ("3", "5", "8"), 1, "digits",
                                                                      ((tmp_path / "five.png").resolve(),))
    assert (op.id, op.options, op.reference, op.multiple_choice) == ("7", (), "0", False)
    assert two.answer is None and not two.keyed and len(two.images) == 2
    assert s.sources == [str(path)] and len(s.description["images_sha256"]) == 64
    # the data hash follows the image bytes
    before = s.data_sha256
    shutil.copy(PNG2, tmp_path / "five.png")
    assert load_benchmark("vlm-jsonl", BenchOptions(data=path)).data_sha256 != before


@pytest.mark.parametrize("row, says", [
    ({"id": "a", "images": ["missing.png"], "question": "q?"}, "row 2: image file {dir}/missing.png not found"),
    ({"id": "a", "images": ["five.png"], "question": "q?", "options": ["1", "2", "3", "4"], "answer": "E"},
     "row 2: answer 'E' is not one of the options A-D"),
    ({"id": "a", "images": ["five.png"], "options": ["1", "2"]}, "row 2: missing key(s) 'question'"),
    ({"id": "a", "images": ["five.png"], "question": "q?", "choices": ["1", "2"]}, "row 2: unknown key(s) 'choices'"),
    ({"id": "a", "images": [], "question": "q?"}, "row 2: 'images' must list at least one image path"),
    ({"id": "a", "images": "five.png", "question": "q?"}, "row 2: 'images' must be a list of strings"),
    ({"id": "a", "images": ["five.png"], "question": "q?", "options": ["1"]}, "row 2: 1 options"),
    ({"id": "a", "images": ["five.png"], "question": "q?", "answer": 5}, "row 2: 'answer' is int"),
    ({"id": "a", "images": ["five.png"], "question": "<image> and <image>?"}, "row 2: the question has 2 <image>"),
    ({"id": "mc", "images": ["five.png"], "question": "q?"}, "row 2: duplicate id 'mc' (also row 1)"),
    ("{not json", "row 2: not valid JSON"),
    ('{"id": "a", "images": ["five.png"], "question": "q?", "answer": "1", "answer": "2"}',
     "row 2: key 'answer' appears more than once"),
    ("[" * 100_000 + "]" * 100_000, "row 2: nested too deeply to read"),
])
def test_jsonl_bad_rows_name_the_file_and_row(tmp_path, row, says):
    path = write_jsonl(tmp_path, [GOOD[0], row])
    with pytest.raises(DataError) as err:
        load_benchmark("vlm-jsonl", BenchOptions(data=path))
    assert str(err.value).startswith(f"{path}, ") and says.format(dir=tmp_path) in str(err.value), str(err.value)


@pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029", "\x0b", "\x0c"])
def test_jsonl_line_separators_inside_a_question_are_text(tmp_path, separator):
    """str.splitlines() ends a line at these too; a JSON string may hold them raw, so the file's lines end at
    \\n only and the question keeps them."""
    question = f"first line{separator}second line: which digit?"
    path = tmp_path / "q.jsonl"
    shutil.copy(PNG, tmp_path / "five.png")
    path.write_text(json.dumps({"id": "a", "images": ["five.png"], "question": question}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    (item,) = jsonl.read_items(path)
    assert item.question == question


def test_jsonl_undecodable_image_is_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(PNG.read_bytes()[:60])  # a truncated PNG
    path = write_jsonl(tmp_path, [{"id": "a", "images": ["broken.png"], "question": "q?"}])
    with pytest.raises(DataError, match=rf"^{path}, row 1: image {tmp_path}/broken.png cannot be decoded"):
        jsonl.read_items(path)


def _b64(p: Path) -> str:
    return base64.b64encode(p.read_bytes()).decode("ascii")


HEADER = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source", "l2-category"]


def write_tsv(path: Path, rows: list[list[str]], header=HEADER) -> Path:
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def test_mmbench_tsv_decodes_base64_images_and_shared_images(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path / "cache"))
    from skimage import data_dir  # a real photograph (colour PNG) beside the digits

    photo = Path(data_dir) / "chelsea.png"
    path = write_tsv(tmp_path / "mmb.tsv", [
        ["10", "Which digit is shown?", "nan", "3", "5", "8", "nan", "B", "digits", _b64(PNG), "x", "y"],
        ["11", "What animal is this?", "A photograph.", "a cat", "a dog", "a bird", "a fish", "A", "animals",
         _b64(photo), "x", "y"],
        ["12", "Same picture: what animal?", "", "a dog", "a cat", "", "", "", "animals", "11", "x", "y"],
    ])
    a, b, c = mmbench_tsv.read_items(path)
    assert (a.options, a.answer, a.hint, a.category) == (("3", "5", "8"), 1, "", "digits")
    assert (b.hint, b.answer, len(b.options)) == ("A photograph.", 0, 4)
    assert c.images == b.images and c.answer is None and c.options == ("a dog", "a cat")
    assert a.images[0].read_bytes() == PNG.read_bytes() and b.images[0].read_bytes() == photo.read_bytes()
    assert a.images[0].parent == tmp_path / "cache" / "vlm-images"
    s = load_benchmark("mmbench-tsv", BenchOptions(data=path))
    assert [i.id for i in s.items] == ["10", "11", "12"] and s.sources == [str(path)]


@pytest.mark.parametrize("row, says", [
    (["2", "q?", "", "1", "2", "", "", "A", "c", "@@not base64@@", "x", "y"], "row 3: image column is not valid base64"),
    (["2", "q?", "", "1", "2", "", "", "A", "c", base64.b64encode(b"plain text, not an image").decode(), "x", "y"],
     "row 3: image column decodes from base64 but is not an image Pillow can read"),
    (["2", "q?", "", "1", "2", "3", "", "D", "c", "PNG", "x", "y"], "row 3: answer 'D' is not one of the options A-C"),
    (["2", "q?", "", "1", "2", "", "4", "A", "c", "PNG", "x", "y"], "row 3: option C is empty but option D is not"),
    (["2", "q?", "", "1", "2", "", "", "A", "c", "99", "x", "y"], "row 3: image column refers to index 99"),
    (["1", "q?", "", "1", "2", "", "", "A", "c", "PNG", "x", "y"], "row 3: duplicate index '1' (also row 2)"),
    # a row cut short: its answer key (and the rest) would be read as empty
    (["2", "q?", "", "1", "2", "3", "4", "D"], "row 3: 8 values but 12 columns"),
])
def test_mmbench_tsv_bad_rows_name_the_file_and_row(tmp_path, monkeypatch, row, says):
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path / "cache"))
    row = [_b64(PNG) if v == "PNG" else v for v in row]
    good = ["1", "Which digit?", "", "3", "5", "", "", "B", "c", _b64(PNG), "x", "y"]
    path = write_tsv(tmp_path / "mmb.tsv", [good, row])
    with pytest.raises(DataError) as err:
        mmbench_tsv.read_items(path)
    assert str(err.value).startswith(f"{path}, {says}"), str(err.value)
    assert "object at 0x" not in str(err.value)  # no in-memory buffer's repr in a message


def test_mmbench_tsv_a_column_twice_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path / "cache"))
    header = [*HEADER, "answer"]
    path = write_tsv(tmp_path / "mmb.tsv", [["1", "q?", "", "3", "5", "", "", "B", "c", _b64(PNG), "x", "y", "A"]],
                     header)
    with pytest.raises(DataError, match=rf"^{path}: column 'answer' appears more than once"):
        mmbench_tsv.read_items(path)


def test_mmbench_tsv_missing_column_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path / "cache"))
    header = [c for c in HEADER if c != "image"]
    path = write_tsv(tmp_path / "mmb.tsv", [["1", "q?", "", "3", "5", "", "", "B", "c", "x", "y"]], header)
    with pytest.raises(DataError, match=rf"^{path}: missing column 'image' \(columns: 'index', 'question'"):
        mmbench_tsv.read_items(path)


def test_hub_rows_become_items(tmp_path, monkeypatch):
    """The hub sets' row layouts, through a real `datasets` table with Image features built here."""
    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path / "cache"))
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    table = datasets.Dataset.from_dict(
        {"question": ["Which digit is shown?", "Which digit?"], "options": [["5", "0"], ["5", "0", "3"]],
         "answer": ["0", "1"], "image": [str(PNG), str(PNG2)]},
        features=datasets.Features({"question": datasets.Value("string"),
                                    "options": datasets.Sequence(datasets.Value("string")),
                                    "answer": datasets.Value("string"), "image": datasets.Image()}))
    s = hub.items_from_rows(hub.SETS["ai2d"], list(table), "hf:lmms-lab/ai2d/test")
    a, b = s.items
    assert (a.id, a.options, a.answer, b.answer, b.source) == ("1", ("5", "0"), 0, 1, "hf:lmms-lab/ai2d/test, row 2")
    with Image.open(a.images[0]) as img, Image.open(PNG) as orig:
        assert img.convert("L").tobytes() == orig.tobytes()  # the pixels, kept exactly
    bad = [{**list(table)[0], "answer": "4"}]
    with pytest.raises(DataError, match=r"^hf:lmms-lab/ai2d/test, row 1: answer '4' is outside the options 0-1"):
        hub.items_from_rows(hub.SETS["ai2d"], bad, "hf:lmms-lab/ai2d/test")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("huggingface_hub.constants", "datasets.config"):
        module = sys.modules.get(name)
        for attr in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            if module is not None and hasattr(module, attr):
                monkeypatch.setattr(module, attr, True)


@pytest.mark.parametrize("bench, repo", [("mmbench", "lmms-lab/MMBench"), ("scienceqa-img", "lmms-lab/ScienceQA"),
                                         ("ai2d", "lmms-lab/ai2d")])
def test_hub_sets_fail_clearly_offline(offline, bench, repo):
    with pytest.raises(DataError) as err:
        load_benchmark(bench, BenchOptions())
    msg = str(err.value)
    assert repo in msg and "Hugging Face hub" in msg and "--bench mmbench-tsv --data" in msg and "\n" not in msg


def test_bundled_digits_set():
    s = load_benchmark("vlm-digits", BenchOptions())
    card = json.loads((DIGITS / "card.json").read_text())
    mc = [i for i in s.items if i.multiple_choice]
    assert (len(s.items), len(mc)) == (200, 160) and card["counts"]["items"] == 200
    indices = [int(i.id.rsplit("-", 1)[1]) for i in s.items]
    assert all(i % 5 == 0 for i in indices) and indices == card["source"]["dataset_indices"]
    assert all(i.reference == i.category.split()[-1] for i in s.items if not i.multiple_choice)
    assert all(i.options[i.answer] == i.category.split()[-1] and len(set(i.options)) == 4 for i in mc)
    assert sorted(sum(i.answer == k for i in mc) for k in range(4)) == [40, 40, 40, 40]  # letters balanced
    assert sum((DIGITS / f).stat().st_size for f in card["files_sha256"]) < 300_000


def test_bundled_digits_match_the_data_they_come_from():
    """Each image is its scikit-learn digit, rendered as the card says; the label is the dataset's."""
    from sklearn.datasets import load_digits

    d = load_digits()
    from PIL import Image

    for item in digits.load_digits_set().items[:20]:
        index = int(item.id.rsplit("-", 1)[1])
        with Image.open(item.images[0]) as img:
            assert img.tobytes() == digits.render_digit(d.images[index]).tobytes()
        assert item.category == f"digit {d.target[index]}"


def test_a_changed_bundled_file_is_refused(tmp_path):
    copy = tmp_path / "digits"
    shutil.copytree(DIGITS, copy)
    assert len(digits.load_digits_set(copy).items) == 200
    shutil.copy(PNG2, copy / "images" / "digits-00005.png")
    with pytest.raises(DataError, match=r"digits-00005.png: differs from the sha256 in .*card.json"):
        digits.load_digits_set(copy)


@pytest.mark.slow
def test_the_script_rewrites_the_same_bytes(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "scripts" / "make_vlm_digits.py"), "--out", str(tmp_path / "d")],
                   check=True, capture_output=True)
    made = json.loads((tmp_path / "d" / "card.json").read_text())
    assert made == json.loads((DIGITS / "card.json").read_text())
