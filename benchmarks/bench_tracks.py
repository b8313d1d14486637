"""Benchmark: classic box and point tracking speed on the shared videos (854 x 480), frames decoded beforehand.

Usage: python benchmarks/bench_tracks.py [--data ../shared/data] [--points 100] [--threads 2] [--repeats 3]
                                         [--json OUT]
Per sequence: the classic box tracker from frame 0's ground-truth box, and the classic point tracker
with `--points` points on a grid inside that box, each run forward over every frame (tracking time
only; the frames are decoded into memory first). OpenCV is held to `--threads` threads; the best of
`--repeats` runs is kept, since other work on a shared machine only ever slows a run down. Frames per
CPU-second (all threads of the process) are reported too: on a busy machine the wall clock counts
other processes' time, the CPU time does not, and with at most `--threads` busy threads the frames
per CPU-second are a lower bound of the frames/s on that many idle cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np
from common import report

from annotator.evaluation.data import list_videos
from annotator.evaluation.tracks import gt_boxes
from model.classic.box_track import ClassicBoxSession
from model.classic.point_track import ClassicPointSession
from model.frames import FolderFrames, ListFrames

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def grid_in(box: np.ndarray, count: int) -> np.ndarray:
    """About `count` points on a grid inside the box (inset by a tenth)."""
    x0, y0, x1, y1 = box
    side = int(np.ceil(np.sqrt(count)))
    xs = np.linspace(x0 + 0.1 * (x1 - x0), x1 - 0.1 * (x1 - x0), side)
    ys = np.linspace(y0 + 0.1 * (y1 - y0), y1 - 0.1 * (y1 - y0), side)
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)[:count]


def timed(session: object, frames: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) to propagate `session` forward from frame 0 over every frame."""
    start, cpu = time.perf_counter(), time.process_time()
    seen = sum(1 for _ in session.propagate(0, "forward"))  # type: ignore[attr-defined]
    spent, cpu_spent = time.perf_counter() - start, time.process_time() - cpu
    if seen != frames:
        raise RuntimeError(f"propagation yielded {seen} of {frames} frames")
    return spent, cpu_spent


def main() -> None:
    """Run the benchmark and print (and optionally write) the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    cv2.setNumThreads(args.threads)
    rows = []
    totals = {"frames": 0, "box": 0.0, "box_cpu": 0.0, "points": 0.0, "points_cpu": 0.0}
    for item in list_videos(args.data):
        folder = FolderFrames(item.frames)
        frames = ListFrames([folder[i] for i in range(len(folder))])
        start = gt_boxes(item)[0]
        best = {"box": np.inf, "box_cpu": np.inf, "points": np.inf, "points_cpu": np.inf}
        for _ in range(args.repeats):
            boxes = ClassicBoxSession(frames)
            boxes.add_box(0, 1, start)
            wall, cpu = timed(boxes, len(frames))
            best["box"], best["box_cpu"] = min(best["box"], wall), min(best["box_cpu"], cpu)
            points = ClassicPointSession(frames)
            points.add_points(0, 1, grid_in(start, args.points))
            wall, cpu = timed(points, len(frames))
            best["points"], best["points_cpu"] = min(best["points"], wall), min(best["points_cpu"], cpu)
        height, width = frames[0].shape[:2]
        row = {"sequence": item.name, "size": f"{width}x{height}", "frames": len(frames)}
        row.update({f"{key}_fps": len(frames) / value for key, value in best.items()})
        rows.append(row)
        totals["frames"] += len(frames)
        for key, value in best.items():
            totals[key] += value
    result = {
        "data": str(args.data),
        "threads": args.threads,
        "points": args.points,
        "repeats": args.repeats,
        **{f"{key}_fps_overall": totals["frames"] / totals[key] for key in ("box", "box_cpu", "points", "points_cpu")},
        "load_average": list(os.getloadavg()),
        "sequences": rows,
    }
    report(result, args.json)


if __name__ == "__main__":
    main()
