"""ImageFolder trees, ImageNet's layout and labels files, on trees written here; the ImageNet samples
in ../shared when present; the bundled scikit-image photographs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from mobeval.vision.benchmarks.classes import imagenet_classes, wnid_index
from mobeval.vision.benchmarks.imagefolder import load_imagefolder
from mobeval.core.errors import DataError

SHARED_IMAGENET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-samples"


def _image(path: Path, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path, format=fmt)
    return path


def test_imagenet_class_list():
    classes = imagenet_classes()
    wnids = [c.wnid for c in classes]
    assert len(classes) == 1000 and len(set(wnids)) == 1000
    assert wnids == sorted(wnids)  # the index is the position in sorted order
    assert (classes[0].wnid, classes[0].short_name) == ("n01440764", "tench")
    assert (classes[999].wnid, classes[999].short_name) == ("n15075141", "toilet tissue")
    assert wnid_index()["n02123045"] == 281 and classes[281].short_name == "tabby"


def test_generic_tree(tmp_path):
    _image(tmp_path / "dog" / "b.jpg", "JPEG")
    _image(tmp_path / "cat" / "a.png")
    _image(tmp_path / "dog" / "puppies" / "c.png")  # nested: found, like torchvision's walk
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    _image(tmp_path / "dog" / ".thumb" / "d.png")  # hidden: skipped
    _image(tmp_path / ".cache" / "e.png")  # hidden class folder: skipped
    (tmp_path / "README.md").write_text("top-level files are not classes")
    found = load_imagefolder(tmp_path)
    assert found.layout == "folders"
    assert found.class_names == {0: "cat", 1: "dog"}
    assert [(i.id, i.label, i.class_name) for i in found.items] == [
        ("cat/a.png", 0, "cat"), ("dog/b.jpg", 1, "dog"), ("dog/puppies/c.png", 1, "dog"),
    ]


def test_imagenet_layout_indexes_by_all_1000_wnids(tmp_path):
    _image(tmp_path / "n15075141" / "n15075141_1.JPEG", "JPEG")
    _image(tmp_path / "n01440764" / "n01440764_9.JPEG", "PNG")  # a PNG named .JPEG still counts
    found = load_imagefolder(tmp_path)
    assert found.layout == "imagenet"
    assert [(i.label, i.class_name) for i in found.items] == [(0, "tench"), (999, "toilet tissue")]


def test_wnid_that_is_not_an_imagenet_class(tmp_path):
    _image(tmp_path / "n01440764" / "a.png")
    _image(tmp_path / "n00000001" / "b.png")
    with pytest.raises(DataError, match="n00000001"):
        load_imagefolder(tmp_path)


def test_a_folder_that_is_not_a_wnid_among_wnids_is_refused(tmp_path):
    """With every folder a wnid, labels are ImageNet indices; one other folder would turn every label into a
    sorted position (top-1 50% -> 0%) without a word."""
    _image(tmp_path / "n01440764" / "a.png")
    _image(tmp_path / "n15075141" / "b.png")
    assert [i.label for i in load_imagefolder(tmp_path).items] == [0, 999]
    _image(tmp_path / "extras" / "c.png")
    with pytest.raises(DataError, match=r"2 folders are ImageNet wnids .* but 'extras' is not"):
        load_imagefolder(tmp_path)


def test_bad_trees(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_imagefolder(tmp_path / "absent")
    with pytest.raises(DataError, match="no class folders"):
        load_imagefolder(tmp_path)
    _image(tmp_path / "cat" / "a.png")
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"dog: class folder holds no image files"):
        load_imagefolder(tmp_path)


def test_labels_txt_gives_the_order(tmp_path):
    _image(tmp_path / "cat" / "a.png")
    _image(tmp_path / "dog" / "b.png")
    labels = tmp_path / "labels.txt"
    labels.write_text("zebra\ndog\ncat\n")
    found = load_imagefolder(tmp_path, labels)
    assert [(i.id, i.label) for i in found.items] == [("cat/a.png", 2), ("dog/b.png", 1)]
    labels.write_text("dog\n")
    with pytest.raises(DataError, match="cat"):
        load_imagefolder(tmp_path, labels)
    labels.write_text("dog\n\ncat\n")
    with pytest.raises(DataError, match="line 2: empty"):
        load_imagefolder(tmp_path, labels)


def test_labels_csv_per_file_and_per_folder(tmp_path):
    _image(tmp_path / "x" / "a.png")
    _image(tmp_path / "x" / "b.png")
    per_file = tmp_path / "per_file.csv"
    per_file.write_text("file,class_index,name\nx/b.png,7,seven\nx/a.png,3,three\n")
    found = load_imagefolder(tmp_path, per_file)
    assert [(i.id, i.label, i.class_name) for i in found.items] == [("x/a.png", 3, "three"), ("x/b.png", 7, "seven")]
    per_folder = tmp_path / "per_folder.csv"
    per_folder.write_text("folder,class_index\nx,5\n")
    assert [i.label for i in load_imagefolder(tmp_path, per_folder).items] == [5, 5]


@pytest.mark.parametrize(
    "text, message",
    [
        ("file,class_index\nx/a.png,3\nx/gone.png,4\n", r"line 3: .*gone.png does not exist"),
        ("file,class_index\nx/a.png,three\n", r"line 2: class_index 'three' is not an integer"),
        ("file,class_index\nx/a.png,-1\n", "line 2: class_index -1 is negative"),
        ("file,class_index\nx/a.png,1\nx/a.png,2\n", "line 3: file 'x/a.png' is listed twice"),
        ("path,label\nx/a.png,1\n", "header must have class_index"),
        ("file,class_index\n", "no rows"),
        ("folder,class_index\ny,1\n", "no class_index for folders x"),
        # a second class_index column would silently win over the first
        ("file,class_index,class_index\nx/a.png,1,2\n", "column 'class_index' appears more than once"),
        ("file,class_index\nx/a.png,1,2\n", "row 2: 3 values but 2 columns"),
        # one image, two spellings: two records of one id
        ("file,class_index\nx/a.png,1\n./x/a.png,1\n", "line 3: file 'x/a.png' is listed twice"),
        ("file,class_index\n../a.png,1\n", "line 2: file '../a.png' must be a path inside the image folder"),
        # a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name
        ("\ufefffile,class_index\nx/a.png,4\n", None),
        (b"file,class_index,name\nx/a.png,1,caf\xe9\n", r"not UTF-8 text: row 2 holds byte 0xe9"),
    ],
)
def test_labels_csv_errors_name_the_line(tmp_path, text, message):
    _image(tmp_path / "x" / "a.png")
    labels = tmp_path / "labels.csv"
    if isinstance(text, bytes):
        labels.write_bytes(text)
    else:
        labels.write_text(text, encoding="utf-8")
    if message is None:
        assert [i.label for i in load_imagefolder(tmp_path, labels).items] == [4]
        return
    with pytest.raises(DataError, match=message):
        load_imagefolder(tmp_path, labels)


def test_labels_file_kinds(tmp_path):
    _image(tmp_path / "x" / "a.png")
    with pytest.raises(DataError, match="labels file not found"):
        load_imagefolder(tmp_path, tmp_path / "none.csv")
    (tmp_path / "labels.json").write_text("{}")
    with pytest.raises(DataError, match=r"must be \.txt"):
        load_imagefolder(tmp_path, tmp_path / "labels.json")


def test_bundled_sample_photos():
    pytest.importorskip("skimage", reason="the photographs ship inside scikit-image (the vision extra)")
    from mobeval.vision.benchmarks.sample_photos import load_sample_photos

    found = load_sample_photos()
    assert [(i.id, i.class_name) for i in found.items] == [
        ("chelsea.png", "tabby"), ("coffee.png", "espresso"), ("camera.png", "tripod"),
        ("motorcycle_left.png", "moped"), ("rocket.jpg", "missile"),
    ]
    assert all(i.path.is_file() for i in found.items)


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_IMAGENET.is_dir(), reason="needs ../shared/data/imagenet-samples")
def test_shared_imagenet_samples_layout_agrees_with_their_labels_file():
    by_layout = load_imagefolder(SHARED_IMAGENET)
    by_file = load_imagefolder(SHARED_IMAGENET, SHARED_IMAGENET / "labels.csv")
    assert by_layout.layout == "imagenet" and len(by_layout.items) == 500
    assert [(i.id, i.label) for i in by_layout.items] == [(i.id, i.label) for i in by_file.items]
    with (SHARED_IMAGENET / "labels.csv").open(newline="") as f:
        rows = {r["file"]: int(r["class_index"]) for r in csv.DictReader(f)}
    assert {i.id: i.label for i in by_layout.items} == rows


def test_a_run_resumed_over_replaced_pictures_is_refused(tmp_path):
    """Only ids and labels were hashed: a half-done run resumed after its images were swapped for others mixed two
    data sets. The pictures' bytes are part of the run's identity now."""
    from typer.testing import CliRunner

    from mobeval.cli import app

    for name in ("a/0.png", "a/1.png", "b/0.png", "b/1.png"):
        _image(tmp_path / "imgs" / name)
    cli = CliRunner()
    res = cli.invoke(app, ["run", "--bench", "imagefolder", "--data", str(tmp_path / "imgs"), "--output-dir",
                           str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    folder = res.output.strip().splitlines()[-1]
    again = ["run", "--bench", "imagefolder", "--data", str(tmp_path / "imgs"), "--output-dir", str(tmp_path / "out"),
             "--resume", "--run-dir", folder]
    same = cli.invoke(app, again)  # the same pictures: nothing to refuse
    assert same.exit_code == 0 and "different image files" not in same.output, same.output
    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "imgs" / "a" / "0.png")  # another picture, same name
    res = cli.invoke(app, again)
    assert res.exit_code == 2 and "different image files (a picture replaced or changed since)" in res.output
