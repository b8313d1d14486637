"""YOLO segmentation: one txt per image, a line "CLASS x1 y1 x2 y2 ..." (normalised) per object.

Export: an Ultralytics dataset that its loader reads as it is: OUT/images/REF (each image hard-linked,
else copied, REF its path below the image root; video frames OUT/images/STEM/FRAME), OUT/labels/REF.txt
beside in the `labels` tree, OUT/data.yaml (`train` / `val`: images, `names`: {id: name}) and
OUT/classes.txt (one name per line). data.yaml has no `path`: Ultralytics then takes the YAML's own
folder as the root, so the export stays valid wherever it is moved (a relative `path` would be read
against the working directory or its datasets folder). Objects without a label have no class and are
left out (`Dataset.with_unlabelled` names them first when the user asks). An object is one line: its
holes spliced in (cv2.fillPoly fills them even-odd), its parts joined by zero-width cuts between their
closest vertices (`polygons.bridge`), as Ultralytics' own COCO converter joins an object's parts.
Import: the layouts of `yolo_layout` (Ultralytics, Roboflow, Darknet, a YAML given as the source);
each label file with its image (YOLO needs the size: a label file without its image is refused, or
with `check_media` off listed in `Dataset.missing`). Box lines (`CLASS cx cy w h`: detection labels)
hold no mask and are skipped and counted, as is whatever else the reader leaves out (Dataset.skip).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.common import MEDIA_HINT, Progress, image_ref, no_progress, write_bytes_atomic
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData, image_root
from annotator.io.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, image_size, list_images
from annotator.io.png_masks import find_image
from annotator.io.polygons import DEFAULT_TOLERANCE, bridge, mask_to_polygons, split_cuts
from annotator.io.yolo_layout import LabelFile, find_layout

log = logging.getLogger(__name__)

BOX_LINES = "box lines (detection labels, no mask)"


def class_names(dataset: Dataset) -> list[str]:
    """Class names in index order (the labels, then any other label name that objects use)."""
    names = dataset.label_names()
    for name in (obj.label for item in dataset.items for obj in item.objects):
        if name and name not in names:
            names.append(name)
    return names


def object_line(mask: Mask, cls: int, width: int, height: int, tolerance: float) -> str | None:
    """One YOLO line for a mask: all its parts (holes spliced in) as one polygon; None when it has none."""
    x0, y0, _, _ = mask.bbox
    rings = mask_to_polygons(mask.crop, "center", tolerance, holes="keyhole")
    if not rings:
        return None
    coords = (bridge(rings) + np.array([x0, y0])) / np.array([width, height])
    return f"{cls} " + " ".join(f"{v:.6f}" for v in np.clip(coords, 0, 1).reshape(-1))


def _lines(item: ItemData, frame: int, classes: dict[str, int], tolerance: float) -> list[str]:
    lines = []
    for obj in item.objects:
        mask = obj.masks.get(frame)
        if obj.label and mask is not None and not mask.is_empty:
            line = object_line(mask, classes[obj.label], item.width, item.height, tolerance)
            if line is not None:
                lines.append(line)
    return lines


def _place_image(source: Path, target: Path) -> None:
    """Put the image at `target`: a hard link (no copy, same file system), else a copy; atomic."""
    if target.exists() and os.path.samefile(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _frame_files(item: ItemData, media: Path) -> list[Path] | None:
    """The frame files of a frame-folder video, in frame order (None when they are not all there)."""
    if not media.is_dir():
        return None
    if item.frame_names is not None:
        files = [media / name for name in item.frame_names[: item.frame_count]]
    else:
        files = list_images(media)
    return files if len(files) == item.frame_count and all(f.is_file() for f in files) else None


def _open_video(media: Path) -> Any:
    """A frame reader of a video file, or None when it cannot be read (its labels are still written)."""
    from annotator.io.video import VideoReader

    try:
        return VideoReader(media)
    except Exception as error:  # a MediaError or a decoder error
        log.warning("%s: frames not exported (%s)", media, error)
        return None


def _targets(item: ItemData, root: Path, out: Path, taken: set[str]) -> list[tuple[int, str, Path | None]]:
    """(frame, path below images/ and labels/ without suffix, the image file to place) for each frame of an item.

    The frames of a video file have no file (None): they are decoded and written as JPEG.
    """
    media = Path(item.path) if Path(item.path).is_absolute() else root / item.path
    inside = image_ref(str(media), out / "images")  # already in this export's images (an export over itself)
    ref = inside if not Path(inside).is_absolute() else image_ref(item.path, root)
    ref = item.name if Path(ref).is_absolute() else ref  # outside the image root: by its name
    base = ref[: -len(Path(ref).suffix)] if Path(ref).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES else ref
    stem, n = base, 1
    while stem in taken:  # two images of one name from outside the root
        n += 1
        stem = f"{base}_{n}"
    taken.add(stem)
    if item.kind == "image":
        return [(0, stem, media if media.is_file() else None)]
    files = _frame_files(item, media)
    if files is not None:
        return [(f, f"{stem}/{p.stem}", p) for f, p in enumerate(files)]
    return [(f, f"{stem}/{Path(item.frame_name(f)).stem}", None) for f in range(item.frame_count)]


def write_yolo(
    dataset: Dataset,
    out: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: Progress = no_progress,
    root: Path | None = None,
) -> Path:
    """Write an Ultralytics YOLO segmentation dataset into folder `out` (images named below `root`)."""
    out = Path(out)
    folder = image_root(dataset, root, out)
    if dataset.unlabelled_count():
        log.info("%s: %d objects without a label were left out", out, dataset.unlabelled_count())
    names = class_names(dataset)
    classes = {name: index for index, name in enumerate(names)}
    taken: set[str] = set()
    absent = 0
    for done, item in enumerate(dataset.items, 1):
        media = Path(item.path)
        reader = _open_video(media) if item.kind == "video" and media.is_file() else None
        try:
            for frame, rel, image in _targets(item, folder, out, taken):
                text = "".join(line + "\n" for line in _lines(item, frame, classes, tolerance))
                write_bytes_atomic(out / "labels" / f"{rel}.txt", text.encode("utf-8"))
                if image is not None:
                    _place_image(image, out / "images" / f"{rel}{image.suffix}")
                elif reader is not None and frame < len(reader):
                    _write_jpeg(out / "images" / f"{rel}.jpg", reader[frame])
                else:
                    absent += 1
        finally:
            if reader is not None:
                reader.close()
        progress(done, len(dataset.items))
    if absent:
        log.warning("%s: %d images are absent and were not placed in images/ (their labels are written)", out, absent)
    write_bytes_atomic(out / "classes.txt", "".join(n + "\n" for n in names).encode("utf-8"))
    write_bytes_atomic(out / "data.yaml", data_yaml(names).encode("utf-8"))
    return out


def data_yaml(names: list[str]) -> str:
    """The dataset YAML of an export: splits relative to its own folder (no `path`), names by class id."""
    head = "# Ultralytics YOLO segmentation dataset written by annotator; paths are below this file's folder.\n"
    body = f"train: images\nval: images\nnc: {len(names)}\nnames:\n"
    return head + body + "".join(f"  {i}: {_yaml_str(n)}\n" for i, n in enumerate(names)) + ("" if names else "  {}\n")


def _write_jpeg(path: Path, frame: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    if ok:
        write_bytes_atomic(path, data.tobytes())


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- import --------------------------------------------------------------------------------------


def parse_yolo_lines(
    path: Path, text: str, names: dict[int, str], size: tuple[int, int]
) -> tuple[list[ObjectData], int]:
    """One object per polygon line of a YOLO txt, and the number of box lines skipped (FormatError naming the line)."""
    height, width = size
    objects, boxes = [], 0
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        element = f"line {number}"
        try:
            cls_value = float(fields[0])
            values = np.array([float(v) for v in fields[1:]])
        except ValueError as error:
            raise FormatError(path, element, f"is not 'CLASS x y x y ...' ({error})") from error
        if cls_value != int(cls_value) or int(cls_value) not in names:
            raise FormatError(path, element, f"class {fields[0]} is not among the {len(names)} class names")
        if len(values) == 4:  # `CLASS cx cy w h`: a detection box, which holds no mask
            boxes += 1
            continue
        if len(values) < 6:
            raise FormatError(path, element, f"a polygon needs at least 3 (x, y) points, got {len(values) / 2:g}")
        if len(values) % 2:
            raise FormatError(path, element, f"has {len(values)} coordinates: a polygon is (x, y) pairs")
        if not np.isfinite(values).all() or values.min() < -0.01 or values.max() > 1.01:
            raise FormatError(path, element, "coordinates must be normalised to [0, 1]")
        scale = np.array([width, height])
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [(loop * scale).astype(np.int32) for loop in split_cuts(values)], 1)
        objects.append(ObjectData(label=names[int(cls_value)], masks={0: Mask.from_array(canvas)}))
    return objects, boxes


def _image_for(entry: LabelFile, images: Path) -> Path | None:
    """The label's image: found in the dataset, else below `images` by its path below labels/, else by stem."""
    if entry.image is not None:
        return entry.image
    rel = Path(entry.rel)
    return find_image(images / rel.parent, rel.name) or find_image(images, rel.name)


