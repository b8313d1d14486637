"""Where a YOLO dataset keeps its class names, label files and images, as the tools that write them lay them out.

Names: a dataset YAML (any `*.yaml` / `*.yml` beside the labels, or the YAML given as the source:
`names` as a list or an {id: name} mapping, or only `nc`, as Ultralytics reads it), else
`classes.txt`, `obj.names`, `*.names` or Roboflow's `_darknet.labels` (one name per line, line i =
class i), in the source folder or one of its subfolders.
Splits: the YAML's `train` / `val` / `test` (a folder of images, a text file listing images, or a
list of these) below its `path` (relative: to the YAML's folder, since Ultralytics' own datasets
folder is unknown here; the YAML's folder when `path` is absent or not there; `../x` that is not
there is read as `x` below it, as Ultralytics does for Roboflow's YAMLs). Without them: the
Ultralytics layout (`images/<split>/` + `labels/<split>/`, or flat `images/` + `labels/`), the
Roboflow one (`<split>/images/` + `<split>/labels/`), Darknet image lists (`train.txt` ...) and
folders that hold images and their label files side by side. An image's label file is found as
Ultralytics finds it: the last `images` folder of its path replaced by `labels`, else beside it.
Label files without any image folder (`labels/**/*.txt` or `*.txt`) are paired with the images
folder given to the reader, by their path below `labels/`, else by stem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from annotator.errors import FormatError
from annotator.io.media import IMAGE_SUFFIXES, is_image

log = logging.getLogger(__name__)

YAML_SUFFIXES = (".yaml", ".yml")
NAME_FILES = ("classes.txt", "obj.names", "_darknet.labels")
IMAGE_LISTS = ("train.txt", "val.txt", "valid.txt", "test.txt")
"""Darknet's image lists: text files of image paths, never label files."""
SPLIT_KEYS = ("train", "val", "test", "minival")


@dataclass(frozen=True)
class LabelFile:
    """One label file; `image` is its image found in the dataset, None when it is to be looked up by `rel`."""

    label: Path
    image: Path | None
    rel: str
    """The label's path below its labels folder, without suffix ('train/a'): how its image is looked up."""
    ref: str | None = None
    """The image's path below its images folder ('train/a.jpg'), the name an import matches it by."""


@dataclass
class Layout:
    """What a YOLO dataset holds: its root, class names (by class id), label files and what was left out."""

    root: Path
    names: dict[int, str]
    files: list[LabelFile] = field(default_factory=list)
    skipped: list[tuple[int, str, Path]] = field(default_factory=list)
    """(count, what, where) for Dataset.skip."""


