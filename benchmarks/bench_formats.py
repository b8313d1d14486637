"""Benchmark: export 100,000 masks to COCO-RLE and import them back (plus polygon IoU on real masks).

Usage: python benchmarks/bench_formats.py [--items N] [--objects-per-item K] [--data DIR] [--json OUT]
Masks are 640x480 ellipses, each a distinct Mask object (so no RLE is cached between masks).
Stages timed: dataset -> COCO JSON file; COCO file -> checked Dataset; Dataset -> project in memory
(one undoable step); project -> Dataset -> COCO file again. With --data (../shared/data layout)
the per-object IoU of the polygon round trip at the default tolerance is reported too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import ellipse_masks

from annotator.document.mask import Mask
from annotator.document.project import Project
from annotator.io.coco import read_coco, write_coco
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.project_io import dataset_from_project, import_dataset


def build_dataset(items: int, per_item: int) -> Dataset:
    """`items` images of 640x480 with `per_item` labelled objects each."""
    pool = ellipse_masks(97, margin=60, radii=(8, 60))
    labels = [LabelData(f"class{i}") for i in range(8)]
    dataset = Dataset(labels)
    n = 0
    for i in range(items):
        item = ItemData(f"images/{i:06d}.jpg", 640, 480)
        for _ in range(per_item):
            m = pool[n % len(pool)]
            item.objects.append(ObjectData(f"o{n}", labels[n % 8].name, {0: Mask(m.height, m.width, m.bbox, m.crop)}))
            n += 1
        dataset.items.append(item)
    return dataset


def timed(results: dict[str, float], name: str, action: Callable[[], Any]) -> Any:
    """Run `action`, record its wall time in seconds under `name`, print it."""
    started = time.perf_counter()
    value = action()
    results[name] = round(time.perf_counter() - started, 3)
    print(f"{name:<34} {results[name]:8.2f} s")
    return value


def polygon_ious(data: Path) -> dict[str, float]:
    """Distribution of polygon round-trip IoU (COCO convention, default tolerance) over real masks."""
    from PIL import Image

    from annotator.io.polygons import mask_to_polygons, polygons_to_mask

    masks = [np.asarray(Image.open(p)) > 0 for p in sorted((data / "masks").glob("*.png"))]
    for path in sorted((data / "instances").glob("*.png")):
        index = np.asarray(Image.open(path))
        masks += [index == v for v in np.unique(index) if v]
    scores = []
    for mask in masks:
        back = polygons_to_mask(mask_to_polygons(mask, "edge"), *mask.shape, "edge")
        scores.append(float((mask & back).sum() / (mask | back).sum()))
    values = np.array(scores)
    stats = {"count": len(values), "min": values.min(), "p10": np.percentile(values, 10)}
    stats.update(median=np.median(values), mean=values.mean())
    return {k: round(float(v), 4) for k, v in stats.items()}


def main() -> None:
    """Time the stages and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--objects-per-item", type=int, default=10)
    parser.add_argument("--data", type=Path, help="../shared/data, for the polygon IoU distribution")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    dataset = timed(results, "build dataset", lambda: build_dataset(args.items, args.objects_per_item))
    results["masks"] = dataset.mask_count()
    print(f"{results['masks']} masks")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "coco.json"
        timed(results, "export dataset -> COCO-RLE", lambda: write_coco(dataset, path))
        results["file_mb"] = round(path.stat().st_size / 1e6, 1)
        back = timed(results, "import COCO-RLE -> dataset", lambda: read_coco(path, check_media=False))
        project = Project.in_memory()
        timed(results, "dataset -> project (one step)", lambda: import_dataset(project, back))
        again = timed(results, "project -> dataset", lambda: dataset_from_project(project))
        timed(results, "export project -> COCO-RLE", lambda: write_coco(again, Path(folder) / "again.json"))
    if args.data:
        results["polygon_iou"] = polygon_ious(args.data)
        print("polygon IoU:", results["polygon_iou"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
