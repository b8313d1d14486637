"""YOLO segmentation: one txt per image, a line "CLASS x1 y1 x2 y2 ..." (normalised) per polygon.

Export layout: OUT/labels/STEM.txt (video frames: OUT/labels/STEM/FRAME.txt), OUT/classes.txt
(one name per line, class index = line number from 0) and OUT/data.yaml (`names:` list). YOLO
names no image: a label file goes with the image of its stem. Objects without a label have no
class and are left out (`Dataset.with_unlabelled` names them first when the user asks). A
polygon with holes is written as one ring with the holes spliced in (cv2.fillPoly fills it
even-odd); each part of a multi-part object is its own line, so the import, which cannot know
what belonged together, makes one object per line.
Import: txt files under SRC/labels (or SRC), names from classes.txt / obj.names / data.yaml, and
images paired by stem in the images folder (option; default SRC/images): YOLO needs the size, so
a label file without its image is refused, or with `check_media` off listed in `Dataset.missing`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np

from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.common import Progress, no_progress, write_bytes_atomic
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.media import image_size
from annotator.io.png_masks import find_image
from annotator.io.polygons import DEFAULT_TOLERANCE, mask_to_polygons

log = logging.getLogger(__name__)


def class_names(dataset: Dataset) -> list[str]:
    """Class names in index order (the labels, then any other label name that objects use)."""
    names = dataset.label_names()
    for name in (obj.label for item in dataset.items for obj in item.objects):
        if name and name not in names:
            names.append(name)
    return names


def _lines(item: ItemData, frame: int, classes: dict[str, int], tolerance: float) -> list[str]:
    lines = []
    for obj in item.objects:
        mask = obj.masks.get(frame)
        if not obj.label or mask is None or mask.is_empty:
            continue
        x0, y0, _, _ = mask.bbox
        for ring in mask_to_polygons(mask.crop, "center", tolerance, holes="keyhole"):
            coords = (ring + np.array([x0, y0])) / np.array([item.width, item.height])
            values = " ".join(f"{v:.6f}" for v in np.clip(coords, 0, 1).reshape(-1))
            lines.append(f"{classes[obj.label]} {values}")
    return lines


def write_yolo(
    dataset: Dataset, out: Path, tolerance: float = DEFAULT_TOLERANCE, progress: Progress = no_progress
) -> Path:
    """Write YOLO segmentation labels, classes.txt and data.yaml into folder `out`."""
    out = Path(out)
    if dataset.unlabelled_count():
        log.info("%s: %d objects without a label were left out", out, dataset.unlabelled_count())
    names = class_names(dataset)
    classes = {name: index for index, name in enumerate(names)}
    for done, item in enumerate(dataset.items, 1):
        if item.kind == "image":
            targets = [(0, out / "labels" / f"{item.stem}.txt")]
        else:
            targets = [
                (f, out / "labels" / item.stem / f"{Path(item.frame_name(f)).stem}.txt")
                for f in range(item.frame_count)
            ]
        for frame, path in targets:
            text = "".join(line + "\n" for line in _lines(item, frame, classes, tolerance))
            write_bytes_atomic(path, text.encode("utf-8"))
        progress(done, len(dataset.items))
    write_bytes_atomic(out / "classes.txt", "".join(n + "\n" for n in names).encode("utf-8"))
    yaml = "path: .\ntrain: images\nval: images\nnames:\n" + "".join(
        f"  {i}: {_yaml_str(n)}\n" for i, n in enumerate(names)
    )
    write_bytes_atomic(out / "data.yaml", yaml.encode("utf-8"))
    return out


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- import --------------------------------------------------------------------------------------


def read_names(src: Path) -> list[str]:
    """Class names from classes.txt, obj.names or data.yaml (simple `names:` forms) in `src`."""
    for name in ("classes.txt", "obj.names"):
        path = src / name
        if path.is_file():
            return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    path = src / "data.yaml"
    if not path.is_file():
        raise FormatError(src, "", "no classes.txt, obj.names or data.yaml with the class names")
    text = path.read_text("utf-8")
    inline = re.search(r"^names:\s*\[(.*)\]\s*$", text, re.M)
    if inline:
        return [n.strip().strip("'\"") for n in inline.group(1).split(",") if n.strip()]
    block = re.search(r"^names:\s*\n((?:[ \t]+.*\n?)*)", text, re.M)
    if not block:
        raise FormatError(path, "names", "no class names found")
    names = []
    for line in block.group(1).splitlines():
        entry = re.match(r"\s*(?:-|\d+\s*:)\s*(.*)$", line)
        if entry:
            names.append(entry.group(1).strip().strip("'\""))
    return names


def parse_yolo_lines(path: Path, text: str, names: list[str], size: tuple[int, int]) -> list[ObjectData]:
    """One object per line of a YOLO segmentation txt (FormatError naming the line)."""
    height, width = size
    objects = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        element = f"line {number}"
        try:
            cls = int(fields[0])
            values = np.array([float(v) for v in fields[1:]])
        except ValueError as error:
            raise FormatError(path, element, f"is not 'CLASS x y x y ...' ({error})") from error
        if not 0 <= cls < len(names):
            raise FormatError(path, element, f"class {cls} is not among the {len(names)} names")
        if len(values) % 2 or len(values) < 6:
            raise FormatError(path, element, f"a polygon needs at least 3 (x, y) points, got {len(values) / 2:g}")
        if not np.isfinite(values).all() or values.min() < -0.01 or values.max() > 1.01:
            raise FormatError(path, element, "coordinates must be normalised to [0, 1]")
        points = (values.reshape(-1, 2) * np.array([width, height])).astype(np.int32)
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [points], 1)
        objects.append(ObjectData(label=names[cls], masks={0: Mask.from_array(canvas)}))
    return objects


def read_yolo(
    src: Path, images: Path | None = None, progress: Progress = no_progress, check_media: bool = True
) -> Dataset:
    """Read YOLO segmentation labels (images paired by stem; a missing one is an error, or listed in `missing`)."""
    src = Path(src)
    names = read_names(src)
    labels_dir = src / "labels" if (src / "labels").is_dir() else src
    images_dir = Path(images) if images else src / "images"
    files = sorted(p for p in labels_dir.glob("*.txt") if p.name != "classes.txt")
    dataset = Dataset([LabelData(n) for n in names], root=str(images_dir))
    for done, path in enumerate(files, 1):
        media = find_image(images_dir, path.stem)
        if media is None and not check_media:
            dataset.missing.append(f"{path.stem}.*")
            continue
        if media is None:
            raise FormatError(path, "", f"no image named {path.stem}.* in {images_dir}")
        width, height = image_size(media)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise FormatError(path, "", f"cannot be read ({error})") from error
        item = ItemData(str(media), width, height, ref=media.name)
        item.objects = parse_yolo_lines(path, text, names, (height, width))
        dataset.items.append(item)
        progress(done, len(files))
    return dataset
