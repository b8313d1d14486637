"""Benchmark: `annotator label` throughput (1 worker vs the pool) and the parent's memory on a large folder.

Usage: python benchmarks/bench_label.py [--data DIR] [--points 32] [--workers N] [--many 10000] [--json OUT]

1. Classic "everything" on the shared images (DATA/images; a project in a temporary folder lists
   them, so nothing is written next to the data): images/s with one worker (in this process) and
   with the pool of N spawned workers, both counted from the start of the run (engine start-up
   included; each image is listed --repeat times so that start-up weighs less).
   With --ray, the same on Ray Data (its overhead against the pool as a ratio of times).
2. The parent's memory on a generated folder of `--many` small images (written under /tmp, deleted
   after): resident memory after the first batch, half way and at the end, and the peak (VmHWM).
Run it alone: the figures are only meaningful on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import report

from annotator.document import AddItem, Batch, Project
from annotator.io.matching import stored_path
from annotator.io.media import image_size, list_images
from annotator.label.runner import LabelJob, Summary, cores, label
from annotator.label.spec import EngineChoice, Outcome, PromptSpec
from annotator.workspace import open_path
from model.protocol import EverythingSettings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _memory_kib(field: str) -> int:
    """A VmRSS / VmHWM figure of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def throughput(images: list[Path], workers: int, points: int, batch: int, ray: str | None = None) -> dict:
    """One labelling run over `images` in a fresh project; images/s overall and after the first batch."""
    with tempfile.TemporaryDirectory(prefix="bench_label_") as folder:
        project = Project.create(Path(folder) / "bench.annot")
        adds = [AddItem(stored_path(project.path, p), "image", *image_size(p)) for p in images]  # type: ignore[arg-type]
        project.execute(Batch(tuple(adds), "Add images"))
        job = LabelJob(EngineChoice("classic"), _prompt(points), workers=workers, batch_size=batch, ray=ray)
        first: list[float] = []  # when the first batch was written
        began = time.perf_counter()

        def seen(summary: Summary, outcomes: list[Outcome]) -> None:
            if not first:
                first.append(time.perf_counter())

        summary = label(project, job, seen)
        ended = time.perf_counter()
        project.close()
    return {
        "workers": workers,
        "ray": ray,
        "images": summary.done,
        "failed": summary.failed,
        "instances": summary.instances,
        "seconds": round(ended - began, 2),
        "images_per_s": round(summary.done / (ended - began), 3),
        "first_batch_s": round(first[0] - began, 2),
    }


def _prompt(points: int) -> PromptSpec:
    return PromptSpec("everything", everything=EverythingSettings(points_per_side=points))


def memory(count: int, workers: int, batch: int) -> dict:
    """Label a generated folder of `count` 32x32 images; the parent's resident memory along the way."""
    folder = Path(tempfile.mkdtemp(prefix="bench_label_many_", dir="/tmp"))
    try:
        rng = np.random.default_rng(0)
        for index in range(count):
            image = np.full((32, 32, 3), rng.integers(100, 220), np.uint8)
            x, y = rng.integers(2, 14, 2)
            cv2.rectangle(image, (int(x), int(y)), (int(x) + 14, int(y) + 12), (40, 40, 200), -1)
            cv2.imwrite(str(folder / f"{index:06d}.png"), image)
        assert len(list_images(folder)) == count
        before = _memory_kib("VmRSS")
        project, _, _ = open_path(folder)
        project._materialise()
        opened = _memory_kib("VmRSS")
        samples: dict[str, int] = {}
        began = time.perf_counter()

        def seen(summary: Summary, outcomes: list[Outcome]) -> None:
            done = summary.done + summary.failed
            if "first_batch_kib" not in samples:
                samples["first_batch_kib"] = _memory_kib("VmRSS")
            if done >= summary.total // 2 and "half_kib" not in samples:
                samples["half_kib"] = _memory_kib("VmRSS")

        job = LabelJob(EngineChoice("classic"), _prompt(4), workers=workers, batch_size=batch)
        summary = label(project, job, seen)
        seconds = time.perf_counter() - began
        project.close()
        return {
            "images": count,
            "workers": workers,
            "done": summary.done,
            "instances": summary.instances,
            "seconds": round(seconds, 1),
            "images_per_s": round(summary.done / seconds, 1),
            "rss_before_open_kib": before,
            "rss_after_open_kib": opened,
            **samples,
            "rss_end_kib": _memory_kib("VmRSS"),
            "peak_kib": _memory_kib("VmHWM"),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """Run the benchmark and print (and optionally write) the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--points", type=int, default=32, help="everything: grid density (default 32)")
    parser.add_argument("--workers", type=int, default=cores(), help="pool size (default: the cores)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="label each image this many times (as items)")
    parser.add_argument("--many", type=int, default=10000, help="images of the memory run (0: skip it)")
    parser.add_argument("--ray", help="also on Ray at this address ('local': a cluster of the cores)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    images = list_images(args.data / "images")
    result: dict = {"cores": cores(), "data": str(args.data / "images"), "points_per_side": args.points}
    if args.many:  # first, so that the peak (VmHWM) is this run's and not the engine's on large images
        result["memory"] = memory(args.many, args.workers, 16)
    images = images * max(1, args.repeat)
    result["one_worker"] = throughput(images, 1, args.points, args.batch_size)
    result["pool"] = throughput(images, args.workers, args.points, args.batch_size)
    one, pool = result["one_worker"]["images_per_s"], result["pool"]["images_per_s"]
    result["pool_speedup"] = round(pool / one, 2) if one else None
    if args.ray:  # the same pool size on Ray Data (threads 1 per actor on a local cluster of the cores)
        result["ray"] = throughput(images, args.workers, args.points, args.batch_size, args.ray)
        result["ray_over_pool_time"] = round(result["ray"]["seconds"] / result["pool"]["seconds"], 2)
    report(result, args.json)


if __name__ == "__main__":
    main()
