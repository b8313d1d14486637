"""COCO files built as their producers write them, from the format's documentation (cocodataset.org
"data format"; what COCO 2017, Roboflow, CVAT and Datumaro write), never copied from anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as cocomask

from .conftest import disc, write_image

WIDTH, HEIGHT = 64, 48


def uncompressed(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE of a mask: column-major run lengths, starting with a background run."""
    flat = mask.T.reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    return {"size": [mask.shape[0], mask.shape[1]], "counts": ([0] if flat[0] else []) + runs}


def compressed(mask: np.ndarray) -> dict:
    """COCO's compressed RLE of a mask (pycocotools' encoder), counts as text as JSON holds it."""
    rle = cocomask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def box(mask: np.ndarray) -> list[float]:
    """COCO's [x, y, width, height] of a mask."""
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def image(image_id: int, name: str, **extra: Any) -> dict:
    """An image entry of WIDTH x HEIGHT."""
    return {"id": image_id, "file_name": name, "width": WIDTH, "height": HEIGHT, **extra}


def ann(ann_id: int, image_id: int, category: int, segmentation: Any, crowd: int = 0, **extra: Any) -> dict:
    """An annotation with the box and area of its mask (a mask-less one gets a box of its own)."""
    entry = {"id": ann_id, "image_id": image_id, "category_id": category, "iscrowd": crowd, **extra}
    if segmentation is not ...:
        entry["segmentation"] = segmentation
    entry.setdefault("bbox", [4.0, 4.0, 10.0, 8.0])
    entry.setdefault("area", 80.0)
    return entry


CROWD = disc(HEIGHT, WIDTH, 40, 30, 12) | disc(HEIGHT, WIDTH, 52, 20, 8)
DOG = disc(HEIGHT, WIDTH, 20, 20, 9)


def write_coco2017(tmp_path: Path) -> Path:
    """A file laid out like COCO 2017's instances_val2017.json: info, licenses, the official ids
    (person 1, dog 18, toothbrush 90: gaps), large image and annotation ids, polygon, compressed RLE
    and a crowd region in uncompressed RLE."""
    for name in ("000000397133.jpg", "000000037777.jpg"):
        write_image(tmp_path / "val2017" / name, WIDTH, HEIGHT)
    licenses = [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "BY-NC-SA"}]
    info = {"description": "COCO 2017 Dataset", "version": "1.0", "year": 2017, "date_created": "2017/09/01"}
    extra = {"license": 1, "coco_url": "http://images.cocodataset.org/val2017/x.jpg", "date_captured": "2013-11-14"}
    polygon = [[2.0, 2.0, 30.0, 2.0, 30.0, 20.0, 2.0, 20.0]]
    data = {
        "info": info,
        "licenses": licenses,
        "images": [image(397133, "000000397133.jpg", **extra), image(37777, "000000037777.jpg", license=1)],
        "annotations": [
            ann(1768, 397133, 1, polygon, bbox=[2.0, 2.0, 28.0, 18.0], area=504.0),
            ann(900100397133, 397133, 1, uncompressed(CROWD), 1, bbox=box(CROWD), area=float(CROWD.sum())),
            ann(1270, 37777, 18, compressed(DOG), bbox=box(DOG), area=float(DOG.sum())),
        ],
        "categories": [
            {"supercategory": "person", "id": 1, "name": "person"},
            {"supercategory": "animal", "id": 18, "name": "dog"},
            {"supercategory": "indoor", "id": 90, "name": "toothbrush"},
        ],
    }
    path = tmp_path / "annotations" / "instances_val2017.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path


def val2017(annotations: Path) -> Path:
    """COCO's image folder, beside the annotations folder: names are relative to it (--images)."""
    return annotations.parent.parent / "val2017"
