"""COCO instance segmentation: export and import (images, and videos as frames with track ids).

Export: categories from labels, one image entry per image and per video frame (with `video_id`,
`frame_id`), one annotation per object and frame with `track_id`, segmentation as compressed RLE
(default) or polygons, `area` and `bbox` ([x, y, w, h]) of the mask. Objects without a label have
no category and are left out (`Dataset.with_unlabelled` names them first when the user asks).
`file_name` is relative to the image root (the project's folder; see `common.image_ref`). Videos
are also listed under "videos" so that an import restores them.

Ids: what a COCO file was read with survives COCO -> COCO: category, image and annotation ids are
written back where they are unique (new entries get ids above them), so do `iscrowd` 1 regions
(always as uncompressed RLE, as COCO writes them), the top-level keys other than ours (info,
licenses) and the other fields of category and image entries (supercategory, license, coco_url).
A project keeps none of these; an export of one takes category ids by label name from a COCO
file given as `CocoOptions.categories`, else numbers the labels from 1.

Import checks the whole file (types, ids, sizes, that listed images exist) before returning;
`file_name` is looked up below the image root given, else the JSON's folder or one above it.
Annotations without a mask (box-only: no segmentation, null, [] or [[]], as detection tools write
them) are left out and counted in `Dataset.skipped`; panoptic and captions files are refused.
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
from annotator.io.rle import mask_runs, mask_to_rle, parse_rle

log = logging.getLogger(__name__)

SegmentationMode = Literal["rle", "polygon"]


@dataclass(frozen=True)
class CocoOptions:
    """Export options: segmentation as 'rle' or 'polygon', polygon simplification in pixels."""

    segmentation: SegmentationMode = "rle"
    tolerance: float = DEFAULT_TOLERANCE
    categories: Path | None = None
    """A COCO file whose categories give labels without an id of their own their id, by name."""


DEFAULT_OPTIONS = CocoOptions()
OWN_KEYS = ("images", "annotations", "categories", "videos")
"""Top-level keys this module writes; the others a file was read with are kept (Dataset.extra)."""
CATEGORY_KEYS = ("id", "name")
IMAGE_KEYS = ("id", "file_name", "width", "height", "video_id", "frame_id")
PANOPTIC = (
    "is panoptic COCO (segments_info with PNG masks): panoptic COCO is not supported; convert it to "
    "instance COCO first (panopticapi's converters/panoptic2detection_coco_format.py)"
)
CAPTIONS = "is captions COCO (text, no masks): captions COCO is not supported"


def segmentation_of(mask: Mask, options: CocoOptions) -> Any:
    """The COCO segmentation of a mask: an RLE dict, or a list of flat [x0, y0, x1, y1, ...] lists."""
    if options.segmentation == "rle":
        return mask_to_rle(mask)
    x0, y0, _, _ = mask.bbox
    rings = mask_to_polygons(mask.crop, "edge", options.tolerance)
    return [np.round(ring + np.array([x0, y0]), 2).reshape(-1).tolist() for ring in rings]


def keep_ids(wanted: list[int | None]) -> list[int]:
    """An id for each entry in order: the id it wants when no earlier entry took it, else a new one above all kept."""
    kept: set[int] = set()
    chosen: list[int | None] = []
    for want in wanted:
        chosen.append(want if want is not None and want not in kept else None)
        if want is not None:
            kept.add(want)
    fresh = max(kept, default=0) + 1
    result = []
    for choice in chosen:
        if choice is None:
            choice, fresh = fresh, fresh + 1
        result.append(choice)
    return result


def category_table(dataset: Dataset, template: list[LabelData] | None = None) -> tuple[list[dict], dict[str, int]]:
    """COCO categories and the category id of each label name (objects' labels included).

    A label keeps the id it was read with (`LabelData.source_id`), else takes the id of the
    template's category of its name; the others are numbered above them (from 1 when none is kept).
    """
    names = list(dict.fromkeys(dataset.label_names()))
    for name in (obj.label for item in dataset.items for obj in item.objects):
        if name and name not in names:
            names.append(name)
    own = {label.name: label for label in reversed(dataset.labels) if label.source_id is not None}
    given = {label.name: label for label in reversed(template or [])}
    sources = [own.get(name) or given.get(name) for name in names]
    ids = dict(zip(names, keep_ids([s.source_id if s else None for s in sources]), strict=True))
    categories = []
    for name, source in zip(names, sources, strict=True):
        extra = {k: v for k, v in (source.extra if source else {}).items() if k not in CATEGORY_KEYS}
        categories.append({"id": ids[name], "name": name, "supercategory": "", **extra})
    return categories, ids


def log_unlabelled(dataset: Dataset, path: Path) -> None:
    """Log how many objects are left out of `path` for having no label."""
    count = dataset.unlabelled_count()
    if count:
        log.info("%s: %d objects without a label were left out", path, count)


def _annotation(ann_id: int, image_id: int, category: int, mask: Mask, options: CocoOptions, crowd: bool) -> dict:
    x0, y0, x1, y1 = mask.bbox
    if crowd:  # COCO's own crowd regions are uncompressed RLE; crowd is never a polygon
        segmentation: Any = {"size": [mask.height, mask.width], "counts": mask_runs(mask).tolist()}
    else:
        segmentation = segmentation_of(mask, options)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "segmentation": segmentation,
        "area": mask.area,
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        "iscrowd": int(crowd),
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


def _image_entries(dataset: Dataset, root: Path) -> tuple[list[dict], list[dict], list[list[int]]]:
    """COCO images and videos, and the image id of each item's frames (ids kept where unique)."""
    wanted = [item.source_ids.get(frame) for item in dataset.items for frame in range(item.frame_count)]
    image_ids = iter(keep_ids(wanted))
    images: list[dict] = []
    videos: list[dict] = []
    frame_ids: list[list[int]] = []
    for item in dataset.items:
        video_id = None
        if item.kind == "video":
            video_id = len(videos) + 1
            videos.append(_video_entry(video_id, item, root))
        ids = [next(image_ids) for _ in range(item.frame_count)]
        frame_ids.append(ids)
        for frame, image_id in enumerate(ids):
            entry = {"id": image_id, "file_name": _frame_file(item, frame, root)}
            entry.update(width=item.width, height=item.height)
            if video_id is not None:
                entry.update(video_id=video_id, frame_id=frame)
            else:
                entry.update({k: v for k, v in item.extra.items() if k not in IMAGE_KEYS})
            images.append(entry)
    return images, videos, frame_ids


def coco_dict(
    dataset: Dataset,
    root: Path,
    options: CocoOptions = DEFAULT_OPTIONS,
    progress: Progress = no_progress,
    template: list[LabelData] | None = None,
) -> dict:
    """The COCO JSON content of a dataset; file names relative to the image root `root`.

    `template`: categories whose ids labels without one of their own take by name (category_table).
    """
    categories, category_ids = category_table(dataset, template)
    images, videos, frame_ids = _image_entries(dataset, root)
    planned = []  # (image id, track, object, frame, mask): ids are chosen once all are known
    track = 0
    for item, ids in zip(dataset.items, frame_ids, strict=True):
        for obj in item.objects:
            track += 1
            if not obj.label:
                continue
            for frame, mask in sorted(obj.masks.items()):
                if mask.is_empty:
                    continue
                if not 0 <= frame < len(ids):
                    log.warning("%s: a mask on frame %d of %d frames is left out", item.path, frame, len(ids))
                    continue
                planned.append((ids[frame], track, obj, frame, mask))
    ann_ids = keep_ids([obj.source_ids.get(frame) for _, _, obj, frame, _ in planned])
    annotations: list[dict] = []
    for done, (ann_id, (image_id, track, obj, _, mask)) in enumerate(zip(ann_ids, planned, strict=True), 1):
        ann = _annotation(ann_id, image_id, category_ids[obj.label], mask, options, obj.iscrowd)
        ann.update(track_id=track, name=obj.name)
        annotations.append(ann)
        if done % 1000 == 0:
            progress(done, len(planned))
    progress(len(planned), len(planned))
    data = {"info": {"description": "exported by annotator"}}
    data.update({key: value for key, value in dataset.extra.items() if key not in OWN_KEYS})
    data.update(images=images, annotations=annotations, categories=categories)
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
    template = read_categories(options.categories) if options.categories else None
    data = coco_dict(dataset, image_root(dataset, root, path.parent), options, progress, template)
    write_json_atomic(path, data)
    log.info("wrote %s", path)
    return path


# -- import --------------------------------------------------------------------------------------


def _index(reader: Reader, data: dict, key: str, required: bool = True) -> Iterator[tuple[int, dict, str]]:
    entries = reader.get(data, key, list, "") if required else reader.opt(data, key, list, "", [])
    for index, entry in enumerate(entries):
        element = f"{key}[{index}]"
        yield index, reader.check(entry, dict, element), element


def _categories(reader: Reader, data: dict) -> tuple[list[LabelData], dict[int, str]]:
    """Labels in file order, each with its category id and other fields (a name twice: the first), and id -> name."""
    labels, names = [], {}
    for _, entry, element in _index(reader, data, "categories"):
        cat_id = reader.integer(reader.get(entry, "id", int, element), f"{element}.id")
        name = reader.get(entry, "name", str, element)
        if not name.strip():
            raise reader.fail(f"{element}.name", "a category needs a name")
        if cat_id in names:
            raise reader.fail(f"{element}.id", f"category id {cat_id} appears twice")
        names[cat_id] = name
        if name not in [label.name for label in labels]:
            extra = {key: value for key, value in entry.items() if key not in CATEGORY_KEYS}
            labels.append(LabelData(name, source_id=cat_id, extra=extra))
    return labels, names


def read_categories(path: Path) -> list[LabelData]:
    """The categories of a COCO file as labels with their ids (FormatError naming the file when bad)."""
    reader = Reader(Path(path))
    return _categories(reader, reader.check(load_json(path), dict, ""))[0]


def _refuse_other_tasks(reader: Reader, data: dict) -> None:
    """FormatError for panoptic and captions files, which look like instance files but hold no instance masks."""
    annotations = data.get("annotations")
    if not isinstance(annotations, list):
        return
    for index, entry in enumerate(annotations):
        if isinstance(entry, dict):
            if "segments_info" in entry:
                raise reader.fail(f"annotations[{index}]", PANOPTIC)
            if "caption" in entry and "category_id" not in entry:
                raise reader.fail(f"annotations[{index}]", CAPTIONS)
            return


@dataclass
class _Image:
    file_name: str
    width: int
    height: int
    video_id: int | None
    frame: int
    extra: dict


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
        extra = {key: value for key, value in entry.items() if key not in IMAGE_KEYS}
        images[image_id] = _Image(file_name, width, height, video, frame, extra)
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


@dataclass
class _Annotation:
    ann_id: int
    image_id: int
    track: int | None
    label: str
    name: str
    mask: Mask
    crowd: bool


def has_mask(segmentation: Any) -> bool:
    """False for what detection tools write for a box-only annotation: null, [] or [[]] (or no key)."""
    if segmentation is None:
        return False
    return not (isinstance(segmentation, list) and all(ring == [] for ring in segmentation))


def _crowd(reader: Reader, entry: dict, element: str) -> bool:
    value = entry.get("iscrowd")
    if value is None or isinstance(value, bool):
        return bool(value)
    flag = reader.integer(value, f"{element}.iscrowd")
    if flag not in (0, 1):
        raise reader.fail(f"{element}.iscrowd", f"must be 0 or 1, not {flag}")
    return bool(flag)


def _annotations(
    reader: Reader, data: dict, images: dict[int, _Image], categories: dict[int, str]
) -> tuple[list[_Annotation], int]:
    """Every annotation with a mask, all checked, and how many have none (box-only)."""
    result = []
    box_only = 0
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
        crowd = _crowd(reader, entry, element)
        track = reader.opt(entry, "track_id", int, element)
        name = reader.opt(entry, "name", str, element, "")
        if not has_mask(entry.get("segmentation")):
            box_only += 1
            continue
        mask = parse_segmentation(reader, entry["segmentation"], f"{element}.segmentation", image.height, image.width)
        result.append(_Annotation(ann_id, image_id, track, categories[category], name, mask, crowd))
    return result, box_only


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
        problem = f"the image '{name}' is listed but absent (looked in {where}{more})"
        fix = "give the folder the names are relative to with --images DIR"
        raise reader.fail(element, f"{problem}: {fix}, or --no-check-media to read the annotations without images")
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
            item = ItemData(path, image.width, image.height, ref=image.file_name, extra=image.extra)
            item.source_ids[0] = image_id
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
            item.source_ids[frame] = image_id
    return where, items


def coco_to_dataset(data: Any, reader: Reader, lookup: MediaLookup, check_media: bool = True) -> Dataset:
    """A Dataset from parsed COCO JSON (FormatError on anything invalid); media found through `lookup`."""
    data = reader.check(data, dict, "")
    _refuse_other_tasks(reader, data)
    labels, categories = _categories(reader, data)
    images = _images(reader, data)
    videos = _videos(reader, data)
    annotations, box_only = _annotations(reader, data, images, categories)
    where, items = _build_items(reader, images, videos, lookup, check_media)
    tracks: dict[tuple[int, int], ObjectData] = {}
    for ann in annotations:
        item, frame = where[ann.image_id]
        key = (id(item), ann.track)
        tracked = ann.track is not None and not ann.crowd
        obj = tracks.get(key) if tracked else None
        if obj is None or frame in obj.masks:
            obj = ObjectData(name=ann.name, label=ann.label, track_id=ann.track, iscrowd=ann.crowd)
            item.objects.append(obj)
            if tracked:
                tracks[key] = obj
        obj.masks[frame] = ann.mask
        obj.source_ids[frame] = ann.ann_id
    extra = {key: value for key, value in data.items() if key not in OWN_KEYS}
    dataset = Dataset(labels, items, root=lookup.root_or(reader.path.parent), extra=extra)
    dataset.skip(box_only, "box-only annotations (no mask)", reader.path)
    return dataset


def read_coco(path: Path, images_root: Path | None = None, check_media: bool = True) -> Dataset:
    """Read a COCO instance-segmentation file; media below `images_root` (default: its folder or one above)."""
    path = Path(path)
    reader = Reader(path)
    return coco_to_dataset(load_json(path), reader, MediaLookup(images_root), check_media)
