"""Benchmark: "segment everything" quality and time on the shared images (../shared/data/images).

Usage: python benchmarks/bench_everything.py [--engine classic] [--points 32] [--data DIR] [--json OUT]
For each image: embed, then `everything` with the given grid density; reports per image the best
IoU of any proposal with the ground-truth mask (ignore pixels left out), the rank of that proposal,
the number of proposals and the time, then the means. Any engine of the registry that offers
`everything` can be measured (SAM ones with downloaded weights).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from common import report

from annotator.evaluation.metrics import iou
from model import registry
from model.protocol import EverythingSettings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    """Run the benchmark and print (and optionally write) the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--points", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = registry.create(args.engine)
    settings = EverythingSettings(points_per_side=args.points)
    rows = {}
    for path in sorted((args.data / "images").iterdir()):
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(args.data / "masks" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        ignore_path = args.data / "ignore" / f"{path.stem}.png"
        ignore = cv2.imread(str(ignore_path), cv2.IMREAD_GRAYSCALE) > 127 if ignore_path.exists() else None
        start = time.perf_counter()
        embedding = engine.embed(image)
        embedded = time.perf_counter()
        proposals = engine.everything(embedding, settings)  # type: ignore[attr-defined]
        done = time.perf_counter()
        ious = [iou(p.mask, gt, ignore) for p in proposals] or [0.0]
        rows[path.stem] = {
            "best_iou": round(max(ious), 3),
            "rank_of_best": int(np.argmax(ious)),
            "proposals": len(proposals),
            "embed_s": round(embedded - start, 3),
            "everything_s": round(done - embedded, 3),
        }
    best = [r["best_iou"] for r in rows.values()]
    times = [r["everything_s"] for r in rows.values()]
    summary = {
        "engine": args.engine,
        "points_per_side": args.points,
        "images": len(rows),
        "mean_best_iou": round(float(np.mean(best)), 3),
        "mean_everything_s": round(float(np.mean(times)), 3),
        "max_everything_s": round(float(np.max(times)), 3),
        "share_best_in_first_10": round(float(np.mean([r["rank_of_best"] < 10 for r in rows.values()])), 3),
    }
    report({"summary": summary, "images": rows}, args.json)


if __name__ == "__main__":
    main()
