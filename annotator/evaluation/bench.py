"""Speed bench: embed, click -> mask, propagation, on real data when there is some.

With a data folder (images/ + masks/, videos/SEQ/frames + masks, as `annotator eval` reads), the
clicks are the click robot's on every image at its native size and propagation runs on the real
sequences from their first ground-truth mask, so the figures are what a user sees. Without one,
generated inputs stand in (1080p image, 854x480 clip), and the report says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from annotator.evaluation.clicks import run_clicks
from annotator.evaluation.data import ImageItem, VideoItem, load_image_item, read_video_gt, video_masks
from annotator.evaluation.robot import next_click
from annotator.evaluation.system import peak_rss_mb
from model.frames import FolderFrames, FrameSource, ListFrames
from model.protocol import Engine, Prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchReport:
    """Timings in milliseconds; sizes as (H, W); peak resident memory in MiB."""

    engine: str
    device: str
    image_size: tuple[int, int]  # the largest image timed
    embed_ms: float
    click_ms_p50: float
    click_ms_p95: float
    clicks: int
    video_size: tuple[int, int]
    propagate_ms_per_frame: float
    propagate_fps: float
    propagate_ms_second_half: float  # median; the steady speed once a tracker's memory is full
    peak_rss_mb: float | None
    source: str = "synthetic"  # "synthetic", or the data folder the images and videos came from
    images: int = 3
    first_click_ms_p50: float = float("nan")  # the first click of each object (several candidates)
    first_click_ms_p95: float = float("nan")
    sequences: tuple[str, ...] = ()
    # The quick first mask that engines with a `preview` step show before the full one (classic).
    first_mask_ms_p50: float = float("nan")
    first_mask_ms_p95: float = float("nan")
    everything_ms: float = float("nan")  # "segment everything" on one image (not measured: nan)
    everything_points: int = 0  # its points per side
    everything_proposals: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return asdict(self)


def synthetic_scene(size: tuple[int, int], shift: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, object mask) of a textured background with an object blob, moved by `shift` of the width."""
    height, width = size
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([xs / width * 160 + 40, ys / height * 120 + 60, (xs + ys) / (width + height) * 90 + 80], axis=2)
    image += rng.normal(0, 12, image.shape).astype(np.float32)
    mask = np.zeros(size, np.uint8)
    centre = (int(width * (0.4 + shift)), int(height * 0.5))
    cv2.ellipse(mask, centre, (width // 7, height // 4), 20, 0, 360, 1, -1)
    cv2.circle(mask, (centre[0] + width // 8, centre[1] - height // 6), height // 10, 1, -1)
    image[mask > 0] = image[mask > 0] * 0.4 + np.array([200, 60, 50], np.float32) * 0.6
    return np.clip(image, 0, 255).astype(np.uint8), mask > 0


def bench_embed_and_clicks(engine: Engine, size: tuple[int, int], clicks: int) -> tuple[float, list[float]]:
    """(median embed ms over 3 images, click -> mask ms for up to `clicks` robot clicks)."""
    embeds = []
    for seed in range(3):
        image, gt = synthetic_scene(size, seed=seed)
        start = time.perf_counter()
        embedding = engine.embed(image)
        embeds.append((time.perf_counter() - start) * 1000)
    pred = np.zeros(gt.shape, bool)
    points, labels, times = [], [], []
    for _ in range(clicks):
        click = next_click(pred, gt)
        if click is None:  # solved: start over, so that every click is timed the same way
            points, labels, pred = [], [], np.zeros(gt.shape, bool)
            click = next_click(pred, gt)
        if click is None:
            break
        points.append((click.x, click.y))
        labels.append(int(click.positive))
        prompt = Prompt(np.array(points, np.float32), np.array(labels, np.int32), multimask=len(points) == 1)
        start = time.perf_counter()
        pred = engine.predict(embedding, prompt).best_mask
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(embeds)), times


def _time_propagation(frames: FrameSource, first: np.ndarray, engine: Engine, count: int) -> list[float]:
    """ms per frame of propagating `first` (frame 0's mask) through the first `count` frames."""
    session = engine.open_video(frames)
    times = []
    try:
        session.add_prompt(0, 1, Prompt(mask=first))
        stream = session.propagate(0, "forward")
        while len(times) < count:
            start = time.perf_counter()
            if next(stream, None) is None:
                break
            times.append((time.perf_counter() - start) * 1000)
    finally:
        session.close()
    return times


def _propagation_figures(runs: list[list[float]]) -> tuple[float, float]:
    """(mean ms per frame, median over the second half of each run)."""
    every = [t for run in runs for t in run]
    if not every:
        return float("nan"), float("nan")
    return float(np.mean(every)), float(np.median([t for run in runs for t in run[len(run) // 2 :]]))


def bench_propagation(engine: Engine, size: tuple[int, int], frames: int) -> tuple[float, float]:
    """(mean ms per propagated frame, median ms per frame over the second half) on a generated clip
    of a moving object. Memory-based trackers slow down until their memory bank is full (SAM 2.1:
    7 frames), so the second half is the steady speed of a long video when frames > ~16."""
    clip = [synthetic_scene(size, shift=0.2 * i / frames, seed=i)[0] for i in range(frames)]
    _, first = synthetic_scene(size, seed=0)
    return _propagation_figures([_time_propagation(ListFrames(clip), first, engine, frames)])


def bench_real_images(
    engine: Engine, items: list[ImageItem], clicks: int, quick_ms: list[float] | None = None
) -> tuple[list[float], list[list[float]], tuple[int, int]]:
    """(embed ms per image, click ms per image in robot order, the largest size) on real images at
    native size: the robot clicks about `clicks / len(items)` times on each (at least once).
    `quick_ms` collects the quick first mask's time of each click, for engines with one."""
    per_image = max(1, -(-clicks // len(items)))
    embeds, times, largest = [], [], (0, 0)
    for item in items:
        image, gt, ignore = load_image_item(item)
        largest = max(largest, gt.shape, key=lambda size: size[0] * size[1])
        start = time.perf_counter()
        embedding = engine.embed(image)
        embeds.append((time.perf_counter() - start) * 1000)
        times.append(run_clicks(engine, embedding, gt, ignore, per_image, stop_iou=None, quick_ms=quick_ms)[1])
    return embeds, times, largest  # type: ignore[return-value]


def bench_real_videos(engine: Engine, items: list[VideoItem], frames: int) -> tuple[list[list[float]], tuple[int, int]]:
    """(ms per frame of each sequence, the frame size) propagating each one's first ground-truth mask."""
    runs, size = [], (0, 0)
    for item in items:
        first, _ = read_video_gt(video_masks(item)[0])
        size = first.shape
        runs.append(_time_propagation(FolderFrames(item.frames), first, engine, frames))
    return runs, size  # type: ignore[return-value]


def bench_everything(engine: Engine, image: np.ndarray, points: int) -> BenchReport | None:
    """A report holding only the "segment everything" figures of one image (None when the engine has no such step)."""
    from model.protocol import EverythingSettings, supports

    if points <= 0 or not supports(engine, "everything"):
        return None
    embedding = engine.embed(image)
    start = time.perf_counter()
    proposals = engine.everything(embedding, EverythingSettings(points_per_side=points))  # type: ignore[attr-defined]
    elapsed = (time.perf_counter() - start) * 1000
    nan = float("nan")
    return BenchReport(
        engine.model_id, engine.device, image.shape[:2], nan, nan, nan, 0, (0, 0), nan, nan, nan, None,
        everything_ms=elapsed, everything_points=points, everything_proposals=len(proposals),
    )  # fmt: skip


def _with_everything(report: BenchReport, measured: BenchReport | None) -> BenchReport:
    if measured is None:
        return report
    return replace(
        report,
        everything_ms=measured.everything_ms,
        everything_points=measured.everything_points,
        everything_proposals=measured.everything_proposals,
    )


def run_bench(
    engine: Engine,
    image_size: tuple[int, int] = (1080, 1920),
    video_size: tuple[int, int] = (480, 854),
    clicks: int = 20,
    frames: int = 40,
    everything: int = 0,
) -> BenchReport:
    """Time `engine` on generated inputs; `everything` > 0 also times segment everything at that grid density."""
    embed_ms, times = bench_embed_and_clicks(engine, image_size, clicks)
    per_frame, second_half = bench_propagation(engine, video_size, frames) if frames > 0 else (float("nan"),) * 2
    report = _report(engine, image_size, [embed_ms], [times], video_size, per_frame, second_half)
    return _with_everything(report, bench_everything(engine, synthetic_scene(image_size)[0], everything))


def run_real_bench(
    engine: Engine,
    images: list[ImageItem],
    videos: list[VideoItem],
    source: str,
    clicks: int = 20,
    frames: int = 40,
    everything: int = 0,
) -> BenchReport:
    """Time `engine` on the real images (native size) and sequences of a data folder (segment
    everything, when `everything` > 0, on the first image)."""
    quick: list[float] = []
    embeds, times, image_size = bench_real_images(engine, images, clicks, quick)
    runs, video_size = bench_real_videos(engine, videos, frames) if frames > 0 and videos else ([], (0, 0))
    per_frame, second_half = _propagation_figures(runs)
    report = _report(engine, image_size, embeds, times, video_size, per_frame, second_half)
    first = [run[0] for run in times if run]
    report = _with_everything(report, bench_everything(engine, load_image_item(images[0])[0], everything))
    return replace(
        report,
        source=source,
        images=len(images),
        first_click_ms_p50=float(np.percentile(first, 50)),
        first_click_ms_p95=float(np.percentile(first, 95)),
        sequences=tuple(item.name for item in videos) if frames > 0 else (),
        first_mask_ms_p50=float(np.percentile(quick, 50)) if quick else float("nan"),
        first_mask_ms_p95=float(np.percentile(quick, 95)) if quick else float("nan"),
    )


def _report(
    engine: Engine,
    image_size: tuple[int, int],
    embeds: list[float],
    times: list[list[float]],
    video_size: tuple[int, int],
    per_frame: float,
    second_half: float,
) -> BenchReport:
    every = [t for run in times for t in run]
    return BenchReport(
        engine=engine.model_id,
        device=engine.device,
        image_size=image_size,
        embed_ms=float(np.median(embeds)),
        click_ms_p50=float(np.percentile(every, 50)),
        click_ms_p95=float(np.percentile(every, 95)),
        clicks=len(every),
        video_size=video_size,
        propagate_ms_per_frame=per_frame,
        propagate_fps=1000.0 / per_frame if per_frame > 0 else float("inf"),
        propagate_ms_second_half=second_half,
        peak_rss_mb=peak_rss_mb(),
        images=len(embeds),
    )


def markdown_table(report: BenchReport) -> str:
    """The bench figures as a markdown table, headed by what they were measured on."""
    (ih, iw), (vh, vw) = report.image_size, report.video_size
    real = report.source != "synthetic"
    where = f"{report.images} real images at native size, up to {iw}x{ih}" if real else f"generated {iw}x{ih}"
    rows = [
        ("embed", f"{report.embed_ms:.1f} ms (median; {where})"),
        ("click -> mask p50", f"{report.click_ms_p50:.1f} ms (post-processing included)"),
        ("click -> mask p95", f"{report.click_ms_p95:.1f} ms ({report.clicks} clicks)"),
    ]
    if real:
        rows.append(
            (
                "first click of an object p50 / p95",
                f"{report.first_click_ms_p50:.1f} / {report.first_click_ms_p95:.1f} ms",
            )
        )
        if not np.isnan(report.first_mask_ms_p50):
            rows.append(
                (
                    "quick first mask after a click p50 / p95",
                    f"{report.first_mask_ms_p50:.1f} / {report.first_mask_ms_p95:.1f} ms (shown before the full mask)",
                )
            )
    clip = f"{len(report.sequences)} real sequences, {vw}x{vh}" if real else f"generated clip, {vw}x{vh}"
    rows += [
        (
            "propagation",
            "not measured"
            if np.isnan(report.propagate_ms_per_frame)
            else f"{report.propagate_ms_per_frame:.1f} ms/frame = {report.propagate_fps:.1f} frames/s ({clip})",
        ),
        (
            "propagation, second half",
            "not measured"
            if np.isnan(report.propagate_ms_second_half)
            else f"{report.propagate_ms_second_half:.1f} ms/frame (median; memory bank full after ~8 frames)",
        ),
        ("peak RSS", "n/a" if report.peak_rss_mb is None else f"{report.peak_rss_mb:.0f} MiB"),
    ]
    if not np.isnan(report.everything_ms):
        side = report.everything_points
        rows.insert(
            -1,
            (
                "segment everything",
                f"{report.everything_ms:.0f} ms ({side}x{side} grid, {report.everything_proposals} proposals)",
            ),
        )
    if real:
        head = f"Bench of `{report.engine}` on {report.device}, on the data in {report.source}"
        if report.sequences:
            head += f" (sequences: {', '.join(report.sequences)})"
    else:
        head = (
            f"Bench of `{report.engine}` on {report.device}, on SYNTHETIC inputs (no data folder found; "
            "give --data DIR for figures on real images)"
        )
    lines = [head, "", "| what | figure |", "|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} |" for a, b in rows])
