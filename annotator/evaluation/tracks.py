"""Track evaluation: box tracks from the first-frame box (OTB success AUC, precision@20px) on boxes
of the shared videos' ground-truth masks, and point tracks on BADJA keypoints (PCK).

Boxes: the ground truth of a frame is the tight box of its mask; the tracker gets frame 0's box and
tracks forward; every later frame where the object is in the ground truth is scored (a frame where
the tracker calls it outside scores IoU 0). Points: the joints visible on a sequence's first
annotated frame are tracked forward from there; on each later annotated frame every joint visible
in the annotation is scored with BADJA's PCK (error below 0.2 * sqrt(area of the frame's mask)).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from annotator.evaluation.data import DataError, VideoItem, read_video_gt, video_masks
from annotator.evaluation.system import peak_rss_mb
from annotator.evaluation.track_metrics import pck, precision_at, success_auc
from model.frames import FolderFrames
from model.tracking import MaskSource, TrackSession, box_of_mask

log = logging.getLogger(__name__)

OBJECT_ID = 1
BADJA_WIDTH = 1920  # BADJA's joints are in DAVIS Full-Resolution pixels (1920 wide for the shared sequences)

BoxTrackerFactory = Callable[[FolderFrames], TrackSession]
PointTrackerFactory = Callable[[FolderFrames, MaskSource | None], TrackSession]
MaskTrackFactory = Callable[[FolderFrames, int, np.ndarray], dict[int, np.ndarray]]
"""(frames, start frame, its HxW mask) -> {frame: HxW bool mask} of a forward mask track."""


@dataclass(frozen=True)
class BoxScore:
    """One sequence's box tracking: success AUC, precision@20px, frames scored, frames lost, speed."""

    name: str
    frames: int
    auc: float
    precision: float
    outside: int
    fps: float


@dataclass(frozen=True)
class PointScore:
    """One sequence's point tracking on BADJA: PCK over the scored joints, their count, speed."""

    name: str
    joints: int
    scored: int
    pck: float
    fps: float


@dataclass(frozen=True)
class TrackReport:
    """A track evaluation: box and point scores per sequence, and the process's peak memory."""

    engine: str
    boxes: tuple[BoxScore, ...]
    points: tuple[PointScore, ...]
    peak_rss_mb: float | None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: means and per-sequence scores."""
        mean = lambda rows, f: float(np.mean([getattr(r, f) for r in rows])) if rows else float("nan")  # noqa: E731
        scored = sum(p.scored for p in self.points)
        pooled = sum(p.pck * p.scored for p in self.points) / scored if scored else float("nan")
        return {
            "engine": self.engine,
            "boxes": {
                "mean_auc": mean(self.boxes, "auc"),
                "mean_precision": mean(self.boxes, "precision"),
                "mean_fps": mean(self.boxes, "fps"),
                "sequences": [asdict(b) for b in self.boxes],
            },
            "points": {
                "mean_pck": mean(self.points, "pck"),
                "pooled_pck": pooled,
                "mean_fps": mean(self.points, "fps"),
                "sequences": [asdict(p) for p in self.points],
            },
            "peak_rss_mb": self.peak_rss_mb,
        }


def gt_boxes(item: VideoItem) -> list[np.ndarray | None]:
    """The tight box (xyxy) of each frame's ground-truth mask, None where the object is absent."""
    return [box_of_mask(read_video_gt(path)[0]) for path in video_masks(item)]


def evaluate_box_sequence(make: BoxTrackerFactory, item: VideoItem) -> BoxScore:
    """Track from frame 0's ground-truth box and score every later frame with the object in view."""
    frames = FolderFrames(item.frames)
    truth = gt_boxes(item)
    if len(truth) != len(frames):
        raise DataError(item.masks, f"{len(truth)} masks for {len(frames)} frames")
    if truth[0] is None:
        raise DataError(item.masks, "the first frame's mask is empty: no box to start from")
    session = make(frames)
    predicted: dict[int, np.ndarray | None] = {}
    spent, count = 0.0, 0
    try:
        session.add_box(0, OBJECT_ID, truth[0])
        stream = session.propagate(0, "forward")
        while True:
            start = time.perf_counter()
            step = next(stream, None)
            spent += time.perf_counter() - start
            if step is None:
                break
            index, samples = step
            count += 1
            sample = samples.get(OBJECT_ID)
            predicted[index] = None if sample is None or sample.outside else sample.box
    finally:
        session.close()
    scored = [i for i in range(1, len(truth)) if truth[i] is not None]
    pred = np.array([predicted.get(i) if predicted.get(i) is not None else [np.nan] * 4 for i in scored], np.float64)
    gt = np.array([truth[i] for i in scored], np.float64).reshape(-1, 4)
    outside = sum(predicted.get(i) is None for i in scored)
    fps = count / spent if spent > 0 else float("inf")
    return BoxScore(item.name, len(scored), success_auc(pred, gt), precision_at(pred, gt), outside, fps)


