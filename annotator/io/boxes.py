"""Boxes of a detection file (COCO bbox, YOLO detection labels, MOT tracks), for turning into masks.

The annotation readers keep masks and skip box-only entries; these readers keep exactly the boxes:
per image (or per frame of a sequence) a list of (label name or None, x0, y0, x1, y1) in pixels.
Errors are FormatError naming the file and the element.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from annotator.errors import FormatError
from annotator.io.common import Reader, load_json
from annotator.io.media import image_size
from annotator.io.yolo import _image_for
from annotator.io.yolo_layout import find_layout, text_names

log = logging.getLogger(__name__)

Box = tuple[str | None, float, float, float, float]
BOX_FORMATS = ("coco", "yolo", "mot")


@dataclass
class BoxSet:
    """The boxes of one image or sequence: `ref` as the file names it, `path` where it was found
    (None: look it up by name), boxes by 0-based frame."""

    ref: str
    path: str | None = None
    frames: dict[int, list[Box]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """How many boxes, on every frame."""
        return sum(len(boxes) for boxes in self.frames.values())


def detect_box_format(path: Path) -> str:
    """'coco' for a .json file, 'mot' for a .txt file, 'yolo' for a folder or YAML (FormatError otherwise)."""
    if path.is_dir() or path.suffix.lower() in (".yaml", ".yml"):
        return "yolo"
    if path.suffix.lower() == ".json":
        return "coco"
    if path.suffix.lower() == ".txt":
        return "mot"
    raise FormatError(path, "", "is not a box file (COCO .json, YOLO folder or .yaml, MOT .txt)")


def read_boxes(path: Path, fmt: str | None = None) -> list[BoxSet]:
    """Every box of a COCO, YOLO or MOT file, grouped by image / sequence."""
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "", "does not exist")
    fmt = fmt or detect_box_format(path)
    if fmt == "coco":
        return read_coco_boxes(path)
    if fmt == "yolo":
        return read_yolo_boxes(path)
    if fmt == "mot":
        return read_mot_boxes(path)
    raise FormatError(path, "", f"cannot read boxes from the format '{fmt}' (readable: {', '.join(BOX_FORMATS)})")


def read_coco_boxes(path: Path) -> list[BoxSet]:
    """The `bbox` ([x, y, w, h]) of every COCO annotation, with its category's name."""
    reader = Reader(path)
    data = reader.check(load_json(path), dict, "the file")
    images: dict[int, BoxSet] = {}
    for index, entry in enumerate(reader.get(data, "images", list, "the file")):
        element = f"images[{index}]"
        entry = reader.check(entry, dict, element)
        image_id = reader.integer(reader.get(entry, "id", int, element), f"{element}.id")
        name = reader.get(entry, "file_name", str, element)
        images[image_id] = BoxSet(name, str((path.parent / name).resolve()))
    names = {}
    for index, entry in enumerate(reader.opt(data, "categories", list, "the file", [])):
        element = f"categories[{index}]"
        entry = reader.check(entry, dict, element)
        names[reader.integer(reader.get(entry, "id", int, element), f"{element}.id")] = reader.get(
            entry, "name", str, element
        )
    for index, entry in enumerate(reader.get(data, "annotations", list, "the file")):
        element = f"annotations[{index}]"
        entry = reader.check(entry, dict, element)
        image_id = reader.integer(reader.get(entry, "image_id", int, element), f"{element}.image_id")
        if image_id not in images:
            raise reader.fail(f"{element}.image_id", f"no image has id {image_id}")
        box = reader.opt(entry, "bbox", list, element)
        if box is None:
            continue
        if len(box) != 4:
            raise reader.fail(f"{element}.bbox", f"must be [x, y, width, height], got {len(box)} numbers")
        x, y, w, h = (reader.number(v, f"{element}.bbox") for v in box)
        if w <= 0 or h <= 0:
            raise reader.fail(f"{element}.bbox", f"has width {w:g} and height {h:g}; both must be positive")
        category = reader.opt(entry, "category_id", int, element)
        if category is not None and category not in names:
            raise reader.fail(f"{element}.category_id", f"no category has id {category}")
        label = names.get(category) if category is not None else None
        images[image_id].frames.setdefault(0, []).append((label, x, y, x + w, y + h))
    return list(images.values())


def read_yolo_boxes(path: Path) -> list[BoxSet]:
    """The `CLASS cx cy w h` lines (normalised) of a YOLO detection dataset, in pixels of each image."""
    layout = find_layout(path)
    images_dir = layout.root / "images"
    result = []
    for entry in layout.files:
        media = _image_for(entry, images_dir)
        if media is None:
            raise FormatError(entry.label, "", f"no image named {entry.rel}.* in {images_dir}")
        width, height = image_size(media)
        boxes: list[Box] = []
        try:
            text = entry.label.read_text("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise FormatError(entry.label, "", f"cannot be read ({error})") from error
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if len(fields) != 5:  # empty, or a polygon line (a mask already)
                continue
            try:
                cls, cx, cy, w, h = int(float(fields[0])), *(float(v) for v in fields[1:])
            except ValueError as error:
                raise FormatError(entry.label, f"line {number}", f"is not 'CLASS cx cy w h' ({error})") from error
            if cls not in layout.names:
                raise FormatError(entry.label, f"line {number}", f"class {cls} is not among the class names")
            x0, y0 = (cx - w / 2) * width, (cy - h / 2) * height
            boxes.append((layout.names[cls], x0, y0, x0 + w * width, y0 + h * height))
        result.append(BoxSet(media.name, str(media.resolve()), {0: boxes} if boxes else {}))
    return result


def read_mot_boxes(path: Path) -> list[BoxSet]:
    """The boxes of a MOT file (`frame, id, x, y, w, h, conf[, class, visibility]`, frames from 1),
    one sequence named by the file's stem (gt/gt.txt: by the sequence folder); classes are named
    by a labels.txt beside it (line n = class n), else left without a label."""
    sequence = path.parent.parent.name if path.parent.name == "gt" else path.stem
    labels_file = path.parent / "labels.txt"
    names = text_names(labels_file) if labels_file.is_file() else {}
    frames: dict[int, list[Box]] = {}
    for number, line in enumerate(path.read_text("utf-8-sig").splitlines(), 1):
        fields = [f.strip() for f in line.split(",")]
        if not line.strip():
            continue
        if len(fields) < 6:
            raise FormatError(path, f"line {number}", "is not 'frame, id, x, y, w, h, ...'")
        try:
            frame, x, y, w, h = int(float(fields[0])), *(float(v) for v in fields[2:6])
            cls = int(float(fields[7])) if len(fields) > 8 else -1
        except ValueError as error:
            raise FormatError(path, f"line {number}", f"has a field that is not a number ({error})") from error
        if frame < 1:
            raise FormatError(path, f"line {number}", f"frame {frame}: MOT frames count from 1")
        if w <= 0 or h <= 0:
            continue
        label = names.get(cls - 1) if cls >= 1 else None
        frames.setdefault(frame - 1, []).append((label, x, y, x + w, y + h))
    return [BoxSet(sequence, None, frames)]
