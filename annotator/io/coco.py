"""COCO instance segmentation: export and import (images, and videos as frames with track ids).

Export: categories from labels, one image entry per image and per video frame (with `video_id`,
`frame_id`), one annotation per object and frame with `track_id`, segmentation as compressed RLE
(default) or polygons, `iscrowd` 0, `area` and `bbox` ([x, y, w, h]) of the mask. Objects without
a label have no category and are left out (`Dataset.with_unlabelled` names them first when the
user asks). `file_name` is relative to the image root (the project's folder; see
`common.image_ref`). Videos are also listed under "videos" so that an import restores them.
Import checks the whole file (types, ids, sizes, that listed images exist) before returning;
`file_name` is looked up below the image root given, else the JSON's folder or one above it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from annotator.document.mask import Mask
from annotator.io.common import MediaLookup, Progress, Reader, image_ref, load_json, no_progress, write_json_atomic
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData, image_root
from annotator.io.polygons import DEFAULT_TOLERANCE, mask_to_polygons, polygons_to_mask
from annotator.io.rle import mask_to_rle, parse_rle

log = logging.getLogger(__name__)

SegmentationMode = Literal["rle", "polygon"]


@dataclass(frozen=True)
class CocoOptions:
    """Export options: segmentation as 'rle' or 'polygon', polygon simplification in pixels."""

    segmentation: SegmentationMode = "rle"
    tolerance: float = DEFAULT_TOLERANCE


DEFAULT_OPTIONS = CocoOptions()


def segmentation_of(mask: Mask, options: CocoOptions) -> Any:
    """The COCO segmentation of a mask: an RLE dict, or a list of flat [x0, y0, x1, y1, ...] lists."""
    if options.segmentation == "rle":
        return mask_to_rle(mask)
    x0, y0, _, _ = mask.bbox
    rings = mask_to_polygons(mask.crop, "edge", options.tolerance)
    return [np.round(ring + np.array([x0, y0]), 2).reshape(-1).tolist() for ring in rings]


def category_table(dataset: Dataset) -> tuple[list[dict], dict[str, int]]:
    """COCO categories (ids from 1) and the category id of each label name (objects' labels included)."""
    names = dataset.label_names()
    for name in (obj.label for item in dataset.items for obj in item.objects):
        if name and name not in names:
            names.append(name)
    ids = {name: i + 1 for i, name in enumerate(names)}
    return [{"id": ids[name], "name": name, "supercategory": ""} for name in names], ids


def log_unlabelled(dataset: Dataset, path: Path) -> None:
    """Log how many objects are left out of `path` for having no label."""
    count = dataset.unlabelled_count()
    if count:
        log.info("%s: %d objects without a label were left out", path, count)


def _annotation(ann_id: int, image_id: int, category: int, mask: Mask, options: CocoOptions) -> dict:
    x0, y0, x1, y1 = mask.bbox
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "segmentation": segmentation_of(mask, options),
        "area": mask.area,
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        "iscrowd": 0,
    }


def _video_entry(video_id: int, item: ItemData, root: Path) -> dict:
    return {
        "id": video_id,
        "file_name": image_ref(item.path, root),
        "width": item.width,
        "height": item.height,
        "length": item.frame_count,
        "fps": item.fps,
    }


def coco_dict(
    dataset: Dataset, root: Path, options: CocoOptions = DEFAULT_OPTIONS, progress: Progress = no_progress
) -> dict:
    """The COCO JSON content of a dataset; file names relative to the image root `root`."""
    categories, category_ids = category_table(dataset)
    images: list[dict] = []
    annotations: list[dict] = []
    videos: list[dict] = []
    track = 0
    total, done = dataset.mask_count(), 0
    for item in dataset.items:
        video_id = None
        if item.kind == "video":
            video_id = len(videos) + 1
            videos.append(_video_entry(video_id, item, root))
        first_image = len(images) + 1
        for frame in range(item.frame_count):
            entry = {"id": first_image + frame, "file_name": _frame_file(item, frame, root)}
            entry.update(width=item.width, height=item.height)
            if video_id is not None:
                entry.update(video_id=video_id, frame_id=frame)
            images.append(entry)
        for obj in item.objects:
            track += 1
            if not obj.label:
                continue
            for frame, mask in sorted(obj.masks.items()):
                if mask.is_empty:
                    continue
                ann = _annotation(len(annotations) + 1, first_image + frame, category_ids[obj.label], mask, options)
                ann.update(track_id=track, name=obj.name)
                annotations.append(ann)
                done += 1
                if done % 1000 == 0:
                    progress(done, total)
    progress(total, total)
    data = {"info": {"description": "exported by annotator"}, "images": images, "annotations": annotations}
    data["categories"] = categories
    if videos:
        data["videos"] = videos
    return data