@dataclass(frozen=True)
class BadjaFrame:
    """One annotated BADJA frame: its index, joints (J, 2) (x, y) in our pixels, visible (J,) bool."""

    frame: int
    joints: np.ndarray
    visible: np.ndarray


def read_badja(path: Path, width: int) -> list[BadjaFrame]:
    """A BADJA joint file's annotated frames, joints scaled from Full-Resolution to `width` pixels wide."""
    try:
        entries = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DataError(path, f"cannot read the BADJA joints ({error})") from error
    scale = width / BADJA_WIDTH
    result = []
    for entry in entries:
        frame = int(Path(entry["image_path"]).stem)
        rows_cols = np.asarray(entry["joints"], np.float64).reshape(-1, 2)
        joints = rows_cols[:, ::-1] * scale
        result.append(BadjaFrame(frame, joints.astype(np.float32), np.asarray(entry["visibility"], bool)))
    return sorted(result, key=lambda f: f.frame)


def badja_items(root: Path) -> list[tuple[VideoItem, Path]]:
    """The shared sequences with a BADJA joint file in tracks/badja/SEQ.json."""
    root = Path(root)
    folder = root / "tracks" / "badja"
    items = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        seq = root / "videos" / path.stem
        if (seq / "frames").is_dir() and (seq / "masks").is_dir():
            items.append((VideoItem(path.stem, seq / "frames", seq / "masks"), path))
    return items


def evaluate_point_sequence(
    make: PointTrackerFactory, item: VideoItem, joints_file: Path, masks: MaskTrackFactory | None = None
) -> PointScore:
    """Track the joints visible on the first annotated frame forward and score PCK on the later ones.

    With `masks`, a mask track from the first frame's ground-truth mask (made by that factory) is the
    point tracker's visibility gate.
    """
    frames = FolderFrames(item.frames)
    width = frames[0].shape[1]
    annotated = read_badja(joints_file, width)
    first = annotated[0]
    seeds = np.flatnonzero(first.visible)
    source = None
    if masks is not None:
        gt_files = video_masks(item)
        tracked = masks(frames, first.frame, read_video_gt(gt_files[first.frame])[0])
        source = _mask_source(tracked)
    session = make(frames, source)
    wanted = {a.frame: a for a in annotated[1:]}
    positions: dict[int, np.ndarray] = {}
    spent, count = 0.0, 0
    try:
        session.add_points(first.frame, OBJECT_ID, first.joints[seeds])
        stream = session.propagate(first.frame, "forward")
        while True:
            start = time.perf_counter()
            step = next(stream, None)
            spent += time.perf_counter() - start
            if step is None:
                break
            index, samples = step
            count += 1
            if index in wanted and OBJECT_ID in samples:
                positions[index] = samples[OBJECT_ID].points
    finally:
        session.close()
    errors, areas = [], []
    gt_files = video_masks(item)
    for index, truth in wanted.items():
        area = float(read_video_gt(gt_files[index])[0].sum())
        for slot, joint in enumerate(seeds):
            if truth.visible[joint]:
                got = positions.get(index)
                errors.append(np.inf if got is None else float(np.linalg.norm(got[slot] - truth.joints[joint])))
                areas.append(area)
    fps = count / spent if spent > 0 else float("inf")
    return PointScore(item.name, len(seeds), len(errors), pck(np.array(errors), np.array(areas)), fps)


def _mask_source(tracked: dict[int, np.ndarray]) -> MaskSource:
    def source(frame: int, obj_id: int) -> np.ndarray | None:
        return tracked.get(frame) if obj_id == OBJECT_ID else None

    return source