# -- class names ---------------------------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; FormatError naming the line when the file is not one."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except OSError as error:
        raise FormatError(path, "", f"cannot be read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise FormatError(path, "", f"is not UTF-8 text ({error})") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        element = f"line {mark.line + 1}" if mark is not None else ""
        raise FormatError(path, element, f"is not valid YAML ({getattr(error, 'problem', None) or error})") from error
    if not isinstance(data, dict):
        raise FormatError(path, "", "is not a YAML mapping (a dataset YAML has 'names', 'train', 'val' ...)")
    return data


def yaml_names(path: Path, data: dict[str, Any]) -> dict[int, str] | None:
    """Class names of a dataset YAML by id: `names` as a list or {id: name}, or `nc` alone; None when neither."""
    names = data.get("names")
    if names is None and isinstance(data.get("nc"), int) and not isinstance(data.get("nc"), bool):
        return {i: f"class_{i}" for i in range(data["nc"])}
    if names is None:
        return None
    if isinstance(names, list) and all(isinstance(n, str | int | float) for n in names):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        result = {}
        for key, name in names.items():
            if not (isinstance(key, int) or (isinstance(key, str) and key.isdigit())) or isinstance(key, bool):
                raise FormatError(path, f"names.{key}", "class ids must be whole numbers")
            if not isinstance(name, str | int | float):
                raise FormatError(path, f"names.{key}", "must be a class name")
            result[int(key)] = str(name)
        return dict(sorted(result.items()))
    raise FormatError(path, "names", "must be a list of class names or an {id: name} mapping")


def text_names(path: Path) -> dict[int, str]:
    """Names of a one-name-per-line file (line i = class i)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(path, "", f"cannot be read ({error})") from error
    return {i: name.strip() for i, name in enumerate(n for n in lines if n.strip())}


def dataset_yaml(src: Path) -> Path | None:
    """The dataset YAML: `src` itself, else the one YAML with class names in the folder `src`."""
    if src.is_file():
        return src if src.suffix.lower() in YAML_SUFFIXES else None
    found = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in YAML_SUFFIXES)
    with_names = [p for p in found if yaml_names(p, load_yaml(p)) is not None]
    if len(with_names) > 1:
        listed = ", ".join(p.name for p in with_names)
        raise FormatError(src, "", f"holds several dataset YAMLs ({listed}): give the one to read as the source")
    return with_names[0] if with_names else None


def names_file(folder: Path) -> Path | None:
    """classes.txt, obj.names, _darknet.labels or *.names in `folder` or one of its subfolders."""
    for place in [folder, *sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for name in NAME_FILES:
            if (place / name).is_file():
                return place / name
        other = sorted(place.glob("*.names"))
        if other:
            return other[0]
    return None


# -- label files and their images ----------------------------------------------------------------


def _images_part(path: Path, root: Path | None) -> int | None:
    """Index of the last `images` folder of `path` below `root` (anywhere when it is not below it), or None."""
    parts = path.parts
    first = len(root.parts) if root is not None and parts[: len(root.parts)] == root.parts else 0
    for index in range(len(parts) - 2, first - 1, -1):
        if parts[index] == "images":
            return index
    return None


def label_of(image: Path, root: Path | None = None) -> Path:
    """An image's label file as Ultralytics finds it: the last `images` folder (below `root`) replaced by
    `labels`, else beside the image."""
    index = _images_part(image, root)
    if index is None:
        return image.with_suffix(".txt")
    parts = list(image.parts)
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def is_image_list(path: Path) -> bool:
    """True for a text file of image paths (Darknet's train.txt), which is no label file."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    return Path(line.strip()).suffix.lower() in IMAGE_SUFFIXES
    except OSError:
        return False
    return False


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    files = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in files if p.is_file() and is_image(p) and not p.name.startswith("."))


def _listed_images(listing: Path, root: Path) -> list[Path]:
    """The images a Darknet / Ultralytics image list names ('./x' below the list's folder, else below `root`)."""
    images = []
    for line in listing.read_text("utf-8", errors="replace").splitlines():
        name = line.strip()
        if not name:
            continue
        if name.startswith("./"):
            images.append(listing.parent / name[2:])
            continue
        candidates = (
            [Path(name)] if Path(name).is_absolute() else [root / name, root.parent / name, listing.parent / name]
        )
        images.append(next((c for c in candidates if c.exists()), candidates[0]))
    return images


class _Finder:
    """Collects the label files of a dataset, each once, with the image it goes with."""

    def __init__(self, root: Path) -> None:
        self.layout = Layout(root, {})
        self.seen: set[Path] = set()

    def add_images(self, images: list[Path], where: Path, base: Path | None = None) -> None:
        """Pair images with their label files (images named below `base`, default `where`); those without one
        are background images, left out and counted."""
        background = 0
        for image in images:
            label = label_of(image, self.layout.root)
            if not image.is_file():
                self.layout.skipped.append((1, f"images listed but absent ({image.name})", where))
            elif label.is_file():
                self.add(label, image, label.with_suffix("").name, _below(image, base or where, self.layout.root))
            else:
                background += 1
        if background:
            self.layout.skipped.append((background, "images without a label file (background, no object)", where))

    def add(self, label: Path, image: Path | None, rel: str, ref: str | None = None) -> None:
        """Add one label file (once)."""
        key = label.resolve()
        if key not in self.seen:
            self.seen.add(key)
            self.layout.files.append(LabelFile(label, image, rel, ref))

    def add_loose(self, folder: Path, recursive: bool) -> None:
        """Label files of `folder` not yet paired with an image: to be looked up by their path below it."""
        files = folder.rglob("*.txt") if recursive else folder.glob("*.txt")
        for path in sorted(files):
            if path.resolve() in self.seen or path.name == "classes.txt":
                continue
            if path.name.lower().startswith("readme"):
                self.layout.skipped.append((1, "README files (not labels)", path))
            elif is_image_list(path):
                self.layout.skipped.append((1, "image lists (not label files)", path))
            else:
                self.add(path, None, path.relative_to(folder).with_suffix("").as_posix())


def _below(image: Path, folder: Path, root: Path) -> str:
    """An image's name: its path below its last `images` folder (the counterpart of its label's path below
    `labels`), else below `folder`, else its file name."""
    index = _images_part(image, root)
    if index is not None:
        return Path(*image.parts[index + 1 :]).as_posix()
    try:
        return image.relative_to(folder).as_posix()
    except ValueError:
        return image.name


def _yaml_splits(finder: _Finder, path: Path, data: dict[str, Any], root: Path) -> bool:
    """Add the splits the YAML names; True when it named any that exists."""
    found = False
    for key in SPLIT_KEYS:
        value = data.get(key)
        for entry in value if isinstance(value, list) else [value] if value else []:
            if not isinstance(entry, str):
                raise FormatError(path, key, "must be a folder or image list path, or a list of them")
            target = root / entry
            if not target.exists() and entry.startswith("../"):
                target = root / entry[3:]
            if target.is_dir():
                finder.add_images(_images_in(target, True), target)
                finder.add_loose(label_of(target / "x", root).parent, True)
            elif target.is_file():
                finder.add_images(_listed_images(target, root), target, root)
            else:
                finder.layout.skipped.append((1, f"splits named but absent ({key}: {entry})", path))
                continue
            found = True
    return found


def _folder_splits(finder: _Finder, src: Path) -> None:
    """Ultralytics, Roboflow and Darknet layouts below `src`, else loose label files."""
    subfolders = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    image_dirs = [d for d in [src / "images", *(s / "images" for s in subfolders)] if d.is_dir()]
    for folder in image_dirs:
        finder.add_images(_images_in(folder, True), folder)
        finder.add_loose(label_of(folder / "x", finder.layout.root).parent, True)
    for listing in (src / name for name in IMAGE_LISTS):
        if listing.is_file() and is_image_list(listing):
            finder.add_images(_listed_images(listing, src), listing, src)
    if image_dirs:
        return
    for folder in [src, *subfolders]:  # images with their label files side by side (Darknet, Roboflow Darknet)
        if folder.name != "labels" and any(folder.glob("*.txt")) and _images_in(folder, False):
            finder.add_images(_images_in(folder, False), folder)
            finder.add_loose(folder, False)
    if (src / "labels").is_dir():
        finder.add_loose(src / "labels", True)
    finder.add_loose(src, src.name == "labels")


def find_layout(src: Path) -> Layout:
    """The names, label files and images of the YOLO dataset at `src` (a folder, or its YAML file)."""
    src = Path(src)
    if not src.exists():
        raise FormatError(src, "", "does not exist")
    yaml_path = dataset_yaml(src)
    folder = src.parent if src.is_file() else src
    data = load_yaml(yaml_path) if yaml_path else {}
    root = folder
    if isinstance(data.get("path"), str) and (folder / data["path"]).is_dir():
        root = (folder / data["path"]).resolve()
    finder = _Finder(root)
    if not (yaml_path and _yaml_splits(finder, yaml_path, data, root)):
        _folder_splits(finder, root)
    names = yaml_names(yaml_path, data) if yaml_path else None
    if names is None:
        text = names_file(root)
        if text is None:
            raise FormatError(
                src, "", "has no class names: no dataset YAML with 'names', classes.txt, obj.names or *.names"
            )
        names = text_names(text)
    finder.layout.names = names
    if not finder.layout.files:
        raise FormatError(
            src, "", "holds no YOLO label file (looked for labels/, images/ + labels/, <split>/labels/, *.txt)"
        )
    return finder.layout


def looks_like_yolo(folder: Path) -> bool:
    """True when a folder has YOLO class names (a YAML with names, classes.txt ...) and label-like txt files."""
    try:
        has_names = names_file(folder) is not None or dataset_yaml(folder) is not None
    except FormatError:
        has_names = True  # a broken dataset YAML: reading it as YOLO names the problem
    patterns = ("*.txt", "labels/**/*.txt", "*/labels/**/*.txt", "*/*.txt")
    return has_names and any(any(p.name != "classes.txt" for p in folder.glob(pattern)) for pattern in patterns)
