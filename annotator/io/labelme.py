"""labelme JSON: one file per image (per annotated frame for videos), objects as shapes.

Export: each object becomes polygons (shape_type "polygon", hole-free pieces of a valid
geometry, in labelme's coordinates: PIL draws them filled and outlined) or one "mask" shape
(a base64 PNG of the mask's bbox crop, points = the bbox corners, inclusive). All shapes of one
object share its `group_id`; `label` is the label name (objects without one are left out:
`Dataset.with_unlabelled` names them first when the user asks), `description` the object's name;
`imageData` is null. `imagePath` is the image's path from the JSON file's folder, as labelme itself
resolves it ('../images/a.jpg' is fine; absolute only on another drive), so labelme opens the files
wherever they are written; for files written beside their images it is the image's file name.
Import: `imagePath` is looked up from the JSON's folder (labelme's convention), then below the image
root given, else in a folder above the JSON; an absent image embedded as `imageData` is used
(annotator.io.embedded), an `imagePath` naming a JSON file is refused. Shapes of equal (label,
group_id) form one object; a shape without group_id is its own. Polygons, rectangles (labelme's 2
corners or X-AnyLabeling's 4), X-AnyLabeling's rotated boxes, circles and masks are read; lines and
points (no area) are skipped and counted, and so is JSON below a folder that is not labelme.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from annotator.document.mask import Mask
from annotator.errors import FormatError
from annotator.io.common import MediaLookup, Progress, Reader, load_json, no_progress, write_json_atomic
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.embedded import decode_embedded
from annotator.io.polygons import DEFAULT_TOLERANCE, mask_to_polygons

log = logging.getLogger(__name__)

ShapeMode = Literal["polygon", "mask"]
LABELME_VERSION = "5.5.0"


@dataclass(frozen=True)
class LabelmeOptions:
    """Export options: shapes as 'polygon' or 'mask'; polygon simplification in pixels."""

    shapes: ShapeMode = "polygon"
    tolerance: float = DEFAULT_TOLERANCE


def _mask_png_b64(crop: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(crop.astype(np.uint8) * 255, mode="L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _shape(label: str, points: list, group: int, kind: str, name: str, mask: str | None = None) -> dict:
    shape = {"label": label, "points": points, "group_id": group, "description": name}
    shape.update(shape_type=kind, flags={}, mask=mask)
    return shape


def object_shapes(obj: ObjectData, mask: Mask, group: int, options: LabelmeOptions) -> list[dict]:
    """The labelme shapes of one (labelled) object's mask."""
    label = obj.label or ""
    x0, y0, x1, y1 = mask.bbox
    if options.shapes == "mask":
        points = [[float(x0), float(y0)], [float(x1 - 1), float(y1 - 1)]]
        return [_shape(label, points, group, "mask", obj.name, _mask_png_b64(mask.crop))]
    rings = mask_to_polygons(mask.crop, "center", options.tolerance)
    shapes = []
    for ring in rings:
        points = np.round(ring + np.array([x0, y0]), 2).tolist()
        shapes.append(_shape(label, points, group, "polygon", obj.name))
    return shapes


def labelme_dict(item: ItemData, frame: int, image_path: str, options: LabelmeOptions) -> dict:
    """The labelme JSON content of one image (or video frame); `image_path` as the file names it."""
    shapes = []
    for group, obj in enumerate(item.objects, 1):
        mask = obj.masks.get(frame)
        if obj.label and mask is not None and not mask.is_empty:
            shapes.extend(object_shapes(obj, mask, group, options))
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": item.height,
        "imageWidth": item.width,
    }


def _targets(item: ItemData, out: Path | None) -> list[tuple[int, str, Path]]:
    """(frame, media file, JSON file) of each file to write for an item."""
    if item.kind == "image":
        folder = Path(item.path).parent if out is None else out
        return [(0, item.path, folder / f"{item.stem}.json")]
    targets = []
    for frame in item.frames_with_masks():
        name = item.frame_name(frame)
        media = str(Path(item.path) / Path(name).name)
        folder = Path(item.path) if out is None else out / item.stem
        targets.append((frame, media, folder / f"{Path(name).stem}.json"))
    return targets