def evaluate_tracks(
    engine: str,
    boxes: BoxTrackerFactory,
    points: PointTrackerFactory,
    box_items: Sequence[VideoItem],
    point_items: Sequence[tuple[VideoItem, Path]],
    masks: MaskTrackFactory | None = None,
) -> TrackReport:
    """Score box tracking on `box_items` and point tracking on `point_items`."""
    box_scores = []
    for item in box_items:
        score = evaluate_box_sequence(boxes, item)
        log.info("%s boxes: AUC %.3f P@20 %.3f, %.0f frames/s", item.name, score.auc, score.precision, score.fps)
        box_scores.append(score)
    point_scores = []
    for item, path in point_items:
        score = evaluate_point_sequence(points, item, path, masks)
        log.info("%s points: PCK %.3f over %d, %.0f frames/s", item.name, score.pck, score.scored, score.fps)
        point_scores.append(score)
    return TrackReport(engine, tuple(box_scores), tuple(point_scores), peak_rss_mb())


def markdown_table(report: TrackReport) -> str:
    """The report as two markdown tables (boxes, points) with a row of means."""
    summary = report.to_dict()
    lines = [
        f"Track evaluation of `{report.engine}`",
        "",
        "Boxes (first-frame box; OTB success AUC, precision@20px)",
        "",
    ]
    lines += ["| sequence | frames | AUC | P@20 | outside | frames/s |", "|---|---:|---:|---:|---:|---:|"]
    for b in report.boxes:
        lines.append(f"| {b.name} | {b.frames} | {b.auc:.3f} | {b.precision:.3f} | {b.outside} | {b.fps:.0f} |")
    box = summary["boxes"]
    lines.append(f"| **mean** | | {box['mean_auc']:.3f} | {box['mean_precision']:.3f} | | {box['mean_fps']:.0f} |")
    lines += ["", "Points (BADJA joints from the first annotated frame; PCK at 0.2 sqrt(mask area))", ""]
    lines += ["| sequence | joints | scored | PCK | frames/s |", "|---|---:|---:|---:|---:|"]
    for p in report.points:
        lines.append(f"| {p.name} | {p.joints} | {p.scored} | {100 * p.pck:.1f} | {p.fps:.0f} |")
    pts = summary["points"]
    lines.append(f"| **mean** (pooled {100 * pts['pooled_pck']:.1f}) | | | {100 * pts['mean_pck']:.1f} | |")
    if report.peak_rss_mb is not None:
        lines += ["", f"Peak RSS: {report.peak_rss_mb:.0f} MiB"]
    return "\n".join(lines)


def engine_factories(
    engine: object, box_tracker: str = "auto", snap: bool = False
) -> tuple[BoxTrackerFactory, PointTrackerFactory, str]:
    """The box and point tracker factories for an engine: 'lk' (the classic box tracker), 'mask' (the box of
    the engine's mask track), or 'auto' (lk for the classic engine, mask for the others); points are classic
    (with `snap`, points off the gating mask move onto it)."""
    from model.classic.box_track import ClassicBoxSession
    from model.classic.point_track import ClassicPointSession, PointTrackSettings
    from model.tracking_mask import MaskBoxSession

    name = str(getattr(engine, "name", ""))
    if box_tracker == "auto":
        box_tracker = "lk" if name == "classic" else "mask"
    if box_tracker == "lk":
        boxes: BoxTrackerFactory = ClassicBoxSession
    elif box_tracker == "mask":
        boxes = lambda frames: MaskBoxSession(engine.open_video(frames))  # type: ignore[attr-defined]  # noqa: E731
    else:
        raise DataError("--box-tracker", f"unknown box tracker '{box_tracker}' (expected auto, lk or mask)")
    settings = PointTrackSettings(snap=snap)
    points: PointTrackerFactory = lambda frames, source: ClassicPointSession(frames, settings, source)  # noqa: E731
    return boxes, points, box_tracker


def engine_mask_track(engine: object) -> MaskTrackFactory:
    """A forward mask track by the engine's video session, from one frame's mask."""
    from model.protocol import Prompt

    def track(frames: FolderFrames, start: int, mask: np.ndarray) -> dict[int, np.ndarray]:
        session = engine.open_video(frames)  # type: ignore[attr-defined]
        try:
            session.add_prompt(start, OBJECT_ID, Prompt(mask=mask))
            return {i: m[OBJECT_ID] for i, m in session.propagate(start, "forward") if OBJECT_ID in m}
        finally:
            session.close()

    return track
