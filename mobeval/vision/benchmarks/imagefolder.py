"""ImageFolder trees: `<class>/<image>` folders, ImageNet's `<wnid>/<image>.JPEG` layout, or a labels file.

Without a labels file, the class index of a folder is its position among the sorted folder names
(torchvision's ImageFolder rule), unless every folder is an ImageNet wnid: then the index is the
wnid's position among ALL 1,000 ImageNet wnids, so a tree holding only some classes is still
scored against the model's 1,000 outputs correctly.

A labels file (`--labels`) is either
- `.txt`: one class folder name per line, line i (from 0) being class i; or
- `.csv` with a header: `file,class_index[,name]` (one row per image, `file` relative to the root;
  the ImageNet samples' labels.csv has this shape) or `folder,class_index[,name]` (one row per
  class folder; `wnid` is accepted for `folder`).

Images are the files with an image suffix (torchvision's list plus .gif), found recursively inside
each class folder; hidden files and folders are skipped; the format itself is read from the file's
content when it is opened (images.open_rgb).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from mobeval.vision.benchmarks.classes import imagenet_classes, wnid_index
from mobeval.core.errors import DataError
from mobeval.core.tabular import columns_of, read_table, utf8_text
from mobeval.vision.task.items import ImageItem

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif"})
_WNID = re.compile(r"^n\d{8}$")

Layout = Literal["imagenet", "folders", "labels-file"]


@dataclass(frozen=True)
class ImageFolderSet:
    root: Path
    layout: Layout
    class_names: dict[int, str]  # class index -> name, for every class the labels know
    items: tuple[ImageItem, ...]

    @property
    def labels(self) -> list[int]:
        return [item.label for item in self.items]


def load_imagefolder(root: str | Path, labels_file: str | Path | None = None) -> ImageFolderSet:
    """The labelled images under `root`, sorted by id (the path relative to `root`)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected a tree of <class>/<image> folders)")
    if labels_file is not None:
        return _with_labels_file(root, Path(labels_file).expanduser())
    folders = _class_folders(root)
    wnids = [d.name for d in folders if _WNID.match(d.name)]
    if wnids and len(wnids) < len(folders):
        others = [d.name for d in folders if not _WNID.match(d.name)]
        raise DataError(
            f"{root}: {len(wnids)} folders are ImageNet wnids ({', '.join(wnids[:3])}, ...) but "
            f"{', '.join(map(repr, others[:5]))} {'is' if len(others) == 1 else 'are'} not: a tree of wnids is scored "
            "against ImageNet's 1,000 classes, any other by the folders' sorted positions, and a mix would silently "
            "change every label; remove the other folders, or give --labels")
    if wnids:
        known = wnid_index()
        unknown = [d.name for d in folders if d.name not in known]
        if unknown:
            raise DataError(
                f"{root}: folders {', '.join(unknown[:5])} look like wnids but are not ImageNet-1k classes"
            )
        names = {c.index: c.short_name for c in imagenet_classes()}
        index = {d.name: known[d.name] for d in folders}
        return _walk(root, folders, index, names, "imagenet")
    index = {d.name: i for i, d in enumerate(folders)}
    return _walk(root, folders, index, {i: d.name for i, d in enumerate(folders)}, "folders")


def _class_folders(root: Path) -> list[Path]:
    folders = sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)
    if not folders:
        raise DataError(f"{root}: no class folders in it (expected <class>/<image> files)")
    return folders


