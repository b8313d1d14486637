"""RLE JSON: every object's mask on every frame as COCO compressed RLE, with label and object id.

One file for a whole dataset:
{"format": "annotator-rle", "version": 1,
 "labels": [{"name": "cat", "color": "#e6194b"}],
 "items": [{"path": "img.jpg", "kind": "image", "width": W, "height": H, "frame_count": 1, "fps": 0,
            ("frame_names": ["img_0001.jpg", ...]: a video's frame files, when known)
            "objects": [{"id": 3, "name": "cat 1", "label": "cat", "color": "#...",
                         "masks": [{"frame": 0, "rle": {"size": [H, W], "counts": "..."}}]}]}]}
Paths are relative to the image root (the project's folder; see `common.image_ref`); an import
looks them up below the image root given, else the file's folder or one above it. Bit-exact
round trip; objects without a label keep `"label": null`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from annotator.document.model import color_from_hex, color_to_hex
from annotator.io.common import MediaLookup, Progress, Reader, image_ref, load_json, no_progress, write_json_atomic
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData, image_root
from annotator.io.rle import mask_to_rle, parse_rle

log = logging.getLogger(__name__)

FORMAT = "annotator-rle"
VERSION = 1


def _object_json(obj: ObjectData, index: int) -> dict:
    return {
        "id": obj.track_id if obj.track_id is not None else index,
        "name": obj.name,
        "label": obj.label,
        "color": color_to_hex(obj.color) if obj.color else None,
        "masks": [{"frame": f, "rle": mask_to_rle(m)} for f, m in sorted(obj.masks.items()) if not m.is_empty],
    }


def rle_dict(dataset: Dataset, root: Path, progress: Progress = no_progress) -> dict:
    """The RLE JSON content of a dataset."""
    items = []
    for done, item in enumerate(dataset.items, 1):
        entry: dict[str, Any] = {
            "path": image_ref(item.path, root),
            "kind": item.kind,
            "width": item.width,
            "height": item.height,
            "frame_count": item.frame_count,
            "fps": item.fps,
        }
        if item.kind == "video" and item.frame_names and len(item.frame_names) == item.frame_count:
            entry["frame_names"] = list(item.frame_names)
        entry["objects"] = [_object_json(obj, i + 1) for i, obj in enumerate(item.objects)]
        items.append(entry)
        progress(done, len(dataset.items))
    labels = [{"name": lab.name, "color": color_to_hex(lab.color) if lab.color else None} for lab in dataset.labels]
    return {"format": FORMAT, "version": VERSION, "labels": labels, "items": items}


def write_rle_json(dataset: Dataset, path: Path, progress: Progress = no_progress, root: Path | None = None) -> Path:
    """Write the RLE JSON file, media named below `root`; returns its path."""
    path = Path(path)
    write_json_atomic(path, rle_dict(dataset, image_root(dataset, root, path.parent), progress))
    return path


def _color(reader: Reader, value: Any, element: str) -> tuple[int, int, int] | None:
    if value is None:
        return None
    try:
        return color_from_hex(reader.check(value, str, element))
    except ValueError as error:
        raise reader.fail(element, f"is not a '#rrggbb' colour: {value!r}") from error


def _parse_object(reader: Reader, value: Any, element: str, item: ItemData, labels: set[str]) -> ObjectData:
    entry = reader.check(value, dict, element)
    label = reader.opt(entry, "label", str, element)
    if label is not None and label not in labels:
        raise reader.fail(f"{element}.label", f"names the unknown label '{label}'")
    obj = ObjectData(
        name=reader.opt(entry, "name", str, element, ""),
        label=label,
        color=_color(reader, entry.get("color"), f"{element}.color"),
        track_id=reader.integer(reader.get(entry, "id", int, element), f"{element}.id"),
    )
    for index, raw in enumerate(reader.get(entry, "masks", list, element)):
        where = f"{element}.masks[{index}]"
        mask_entry = reader.check(raw, dict, where)
        frame = reader.integer(reader.get(mask_entry, "frame", int, where), f"{where}.frame", minimum=0)
        if frame >= item.frame_count:
            raise reader.fail(f"{where}.frame", f"frame {frame} is outside the item's {item.frame_count} frames")
        if frame in obj.masks:
            raise reader.fail(f"{where}.frame", f"frame {frame} appears twice")
        obj.masks[frame] = parse_rle(reader, mask_entry.get("rle"), f"{where}.rle", (item.height, item.width))
    return obj


def _parse_item(reader: Reader, value: Any, element: str, lookup: MediaLookup, labels: set[str]) -> ItemData:
    entry = reader.check(value, dict, element)
    kind = reader.get(entry, "kind", str, element)
    if kind not in ("image", "video"):
        raise reader.fail(f"{element}.kind", f"must be 'image' or 'video', not '{kind}'")
    ref = reader.get(entry, "path", str, element)
    item = ItemData(
        path=str(lookup.find(ref, reader.path.parent)),
        ref=ref,
        width=reader.integer(reader.get(entry, "width", int, element), f"{element}.width", minimum=1),
        height=reader.integer(reader.get(entry, "height", int, element), f"{element}.height", minimum=1),
        kind=kind,
        frame_count=reader.integer(reader.opt(entry, "frame_count", int, element, 1), f"{element}.frame_count", 1),
        fps=reader.number(reader.opt(entry, "fps", (int, float), element, 0.0), f"{element}.fps"),
    )
    reader.image_size(item.width, item.height, element)
    names = reader.opt(entry, "frame_names", list, element)
    if names is not None:
        item.frame_names = [reader.check(n, str, f"{element}.frame_names") for n in names]
        if len(names) != item.frame_count:
            raise reader.fail(f"{element}.frame_names", f"names {len(names)} frames of {item.frame_count}")
    for index, raw in enumerate(reader.get(entry, "objects", list, element)):
        item.objects.append(_parse_object(reader, raw, f"{element}.objects[{index}]", item, labels))
    return item


def read_rle_json(path: Path, images_root: Path | None = None) -> Dataset:
    """Read an RLE JSON file (FormatError when invalid); media below `images_root` (default: its folder or above)."""
    path = Path(path)
    reader = Reader(path)
    data = reader.check(load_json(path), dict, "")
    if data.get("format") != FORMAT:
        raise reader.fail("format", f"is not '{FORMAT}'")
    labels = []
    for index, raw in enumerate(reader.get(data, "labels", list, "")):
        entry = reader.check(raw, dict, f"labels[{index}]")
        name = reader.get(entry, "name", str, f"labels[{index}]")
        labels.append(LabelData(name, _color(reader, entry.get("color"), f"labels[{index}].color")))
    names = {label.name for label in labels}
    lookup = MediaLookup(images_root)
    items = [
        _parse_item(reader, raw, f"items[{i}]", lookup, names)
        for i, raw in enumerate(reader.get(data, "items", list, ""))
    ]
    return Dataset(labels, items, root=lookup.root_or(path.parent))
