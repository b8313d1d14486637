"""Speed bench on generated inputs (so it runs anywhere): embed, click -> mask, propagation."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from annotator.evaluation.robot import next_click
from annotator.evaluation.system import peak_rss_mb
from model.frames import ListFrames
from model.protocol import Engine, Prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchReport:
    """Timings in milliseconds; sizes as (H, W); peak resident memory in MiB."""

    engine: str
    device: str
    image_size: tuple[int, int]
    embed_ms: float
    click_ms_p50: float
    click_ms_p95: float
    clicks: int
    video_size: tuple[int, int]
    propagate_ms_per_frame: float
    propagate_fps: float
    propagate_ms_second_half: float  # median; the steady speed once a tracker's memory is full
    peak_rss_mb: float | None

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


def bench_propagation(engine: Engine, size: tuple[int, int], frames: int) -> tuple[float, float]:
    """(mean ms per propagated frame, median ms per frame over the second half) on a generated clip
    of a moving object. Memory-based trackers slow down until their memory bank is full (SAM 2.1:
    7 frames), so the second half is the steady speed of a long video when frames > ~16."""
    clip = [synthetic_scene(size, shift=0.2 * i / frames, seed=i)[0] for i in range(frames)]
    _, first = synthetic_scene(size, seed=0)
    session = engine.open_video(ListFrames(clip))
    times = []
    try:
        session.add_prompt(0, 1, Prompt(mask=first))
        frames_out = session.propagate(0, "forward")
        while True:
            start = time.perf_counter()
            if next(frames_out, None) is None:
                break
            times.append((time.perf_counter() - start) * 1000)
    finally:
        session.close()
    if not times:
        return float("nan"), float("nan")
    return float(np.mean(times)), float(np.median(times[len(times) // 2 :]))


def run_bench(
    engine: Engine,
    image_size: tuple[int, int] = (1080, 1920),
    video_size: tuple[int, int] = (480, 854),
    clicks: int = 20,
    frames: int = 40,
) -> BenchReport:
    """Time `engine` on generated inputs."""
    embed_ms, times = bench_embed_and_clicks(engine, image_size, clicks)
    per_frame, second_half = bench_propagation(engine, video_size, frames) if frames > 0 else (float("nan"),) * 2
    return BenchReport(
        engine=engine.model_id,
        device=engine.device,
        image_size=image_size,
        embed_ms=embed_ms,
        click_ms_p50=float(np.percentile(times, 50)),
        click_ms_p95=float(np.percentile(times, 95)),
        clicks=len(times),
        video_size=video_size,
        propagate_ms_per_frame=per_frame,
        propagate_fps=1000.0 / per_frame if per_frame > 0 else float("inf"),
        propagate_ms_second_half=second_half,
        peak_rss_mb=peak_rss_mb(),
    )


def markdown_table(report: BenchReport) -> str:
    """The bench figures as a markdown table."""
    (ih, iw), (vh, vw) = report.image_size, report.video_size
    rows = [
        ("embed", f"{report.embed_ms:.1f} ms ({iw}x{ih})"),
        ("click -> mask p50", f"{report.click_ms_p50:.1f} ms ({iw}x{ih}, post-processing included)"),
        ("click -> mask p95", f"{report.click_ms_p95:.1f} ms ({report.clicks} clicks)"),
        (
            "propagation",
            "not measured (--frames 0)"
            if np.isnan(report.propagate_ms_per_frame)
            else f"{report.propagate_ms_per_frame:.1f} ms/frame = {report.propagate_fps:.1f} frames/s ({vw}x{vh})",
        ),
        (
            "propagation, second half",
            "not measured"
            if np.isnan(report.propagate_ms_second_half)
            else f"{report.propagate_ms_second_half:.1f} ms/frame (median; memory bank full after ~8 frames)",
        ),
        ("peak RSS", "n/a" if report.peak_rss_mb is None else f"{report.peak_rss_mb:.0f} MiB"),
    ]
    lines = [f"Bench of `{report.engine}` on {report.device}", "", "| what | figure |", "|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} |" for a, b in rows])
