"""Benchmark: open a project of 10,000 items and 100,000 masks (target: under one second).

Usage: python benchmarks/bench_project_open.py [--items N] [--objects-per-item K] [--json OUT]
The project is built once through the public command API and cached under the system temp dir.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ellipse_masks, report

from annotator.document import AddItem, AddObject, Batch, Project, SetMask


def build(path: Path, items: int, per_item: int) -> None:
    """Create the benchmark project through commands (one Batch per 100 items)."""
    project = Project.create(path)
    pool = ellipse_masks(64, margin=50, radii=(10, 120))
    for start in range(0, items, 100):
        added = project.execute(
            Batch(
                tuple(AddItem(f"images/{i:06d}.jpg", "image", 640, 480) for i in range(start, min(items, start + 100)))
            )
        )
        objects = project.execute(Batch(tuple(AddObject(item.id) for item in added for _ in range(per_item))))
        project.execute(Batch(tuple(SetMask(obj.id, 0, pool[obj.id % len(pool)]) for obj in objects)))
    project.close()


def main() -> None:
    """Build (once) and time opening the large project."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--objects-per-item", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    path = Path(tempfile.gettempdir()) / f"annotator-bench-{args.items}x{args.objects_per_item}.annot"
    if not path.exists():
        started = time.perf_counter()
        build(path, args.items, args.objects_per_item)
        print(f"built {path} in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:.1f} MB)")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        project = Project.open(path)
        opened = time.perf_counter() - started
        first = project.items[0]
        masks = [project.mask(obj.id) for obj in project.objects(first.id)]
        first_item = time.perf_counter() - started
        timings.append((opened, first_item))
        counts = project.store.counts() if project.store else {}
        project.close()
    result = {
        "items": counts.get("item"),
        "masks": counts.get("mask"),
        "open_s_median": float(np.median([t[0] for t in timings])),
        "open_and_first_item_masks_s_median": float(np.median([t[1] for t in timings])),
        "first_item_masks": len([m for m in masks if m is not None]),
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