def _frame_file(item: ItemData, frame: int, root: Path) -> str:
    base = image_ref(item.path, root)
    if item.kind == "image":
        return base
    if item.frame_names is not None and frame < len(item.frame_names):
        return f"{base}/{item.frame_names[frame]}"
    return f"{base}/{frame:05d}.jpg"


def write_coco(
    dataset: Dataset,
    path: Path,
    options: CocoOptions = DEFAULT_OPTIONS,
    progress: Progress = no_progress,
    root: Path | None = None,
) -> Path:
    """Write a COCO instance-segmentation JSON file, images named below `root`; returns its path."""
    path = Path(path)
    log_unlabelled(dataset, path)
    write_json_atomic(path, coco_dict(dataset, image_root(dataset, root, path.parent), options, progress))
    log.info("wrote %s", path)
    return path


# -- import --------------------------------------------------------------------------------------


def _index(reader: Reader, data: dict, key: str, required: bool = True) -> Iterator[tuple[int, dict, str]]:
    entries = reader.get(data, key, list, "") if required else reader.opt(data, key, list, "", [])
    for index, entry in enumerate(entries):
        element = f"{key}[{index}]"
        yield index, reader.check(entry, dict, element), element


def _categories(reader: Reader, data: dict) -> tuple[list[LabelData], dict[int, str]]:
    labels, names = [], {}
    for _, entry, element in _index(reader, data, "categories"):
        cat_id = reader.integer(reader.get(entry, "id", int, element), f"{element}.id")
        name = reader.get(entry, "name", str, element)
        if cat_id in names:
            raise reader.fail(f"{element}.id", f"category id {cat_id} appears twice")
        names[cat_id] = name
        if name not in [label.name for label in labels]:
            labels.append(LabelData(name))
    return labels, names


@dataclass
class _Image:
    file_name: str
    width: int
    height: int
    video_id: int | None
    frame: int


def _images(reader: Reader, data: dict) -> dict[int, _Image]:
    images: dict[int, _Image] = {}
    for _, entry, element in _index(reader, data, "images"):
        image_id = reader.integer(reader.get(entry, "id", int, element), f"{element}.id")
        if image_id in images:
            raise reader.fail(f"{element}.id", f"image id {image_id} appears twice")
        file_name = reader.get(entry, "file_name", str, element)
        width = reader.integer(reader.get(entry, "width", int, element), f"{element}.width", minimum=1)
        height = reader.integer(reader.get(entry, "height", int, element), f"{element}.height", minimum=1)
        reader.image_size(width, height, element)
        video = reader.opt(entry, "video_id", int, element)
        frame = reader.opt(entry, "frame_id", int, element, -1)
        if frame < -1:
            raise reader.fail(f"{element}.frame_id", "must not be negative")
        images[image_id] = _Image(file_name, width, height, video, frame)
    return images


def parse_segmentation(reader: Reader, value: Any, element: str, height: int, width: int) -> Mask:
    """A Mask from a COCO segmentation (RLE dict or polygon list) of an image of this size."""
    if isinstance(value, dict):
        return parse_rle(reader, value, element, (height, width))
    polygons = reader.check(value, (list, dict), element)
    rings = []
    for index, polygon in enumerate(polygons):
        where = f"{element}[{index}]"
        coords = reader.check(polygon, list, where)
        numbers = [reader.number(v, where) for v in coords]
        if len(numbers) % 2 or len(numbers) < 6:
            raise reader.fail(where, f"a polygon needs at least 3 (x, y) points, got {len(numbers) / 2:g}")
        # Clip far-away vertices: pycocotools allocates by the outline's length in pixels.
        rings.append(np.clip(np.array(numbers).reshape(-1, 2), -1, [width + 1, height + 1]))
    if not rings:
        raise reader.fail(element, "has no polygon")
    return Mask.from_array(polygons_to_mask(rings, height, width, "edge"))


def _annotations(reader: Reader, data: dict, images: dict[int, _Image], categories: dict[int, str]) -> list[tuple]:
    """(image_id, track_id or None, label, name, Mask) of every annotation, all checked."""
    result = []
    seen: set[int] = set()
    for _, entry, element in _index(reader, data, "annotations"):
        ann_id = reader.integer(reader.get(entry, "id", int, element), f"{element}.id")
        if ann_id in seen:
            raise reader.fail(f"{element}.id", f"annotation id {ann_id} appears twice")
        seen.add(ann_id)
        image_id = reader.integer(reader.get(entry, "image_id", int, element), f"{element}.image_id")
        if image_id not in images:
            raise reader.fail(f"{element}.image_id", f"no image has id {image_id}")
        category = reader.integer(reader.get(entry, "category_id", int, element), f"{element}.category_id")
        if category not in categories:
            raise reader.fail(f"{element}.category_id", f"no category has id {category}")
        image = images[image_id]
        if "segmentation" not in entry:
            raise reader.fail(element, "misses the key 'segmentation'")
        mask = parse_segmentation(reader, entry["segmentation"], f"{element}.segmentation", image.height, image.width)
        track = reader.opt(entry, "track_id", int, element)
        name = reader.opt(entry, "name", str, element, "")
        result.append((image_id, track, categories[category], name, mask))
    return result


