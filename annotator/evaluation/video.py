"""Video evaluation: first-frame GT as the prompt, propagate, score J, F and J&F (DAVIS)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from annotator.evaluation.data import DataError, VideoItem, read_video_gt, video_masks
from annotator.evaluation.metrics import boundary_f, video_iou
from annotator.evaluation.system import peak_rss_mb
from model.frames import FolderFrames
from model.protocol import Engine, Prompt

log = logging.getLogger(__name__)

OBJECT_ID = 1


@dataclass(frozen=True)
class SequenceScore:
    """Scores of one sequence: mean J, F, J&F over its scored frames, and propagation speed."""

    name: str
    frames: int
    j: float
    f: float
    jf: float
    fps: float
    missed: int = 0  # scored frames where the object is in the ground truth but no mask (or an empty one) came
    false_present: int = 0  # scored frames where the ground truth has no object but a non-empty mask came


@dataclass(frozen=True)
class VideoReport:
    """A video evaluation over several sequences, with means and the process's peak memory."""

    engine: str
    sequences: tuple[SequenceScore, ...]
    peak_rss_mb: float | None

    def mean(self, field: str) -> float:
        """Mean of one SequenceScore field (nan if none)."""
        values = [float(getattr(s, field)) for s in self.sequences]
        return float(np.mean(values)) if values else float("nan")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: means, per-sequence scores, peak RSS."""
        return {
            "engine": self.engine,
            "means": {f: self.mean(f) for f in ("j", "f", "jf", "fps")},
            "peak_rss_mb": self.peak_rss_mb,
            "sequences": [asdict(s) for s in self.sequences],
        }


def scored_frames(count: int) -> range:
    """Frames that count, as in DAVIS: all but the first (the prompt) and the last."""
    return range(1, count - 1) if count > 2 else range(1, count)


def evaluate_sequence(engine: Engine, item: VideoItem) -> SequenceScore:
    """Prompt with frame 0's GT, propagate forward, and score every scored frame."""
    frames = FolderFrames(item.frames)
    gt_files = video_masks(item)
    if len(gt_files) != len(frames):
        raise DataError(item.masks, f"{len(gt_files)} masks for {len(frames)} frames")
    first, _ = read_video_gt(gt_files[0])
    session = engine.open_video(frames)
    try:
        session.add_prompt(0, OBJECT_ID, Prompt(mask=first))
        js, fs, spent, count, missed, false_present = [], [], 0.0, 0, 0, 0
        stream = session.propagate(0, "forward")
        wanted = set(scored_frames(len(frames)))
        while True:
            start = time.perf_counter()
            step = next(stream, None)
            spent += time.perf_counter() - start
            if step is None:
                break
            index, masks = step
            count += 1
            if index in wanted:
                gt, void = read_video_gt(gt_files[index])
                pred = masks.get(OBJECT_ID, np.zeros(gt.shape, bool))
                shown, there = bool(pred.any()), bool(gt.any())
                missed += there and not shown
                false_present += shown and not there
                js.append(video_iou(pred, gt, void))
                fs.append(boundary_f(pred, gt, void))
    finally:
        session.close()
    j, f = float(np.mean(js)) if js else 1.0, float(np.mean(fs)) if fs else 1.0
    fps = count / spent if spent > 0 else float("inf")
    return SequenceScore(item.name, count, j, f, (j + f) / 2, fps, missed, false_present)


def evaluate_video(
    engine: Engine, items: Sequence[VideoItem], progress: Callable[[SequenceScore], None] | None = None
) -> VideoReport:
    """Score every sequence of `items` with `engine`."""
    scores = []
    for item in items:
        score = evaluate_sequence(engine, item)
        log.info("%s: J %.3f F %.3f J&F %.3f, %.1f frames/s", item.name, score.j, score.f, score.jf, score.fps)
        if progress is not None:
            progress(score)
        scores.append(score)
    return VideoReport(engine.model_id, tuple(scores), peak_rss_mb())


def markdown_table(report: VideoReport) -> str:
    """The report as a markdown table with a row of means."""
    lines = [
        f"Video evaluation of `{report.engine}` (first-frame mask prompt; DAVIS J and F)",
        "",
        "| sequence | frames | J | F | J&F | frames/s | object there, no mask | mask, object not there |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.sequences:
        scores = f"{s.j:.3f} | {s.f:.3f} | {s.jf:.3f} | {s.fps:.1f}"
        lines.append(f"| {s.name} | {s.frames} | {scores} | {s.missed} | {s.false_present} |")
    m = report.mean
    missed, false_present = sum(s.missed for s in report.sequences), sum(s.false_present for s in report.sequences)
    means = f"{m('j'):.3f} | {m('f'):.3f} | {m('jf'):.3f} | {m('fps'):.1f}"
    lines.append(f"| **mean** | | {means} | {missed} (all) | {false_present} (all) |")
    if report.peak_rss_mb is not None:
        lines += ["", f"Peak RSS: {report.peak_rss_mb:.0f} MiB"]
    return "\n".join(lines)
