"""YouTube-VIS: one annotation per object track with a segmentation (or null) for every frame.

{"videos": [{"id", "width", "height", "length", "file_names": [...]}],
 "categories": [{"id", "name"}],
 "annotations": [{"id", "video_id", "category_id", "iscrowd": 0,
                  "segmentations": [RLE | null per frame], "areas": [...], "bboxes": [[x, y, w, h] | null]}]}
Image items are written as one-frame videos. File names are relative to the image root (the
project's folder); an import looks them up below the image root given, else the JSON's folder or
one above it. Objects without a label have no category and are left out.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from annotator.io.coco import (
    DEFAULT_OPTIONS,
    CocoOptions,
    category_table,
    log_unlabelled,
    parse_segmentation,
    segmentation_of,
)
from annotator.io.common import (
    MEDIA_HINT,
    MediaLookup,
    Progress,
    Reader,
    image_ref,
    load_json,
    no_progress,
    write_json_atomic,
)
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData, image_root

log = logging.getLogger(__name__)


def _video_entry(video_id: int, item: ItemData, root: Path) -> dict:
    if item.kind == "image":
        names = [image_ref(item.path, root)]
    else:
        base = image_ref(item.path, root)
        names = [f"{base}/{Path(item.frame_name(f)).name}" for f in range(item.frame_count)]
    entry = {"id": video_id, "width": item.width, "height": item.height, "length": len(names)}
    entry.update(file_names=names, fps=item.fps)
    return entry


def ytvis_dict(
    dataset: Dataset, root: Path, options: CocoOptions = DEFAULT_OPTIONS, progress: Progress = no_progress
) -> dict:
    """The YouTube-VIS JSON content of a dataset."""
    categories, ids = category_table(dataset)
    videos, annotations = [], []
    for video_id, item in enumerate(dataset.items, 1):
        videos.append(_video_entry(video_id, item, root))
        for obj in (o for o in item.objects if o.label):
            segs, areas, boxes = [], [], []
            for frame in range(item.frame_count):
                mask = obj.masks.get(frame)
                if mask is None or mask.is_empty:
                    segs.append(None)
                    areas.append(None)
                    boxes.append(None)
                    continue
                x0, y0, x1, y1 = mask.bbox
                segs.append(segmentation_of(mask, options))
                areas.append(mask.area)
                boxes.append([float(x0), float(y0), float(x1 - x0), float(y1 - y0)])
            ann = {"id": len(annotations) + 1, "video_id": video_id, "category_id": ids[obj.label], "iscrowd": 0}
            ann.update(segmentations=segs, areas=areas, bboxes=boxes, name=obj.name)
            annotations.append(ann)
        progress(video_id, len(dataset.items))
    return {
        "info": {"description": "exported by annotator"},
        "videos": videos,
        "categories": categories,
        "annotations": annotations,
    }


def write_ytvis(
    dataset: Dataset,
    path: Path,
    options: CocoOptions = DEFAULT_OPTIONS,
    progress: Progress = no_progress,
    root: Path | None = None,
) -> Path:
    """Write a YouTube-VIS JSON file, frames named below `root`; returns its path."""
    path = Path(path)
    log_unlabelled(dataset, path)
    write_json_atomic(path, ytvis_dict(dataset, image_root(dataset, root, path.parent), options, progress))
    return path


def _parse_video(
    reader: Reader, entry: Any, element: str, lookup: MediaLookup, check_media: bool
) -> tuple[int, ItemData]:
    video = reader.check(entry, dict, element)
    video_id = reader.integer(reader.get(video, "id", int, element), f"{element}.id")
    width = reader.integer(reader.get(video, "width", int, element), f"{element}.width", minimum=1)
    height = reader.integer(reader.get(video, "height", int, element), f"{element}.height", minimum=1)
    reader.image_size(width, height, element)
    names = [reader.check(n, str, f"{element}.file_names") for n in reader.get(video, "file_names", list, element)]
    if not names:
        raise reader.fail(f"{element}.file_names", "lists no frame")
    found = [lookup.find(name, reader.path.parent) for name in names]
    if check_media:
        for name, path in zip(names, found, strict=True):
            if not path.exists():
                folders = " or ".join(str(f) for f in lookup.folders(reader.path.parent)[:2])
                raise reader.fail(
                    f"{element}.file_names",
                    f"the image '{name}' is listed but absent (looked in {folders}){MEDIA_HINT}",
                )
    fps = reader.number(reader.opt(video, "fps", (int, float), element, 0.0), f"{element}.fps")
    if len(names) == 1:
        return video_id, ItemData(str(found[0]), width, height, ref=names[0])
    folder = Path(names[0].replace("\\", "/")).parent.as_posix()
    item = ItemData(str(found[0].parent), width, height, "video", len(names), fps, ref=folder)
    item.frame_names = [Path(n).name for n in names]
    return video_id, item


def _parse_track(reader: Reader, entry: Any, element: str, videos: dict, categories: dict) -> tuple[int, ObjectData]:
    ann = reader.check(entry, dict, element)
    video_id = reader.integer(reader.get(ann, "video_id", int, element), f"{element}.video_id")
    if video_id not in videos:
        raise reader.fail(f"{element}.video_id", f"no video has id {video_id}")
    category = reader.integer(reader.get(ann, "category_id", int, element), f"{element}.category_id")
    if category not in categories:
        raise reader.fail(f"{element}.category_id", f"no category has id {category}")
    item = videos[video_id]
    segs = reader.get(ann, "segmentations", list, element)
    if len(segs) != item.frame_count:
        raise reader.fail(f"{element}.segmentations", f"has {len(segs)} entries for {item.frame_count} frames")
    obj = ObjectData(reader.opt(ann, "name", str, element, ""), categories[category])
    for frame, seg in enumerate(segs):
        if seg is not None:
            where = f"{element}.segmentations[{frame}]"
            obj.masks[frame] = parse_segmentation(reader, seg, where, item.height, item.width)
    return video_id, obj


def read_ytvis(path: Path, images_root: Path | None = None, check_media: bool = True) -> Dataset:
    """Read a YouTube-VIS file (FormatError when invalid); frames below `images_root` (default: its folder or above)."""
    path = Path(path)
    reader = Reader(path)
    data = reader.check(load_json(path), dict, "")
    lookup = MediaLookup(images_root)
    categories: dict[int, str] = {}
    labels: list[LabelData] = []
    for index, raw in enumerate(reader.get(data, "categories", list, "")):
        entry = reader.check(raw, dict, f"categories[{index}]")
        cat_id = reader.integer(reader.get(entry, "id", int, f"categories[{index}]"), f"categories[{index}].id")
        categories[cat_id] = reader.get(entry, "name", str, f"categories[{index}]")
        if categories[cat_id] not in [lab.name for lab in labels]:
            labels.append(LabelData(categories[cat_id]))
    videos = dict(
        _parse_video(reader, raw, f"videos[{i}]", lookup, check_media)
        for i, raw in enumerate(reader.get(data, "videos", list, ""))
    )
    for index, raw in enumerate(reader.get(data, "annotations", list, "")):
        video_id, obj = _parse_track(reader, raw, f"annotations[{index}]", videos, categories)
        videos[video_id].objects.append(obj)
    return Dataset(labels, list(videos.values()), root=lookup.root_or(path.parent))
