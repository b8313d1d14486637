"""Run by the interpreter of an environment with the `datumaro` package (its own pins, so not ours).

Usage:
  python datumaro_reference.py read FORMAT PATH OUT.json [keep_ids]
      Datumaro imports PATH as FORMAT; OUT.json gets its labels and, per item, every annotation
      (type, label name, id, attributes, box, and for masks the pixel count and is_crowd).
  python datumaro_reference.py write-mot OUT_DIR
      Datumaro writes a small MOT ground-truth sequence (mot_seq_gt): two tracks over three frames,
      one box occluded.
  python datumaro_reference.py write-coco OUT_DIR
      Datumaro writes a small COCO instances dataset (subset 'train', images saved) with a box-only
      annotation, a polygon and a mask, as its own exporter lays them out.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from datumaro.components.annotation import AnnotationType, Bbox, LabelCategories, Mask, Polygon
from datumaro.components.dataset import Dataset
from datumaro.components.dataset_base import DatasetItem
from datumaro.components.media import Image


def _annotation(ann: object, labels: LabelCategories) -> dict:
    entry = {
        "type": ann.type.name,
        "label": labels[ann.label].name if ann.label is not None else None,
        "id": ann.id,
        "attributes": {k: v for k, v in ann.attributes.items() if isinstance(v, (bool, int, float, str))},
    }
    if ann.type == AnnotationType.bbox:
        entry["bbox"] = [float(ann.x), float(ann.y), float(ann.w), float(ann.h)]
    if ann.type == AnnotationType.mask:
        entry["pixels"] = int(np.count_nonzero(ann.image))
    return entry


def read(fmt: str, path: str, out: str, keep_ids: bool) -> None:
    """Import `path` with Datumaro and write what it found to `out`."""
    options = {"keep_original_category_ids": True} if keep_ids else {}
    dataset = Dataset.import_from(path, fmt, **options)
    labels = dataset.categories()[AnnotationType.label]
    items = []
    for item in dataset:
        annotations = [_annotation(ann, labels) for ann in item.annotations]
        items.append({"id": str(item.id), "subset": item.subset, "annotations": annotations})
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"labels": [label.name for label in labels], "items": items}, handle)


def write_coco(out_dir: str) -> None:
    """Datumaro's own COCO export of one image with a box, a polygon and a mask."""
    mask = np.zeros((20, 30), np.uint8)
    mask[2:8, 3:9] = 1
    annotations = [
        Bbox(1, 2, 5, 6, label=0, id=1),
        Polygon([1, 1, 10, 1, 10, 10], label=1, id=2),
        Mask(mask, label=0, id=3),
        Bbox(20, 10, 4, 4, label=1, id=4),
    ]
    image = Image.from_numpy(np.full((20, 30, 3), 127, np.uint8))
    item = DatasetItem(id="a", subset="train", media=image, annotations=annotations)
    categories = {AnnotationType.label: LabelCategories.from_iterable(["car", "person"])}
    Dataset.from_iterable([item], categories=categories).export(out_dir, "coco_instances", save_media=True)


def write_mot(out_dir: str) -> None:
    """Datumaro's own MOT ground-truth export of two tracks over three frames (frame 1 of track 2 occluded)."""
    items = []
    for frame in range(3):
        annotations = [
            Bbox(10 + 5 * frame, 20, 30, 40, label=0, attributes={"track_id": 1, "occluded": False}),
            Bbox(60, 10 + 2 * frame, 20, 25, label=1, attributes={"track_id": 2, "occluded": frame == 1}),
        ]
        image = Image.from_numpy(np.full((100, 120, 3), 127, np.uint8))
        items.append(DatasetItem(id=str(frame + 1), media=image, annotations=annotations))
    categories = {AnnotationType.label: LabelCategories.from_iterable(["car", "person"])}
    Dataset.from_iterable(items, categories=categories).export(out_dir, "mot_seq_gt", save_media=False)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3], sys.argv[4], "keep_ids" in sys.argv[5:])
    elif sys.argv[1] == "write-mot":
        write_mot(sys.argv[2])
    elif sys.argv[1] == "write-coco":
        write_coco(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")