def _images_in(folder: Path) -> list[Path]:
    found = [
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _walk(
    root: Path, folders: list[Path], index: dict[str, int], names: dict[int, str], layout: Layout
) -> ImageFolderSet:
    items: list[ImageItem] = []
    for folder in folders:
        files = _images_in(folder)
        if not files:
            raise DataError(
                f"{folder}: class folder holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                "remove it or add its images"
            )
        label = index[folder.name]
        for path in files:
            items.append(ImageItem(
                id=path.relative_to(root).as_posix(), path=path, label=label,
                class_name=names.get(label, folder.name), source=str(root),
            ))
    return ImageFolderSet(root=root, layout=layout, class_names=names, items=tuple(items))


def _with_labels_file(root: Path, labels: Path) -> ImageFolderSet:
    if not labels.is_file():
        raise DataError(f"{labels}: labels file not found")
    if labels.suffix.lower() == ".txt":
        return _with_class_list(root, labels)
    if labels.suffix.lower() != ".csv":
        raise DataError(f"{labels}: labels file must be .txt (one class per line) or .csv")
    # the shared CSV reader: UTF-8 (a byte-order mark dropped), a column named twice or a row with more values
    # than the header refused, each with its file and row
    table = read_table(labels)
    rows = list(table)
    columns = columns_of(table)
    key = "file" if "file" in columns else "folder" if "folder" in columns else "wnid" if "wnid" in columns else None
    if key is None or "class_index" not in columns:
        raise DataError(
            f"{labels}: header must have class_index and one of file, folder or wnid "
            f"(found: {', '.join(sorted(columns)) or 'no header'})"
        )
    if not rows:
        raise DataError(f"{labels}: no rows after the header")
    mapping: dict[str, int] = {}
    names: dict[int, str] = {}
    for line, row in rows:
        value, raw_index = (row.get(key) or "").strip(), (row.get("class_index") or "").strip()
        if not value:
            raise DataError(f"{labels}, line {line}: empty {key}")
        if key == "file":
            value = _relative(labels, line, value)
        try:
            index = int(raw_index)
        except ValueError:
            raise DataError(f"{labels}, line {line}: class_index {raw_index!r} is not an integer") from None
        if index < 0:
            raise DataError(f"{labels}, line {line}: class_index {index} is negative")
        if value in mapping:
            raise DataError(f"{labels}, line {line}: {key} {value!r} is listed twice")
        mapping[value] = index
        name = (row.get("name") or "").strip() or (value if key != "file" else Path(value).parent.name)
        names.setdefault(index, name)
    if key != "file":
        folders = _class_folders(root)
        missing = [d.name for d in folders if d.name not in mapping]
        if missing:
            raise DataError(f"{labels}: no class_index for folders {', '.join(missing[:5])} of {root}")
        return _walk(root, folders, mapping, names, "labels-file")
    items = []
    for (line, _), (rel, index) in zip(rows, mapping.items()):
        path = root / rel
        if not path.is_file():
            raise DataError(f"{labels}, line {line}: {path} does not exist")
        items.append(ImageItem(
            id=Path(rel).as_posix(), path=path, label=index, class_name=names[index], source=str(root),
        ))
    items.sort(key=lambda item: item.id)
    return ImageFolderSet(root=root, layout="labels-file", class_names=names, items=tuple(items))


def _relative(labels: Path, line: int, value: str) -> str:
    """A labels file's image path as one spelling of it (`./cat/a.jpg` and `cat/a.jpg` are the same image);
    one that leaves the folder is refused."""
    parts = [p for p in PurePosixPath(value.replace("\\", "/")).parts if p not in (".", "")]
    if not parts or ".." in parts or PurePosixPath(value).is_absolute():
        raise DataError(f"{labels}, line {line}: file {value!r} must be a path inside the image folder")
    return "/".join(parts)


def _with_class_list(root: Path, labels: Path) -> ImageFolderSet:
    order = [line.strip() for line in utf8_text(labels).split("\n")]
    while order and not order[-1]:
        order.pop()
    for line, name in enumerate(order, start=1):
        if not name:
            raise DataError(f"{labels}, line {line}: empty class name (line i is class i-1)")
    index: dict[str, int] = {}
    for line, name in enumerate(order, start=1):
        if name in index:
            raise DataError(f"{labels}, line {line}: class {name!r} is listed twice")
        index[name] = line - 1
    folders = _class_folders(root)
    missing = [d.name for d in folders if d.name not in index]
    if missing:
        raise DataError(f"{labels}: folders {', '.join(missing[:5])} of {root} are not listed in it")
    return _walk(root, folders, index, {i: n for n, i in index.items()}, "labels-file")


def load(options) -> ImageFolderSet:
    """The `imagefolder` benchmark: --data DIR, optionally --labels FILE."""
    return load_imagefolder(options.data, options.labels)
