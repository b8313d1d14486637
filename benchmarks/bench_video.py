"""Benchmark: long-video propagation (frames/s, RSS over time) and scrub latency.

Usage: python benchmarks/bench_video.py [--frames 20000] [--size 1920x1080] [--engine classic] [--json OUT]
Generates (once, cached in the temp dir) an H.264 video of a moving ellipse on a textured
background, then propagates the first frame's mask through all frames the way the GUI does
(each frame saved to a project as it arrives) and samples the process RSS.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from common import report

from annotator.document import AddItem, AddObject, Mask, Project, SetMask
from annotator.io.video import CachedFrames
from model import registry
from model.protocol import Prompt


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def _object(frame: int, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    cx = int(width / 2 + width / 4 * np.sin(frame / 90))
    cy = int(height / 2 + height / 5 * np.cos(frame / 70))
    return (cx, cy), (width // 10, height // 8)


def _background(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = rng.normal(110, 30, (height // 8, width // 8, 3)).clip(0, 255).astype(np.uint8)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)


def make_video(path: Path, frames: int, width: int, height: int) -> None:
    """Encode the synthetic clip with PyAV (libx264, ultrafast)."""
    background = _background(width, height)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "60"}
        stream.codec_context.time_base = Fraction(1, 30)
        for index in range(frames):
            image = background.copy()
            center, axes = _object(index, width, height)
            cv2.ellipse(image, center, axes, 0, 0, 360, (230, 60, 40), -1, cv2.LINE_AA)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _truth(frame: int, width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    center, axes = _object(frame, width, height)
    cv2.ellipse(mask, center, axes, 0, 0, 360, 1, -1)
    return mask.astype(bool)


def scrub_latency(frames: CachedFrames, count: int) -> dict[str, float]:
    """ms to get a random uncached frame, and a cached one."""
    rng = random.Random(5)
    uncached, cached = [], []
    for _ in range(20):
        index = rng.randrange(count)
        while frames.cached(index) is not None:
            index = rng.randrange(count)
        started = time.perf_counter()
        frames[index]
        uncached.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        frames[index]
        cached.append((time.perf_counter() - started) * 1000)
    return {"scrub_uncached_ms_p50": float(np.median(uncached)), "scrub_cached_ms_p50": float(np.median(cached))}


def main() -> None:
    """Generate, propagate, measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    path = Path(tempfile.gettempdir()) / f"annotator-bench-{args.frames}-{width}x{height}.mp4"
    if not path.exists():
        started = time.perf_counter()
        make_video(path, args.frames, width, height)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s")
    frames = CachedFrames(path, max_bytes=256 * 1024 * 1024)
    scrub = scrub_latency(frames, len(frames))
    project = Project.create(Path(tempfile.mkdtemp()) / "bench.annot")
    item = project.execute(AddItem(str(path), "video", width, height, len(frames), 30.0))
    obj = project.execute(AddObject(item.id, mask=Mask.from_array(_truth(0, width, height))))
    engine = registry.create(args.engine)
    session = engine.open_video(frames)
    session.add_prompt(0, obj.id, Prompt(mask=_truth(0, width, height)))
    samples, ious = [], []
    project.begin_group("Propagate")
    started = time.perf_counter()
    count = 0
    for frame, masks in session.propagate(0, "forward"):
        if frame == 0:
            continue
        project.execute(SetMask(obj.id, frame, Mask.from_array(masks[obj.id]), "propagated"))
        count += 1
        if frame % 500 == 0 or frame == len(frames) - 1:
            truth = _truth(frame, width, height)
            mask = masks[obj.id]
            ious.append(float((mask & truth).sum() / max((mask | truth).sum(), 1)))
            samples.append(
                {"frame": frame, "rss_mb": round(_rss_mb(), 1), "s": round(time.perf_counter() - started, 1)}
            )
            print(samples[-1], flush=True)
    elapsed = time.perf_counter() - started
    project.end_group()
    session.close()
    result = {
        "engine": args.engine,
        "video": f"{len(frames)} frames {width}x{height}",
        "propagation_fps": count / elapsed,
        "propagation_ms_per_frame": elapsed / max(count, 1) * 1000,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mean_sampled_iou": float(np.mean(ious)) if ious else None,
        "rss_samples": samples,
        **scrub,
    }
    report(result, args.json)
    frames.close()


if __name__ == "__main__":
    main()