def _videos(reader: Reader, data: dict) -> dict[int, dict]:
    videos = {}
    for _, entry, element in _index(reader, data, "videos", required=False):
        video_id = reader.integer(reader.get(entry, "id", int, element), f"{element}.id")
        videos[video_id] = {
            "file_name": reader.opt(entry, "file_name", str, element),
            "fps": reader.number(reader.opt(entry, "fps", (int, float), element, 0.0), f"{element}.fps"),
            "length": reader.integer(reader.opt(entry, "length", int, element, 0), f"{element}.length", minimum=0),
        }
    return videos


def _media(reader: Reader, lookup: MediaLookup, name: str, element: str, check_media: bool) -> str:
    """The media a file name names (FormatError when it must exist and does not)."""
    path = lookup.find(name, reader.path.parent)
    if check_media and not path.exists():
        where = " or ".join(str(folder) for folder in lookup.folders(reader.path.parent)[:2])
        more = " and the folders above" if lookup.images is None else ""
        raise reader.fail(element, f"the image '{name}' is listed but absent (looked in {where}{more})")
    return str(path)


def _build_items(
    reader: Reader, images: dict[int, _Image], videos: dict[int, dict], lookup: MediaLookup, check_media: bool
) -> tuple[dict[int, tuple[ItemData, int]], list[ItemData]]:
    """Items in file order, and for each image id its (item, frame)."""
    where: dict[int, tuple[ItemData, int]] = {}
    items: list[ItemData] = []
    by_video: dict[int, list[tuple[int, _Image]]] = {}
    for image_id, image in images.items():
        if image.video_id is None:
            element = f"images[id={image_id}].file_name"
            path = _media(reader, lookup, image.file_name, element, check_media)
            item = ItemData(path, image.width, image.height, ref=image.file_name)
            items.append(item)
            where[image_id] = (item, 0)
        else:
            by_video.setdefault(image.video_id, []).append((image_id, image))
    for video_id, frames in by_video.items():
        frames.sort(key=lambda pair: (pair[1].frame, pair[0]))
        info = videos.get(video_id, {})
        first = frames[0][1]
        for image_id, image in frames[1:]:
            if (image.width, image.height) != (first.width, first.height):
                problem = f"frame is {image.width}x{image.height} but video {video_id} is {first.width}x{first.height}"
                raise reader.fail(f"images[id={image_id}]", problem)
        folder = info.get("file_name") or Path(first.file_name.replace("\\", "/")).parent.as_posix()
        path = _media(reader, lookup, folder, f"videos[id={video_id}].file_name", check_media)
        numbers = [img.frame if img.frame >= 0 else i for i, (_, img) in enumerate(frames)]
        count = max(max(numbers) + 1, info.get("length", 0))
        item = ItemData(path, first.width, first.height, "video", count, info.get("fps", 0.0), ref=folder)
        in_order = count == len(numbers) and numbers == list(range(len(numbers)))
        item.frame_names = [Path(img.file_name).name for _, img in frames] if in_order else None
        items.append(item)
        for (image_id, _), frame in zip(frames, numbers, strict=True):
            where[image_id] = (item, frame)
    return where, items


def coco_to_dataset(data: Any, reader: Reader, lookup: MediaLookup, check_media: bool = True) -> Dataset:
    """A Dataset from parsed COCO JSON (FormatError on anything invalid); media found through `lookup`."""
    data = reader.check(data, dict, "")
    labels, categories = _categories(reader, data)
    images = _images(reader, data)
    videos = _videos(reader, data)
    annotations = _annotations(reader, data, images, categories)
    where, items = _build_items(reader, images, videos, lookup, check_media)
    tracks: dict[tuple[int, int], ObjectData] = {}
    for image_id, track, label, name, mask in annotations:
        item, frame = where[image_id]
        key = (id(item), track)
        obj = tracks.get(key) if track is not None else None
        if obj is None or frame in obj.masks:
            obj = ObjectData(name=name, label=label, track_id=track)
            item.objects.append(obj)
            if track is not None:
                tracks[key] = obj
        obj.masks[frame] = mask
    return Dataset(labels, items, root=lookup.root_or(reader.path.parent))


def read_coco(path: Path, images_root: Path | None = None, check_media: bool = True) -> Dataset:
    """Read a COCO instance-segmentation file; media below `images_root` (default: its folder or one above)."""
    path = Path(path)
    reader = Reader(path)
    return coco_to_dataset(load_json(path), reader, MediaLookup(images_root), check_media)