def image_path_from(media: str, folder: Path) -> str:
    """`imagePath` as labelme resolves it: the media's '/'-separated path from the JSON file's `folder`
    (climbing out with '..' where needed), or absolute when no relative path exists (another drive).

    A relative `media` (a dataset made in memory) is written as it is.
    """
    path = Path(media.replace("\\", "/"))
    if not path.is_absolute():
        return path.as_posix()
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(folder))).as_posix()
    except ValueError:  # on another drive
        return path.as_posix()


def write_labelme(
    dataset: Dataset,
    out: Path | None = None,
    options: LabelmeOptions = LabelmeOptions(),
    progress: Progress = no_progress,
) -> list[Path]:
    """Write labelme files into folder `out` (None: beside each image); `imagePath` from each JSON file."""
    written = []
    if dataset.unlabelled_count():
        log.info("labelme: %d objects without a label were left out", dataset.unlabelled_count())
    for done, item in enumerate(dataset.items, 1):
        for frame, media, path in _targets(item, None if out is None else Path(out)):
            name = image_path_from(media, path.parent)
            write_json_atomic(path, labelme_dict(item, frame, name, options), indent=2)
            written.append(path)
        progress(done, len(dataset.items))
    return written


# -- import --------------------------------------------------------------------------------------


def _points(reader: Reader, shape: dict, element: str) -> list[tuple[float, float]]:
    points = []
    for index, raw in enumerate(reader.get(shape, "points", list, element)):
        where = f"{element}.points[{index}]"
        pair = reader.check(raw, list, where)
        if len(pair) != 2:
            raise reader.fail(where, f"must be [x, y], not {len(pair)} numbers")
        points.append((reader.number(pair[0], where), reader.number(pair[1], where)))
    return points


def _draw(height: int, width: int, paint: Any) -> np.ndarray:
    canvas = Image.new("L", (width, height), 0)
    paint(ImageDraw.Draw(canvas))
    return np.asarray(canvas, dtype=bool)