def read_yolo(
    src: Path, images: Path | None = None, progress: Progress = no_progress, check_media: bool = True
) -> Dataset:
    """Read a YOLO segmentation dataset (a folder or its YAML); a label file's missing image is an error, or listed
    in `missing` when `check_media` is off."""
    layout = find_layout(Path(src))
    images_dir = Path(images) if images else layout.root / "images"
    in_dataset = any(entry.image is not None for entry in layout.files)
    root = layout.root if in_dataset else images_dir
    dataset = Dataset([LabelData(n) for n in layout.names.values()], root=str(root))
    for done, entry in enumerate(layout.files, 1):
        media = _image_for(entry, images_dir)
        if media is None and not check_media:
            dataset.missing.append(f"{entry.rel}.*")
            continue
        if media is None:
            raise FormatError(entry.label, "", f"no image named {entry.rel}.* in {images_dir}{MEDIA_HINT}")
        width, height = image_size(media)
        try:
            text = entry.label.read_text("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise FormatError(entry.label, "", f"cannot be read ({error})") from error
        objects, boxes = parse_yolo_lines(entry.label, text, layout.names, (height, width))
        if boxes and not objects:
            dataset.skip(boxes, f"{BOX_LINES}: a detection label file, it has no polygon", entry.label)
        else:
            dataset.skip(boxes, BOX_LINES, entry.label)
        item = ItemData(str(media), width, height, ref=entry.ref or image_ref(str(media), root))
        item.objects = objects
        dataset.items.append(item)
        progress(done, len(layout.files))
    for count, what, where in layout.skipped:
        dataset.skip(count, what, where)
    return dataset