def _mask_shape(reader: Reader, shape: dict, points: list, element: str, size: tuple[int, int]) -> np.ndarray:
    """A labelme mask shape: base64 PNG crop placed at the first point (inclusive bbox)."""
    data = reader.get(shape, "mask", str, element)
    if len(points) != 2:
        raise reader.fail(f"{element}.points", "a mask shape needs 2 points (its bbox corners)")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
            crop = np.asarray(image.convert("L")) > 0
    except (ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise reader.fail(f"{element}.mask", f"is not a base64 PNG ({error})") from error
    (x0, y0), (x1, y1) = ((int(x), int(y)) for x, y in points)
    if crop.shape != (y1 - y0 + 1, x1 - x0 + 1):
        raise reader.fail(f"{element}.mask", f"is {crop.shape[1]}x{crop.shape[0]} but its points span a different box")
    if x0 < 0 or y0 < 0 or x1 >= size[1] or y1 >= size[0]:
        raise reader.fail(f"{element}.points", "the mask lies outside the image")
    full = np.zeros(size, bool)
    full[y0 : y1 + 1, x0 : x1 + 1] = crop
    return full


AREA_SHAPES = ("polygon", "rectangle", "rotation", "circle", "mask")
NO_AREA_SHAPES = ("line", "linestrip", "point", "points")
LABELME_KEYS = ("shapes", "imagePath", "imageData")
"""A JSON object with any of these keys is a labelme (or X-AnyLabeling) file, checked as one;
other JSON below a folder (a COCO file, a colour map) is skipped and counted."""


def _rectangle(reader: Reader, points: list, element: str) -> tuple[str, list]:
    """A rectangle as ('box', two corners) or, for four corners off the axes, ('polygon', corners).

    labelme writes the two opposite corners; X-AnyLabeling writes all four, clockwise.
    """
    if len(points) == 2:
        return "box", points
    if len(points) != 4:
        raise reader.fail(f"{element}.points", f"a rectangle needs 2 or 4 points (its corners), got {len(points)}")
    xs, ys = {x for x, _ in points}, {y for _, y in points}
    if len(xs) <= 2 and len(ys) <= 2:
        return "box", [(min(xs), min(ys)), (max(xs), max(ys))]
    return "polygon", points


def shape_mask(reader: Reader, shape: dict, element: str, size: tuple[int, int]) -> np.ndarray | None:
    """The HxW mask of one shape as labelme draws it, or None for shapes without area."""
    kind = reader.opt(shape, "shape_type", str, element, "polygon")
    height, width = size
    if kind in NO_AREA_SHAPES:
        return None
    # Clip far-away vertices, which only slow the rasteriser down.
    points = [
        (min(max(x, -1.0), width + 1.0), min(max(y, -1.0), height + 1.0)) for x, y in _points(reader, shape, element)
    ]
    if kind == "mask":
        return _mask_shape(reader, shape, points, element, size)
    if kind == "rectangle":
        drawn, points = _rectangle(reader, points, element)
        if drawn == "box":
            (ax, ay), (bx, by) = points
            box = ((min(ax, bx), min(ay, by)), (max(ax, bx), max(ay, by)))
            return _draw(height, width, lambda d: d.rectangle(box, fill=1, outline=1))
        kind = "polygon"  # four corners off the axes: drawn as the quadrilateral they make
    if kind == "rotation" and len(points) != 4:
        raise reader.fail(f"{element}.points", f"a rotated box needs 4 points (its corners), got {len(points)}")
    if kind in ("polygon", "rotation"):
        if len(points) < 3:
            raise reader.fail(f"{element}.points", f"a polygon needs at least 3 points, got {len(points)}")
        return _draw(height, width, lambda d: d.polygon(points, fill=1, outline=1))
    if kind == "circle":
        if len(points) != 2:
            raise reader.fail(f"{element}.points", f"a circle needs 2 points (centre, rim), got {len(points)}")
        (cx, cy), (px, py) = points
        r = math.hypot(cx - px, cy - py)
        return _draw(height, width, lambda d: d.ellipse(((cx - r, cy - r), (cx + r, cy + r)), fill=1, outline=1))
    known = ", ".join((*AREA_SHAPES, *NO_AREA_SHAPES))
    raise reader.fail(f"{element}.shape_type", f"unknown shape type '{kind}' (known: {known})")


def is_labelme(data: Any) -> bool:
    """True for parsed JSON that is meant as a labelme file (see LABELME_KEYS)."""
    return isinstance(data, dict) and any(key in data for key in LABELME_KEYS)


def _same_file(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _media(reader: Reader, data: dict, check_media: bool, lookup: MediaLookup) -> ItemData:
    """The item (no objects yet) of a labelme file: its image, found or embedded, and its size."""
    image_path = reader.get(data, "imagePath", str, "").replace("\\", "/")
    media = lookup.find(image_path, reader.path.parent)
    if _same_file(media, reader.path):
        raise reader.fail("imagePath", f"'{image_path}' names this JSON file itself, not its image")
    if Path(image_path).suffix.lower() == ".json":
        raise reader.fail("imagePath", f"'{image_path}' names a JSON file, not an image")
    embedded = None
    if not media.is_file():
        text = reader.opt(data, "imageData", str, "")
        if text is not None:
            embedded = decode_embedded(text, reader.path, "imageData")
            if not Path(image_path).suffix:  # no file name to extract it under: take the JSON's
                media = reader.path.with_suffix(embedded.suffix)
        elif check_media:
            raise reader.fail("imagePath", f"the image '{image_path}' is absent (and no imageData is embedded)")
    width = _dimension(reader, data, "imageWidth", embedded.width if embedded else None)
    height = _dimension(reader, data, "imageHeight", embedded.height if embedded else None)
    reader.image_size(width, height, "imageWidth")
    return ItemData(str(media), width, height, ref=image_path, embedded=embedded.data if embedded else None)


def _dimension(reader: Reader, data: dict, key: str, actual: int | None) -> int:
    """imageWidth / imageHeight, which must agree with the embedded image (as labelme checks)."""
    if actual is not None and data.get(key) is None:
        return actual
    value = reader.integer(reader.get(data, key, int, ""), key, minimum=1)
    if actual is not None and value != actual:
        raise reader.fail(key, f"is {value} but the image embedded in imageData is {actual}")
    return value


def labelme_to_item(
    reader: Reader, data: Any, check_media: bool = True, lookup: MediaLookup | None = None, no_area: list | None = None
) -> ItemData:
    """One ItemData from parsed labelme JSON (FormatError on anything invalid).

    Shapes without area (lines, points) are left out; each is appended to `no_area` when given.
    """
    data = reader.check(data, dict, "")
    item = _media(reader, data, check_media, lookup or MediaLookup(beside_file=True))
    groups: dict[tuple[str, int], ObjectData] = {}
    for index, raw in enumerate(reader.get(data, "shapes", list, "")):
        element = f"shapes[{index}]"
        shape = reader.check(raw, dict, element)
        label = reader.get(shape, "label", str, element)
        group = reader.opt(shape, "group_id", int, element)
        name = reader.opt(shape, "description", str, element, "")
        full = shape_mask(reader, shape, element, (item.height, item.width))
        if full is None:
            if no_area is not None:
                no_area.append(element)
            continue
        obj = groups.get((label, group)) if group is not None else None
        if obj is None:
            obj = ObjectData(name, label)
            item.objects.append(obj)
            if group is not None:
                groups[(label, group)] = obj
        previous = obj.masks.get(0)
        obj.masks[0] = Mask.from_array(full if previous is None else previous.to_array() | full)
    return item


def _labelme_files(src: Path) -> tuple[list[tuple[Path, Any]], list[Path]]:
    """(path, parsed JSON) of the labelme files in `src`, and the other JSON files found below a folder."""
    if src.is_file():
        data = load_json(src)
        if not is_labelme(data):
            raise FormatError(src, "", f"is not a labelme file (it has none of the keys {', '.join(LABELME_KEYS)})")
        return [(src, data)], []
    if not src.is_dir():
        raise FormatError(src, "", "does not exist")
    files, others = [], []
    for path in sorted(src.rglob("*.json")):
        data = load_json(path)
        if is_labelme(data):
            files.append((path, data))
        else:
            others.append(path)
    if not files:
        found = f"{len(others)} JSON file{'s' if len(others) != 1 else ''} that {'are' if len(others) != 1 else 'is'}"
        why = f"found {found} not labelme" if others else "no *.json file below it"
        raise FormatError(src, "", f"holds no labelme files ({why})")
    return files, others


def read_labelme(
    src: Path, check_media: bool = True, progress: Progress = no_progress, images: Path | None = None
) -> Dataset:
    """Read one labelme file or every labelme *.json under a folder (recursively), all checked first.

    Below a folder, JSON that is not labelme is skipped and counted; a folder without any labelme
    file is a FormatError. An image that is absent but embedded (imageData) is kept on its item.
    """
    src = Path(src)
    files, others = _labelme_files(src)
    lookup = MediaLookup(images, beside_file=True)
    dataset = Dataset()
    no_area: list[str] = []
    for done, (path, data) in enumerate(files, 1):
        dataset.items.append(labelme_to_item(Reader(path), data, check_media, lookup, no_area))
        progress(done, len(files))
    for path in others:
        log.info("%s: not a labelme file (no %s); skipped", path, ", ".join(LABELME_KEYS))
    dataset.skip(len(others), "JSON files that are not labelme", src)
    dataset.skip(len(no_area), "line and point shapes (no area)", src)
    dataset.root = lookup.root_or(src if src.is_dir() else src.parent)
    for item in dataset.items:
        for obj in item.objects:
            if obj.label and obj.label not in dataset.label_names():
                dataset.labels.append(LabelData(obj.label))
    return dataset
