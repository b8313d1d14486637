"""A classic box tracker with no weights: pyramidal LK on points inside the box, forward-backward filtered.

Each frame, points are laid inside the object's box (a grid plus corners found there), tracked to
the next frame with pyramidal Lucas-Kanade and back again; points whose round trip misses by more
than the median (and a few pixels) are dropped. The box moves by the median displacement of the
points kept and scales by the median ratio of their pairwise distances (MedianFlow). Points that
move like the box's surroundings (the background, measured on a ring around the box) are left out
when the object moves differently, so a static or panning background does not hold the box back.
The confidence mixes the share of points kept with how well the box's appearance still matches
its keyframe (normalised cross-correlation of small grey templates).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from model.errors import EngineError
from model.frames import frame_order, read_ahead, stream_runs
from model.protocol import Direction, FrameSource
from model.tracking import TrackSample

log = logging.getLogger(__name__)

LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)


@dataclass(frozen=True)
class BoxTrackSettings:
    """Knobs of the LK box tracker."""

    grid: int = 8  # grid points per side inside the box
    corners: int = 20  # extra good features to track inside the box
    window: int = 11  # LK window side in pixels
    levels: int = 3  # LK pyramid levels above the full frame
    fb_slack: float = 2.0  # a point is kept while its round trip misses by at most median + this (pixels)
    max_scale_step: float = 0.15  # the box grows or shrinks at most this much per frame
    template: int = 24  # side of the grey templates compared for the confidence
    ring: float = 0.25  # width of the background ring around the box, relative to the box size
    ring_points: int = 7  # points on each side of that ring
    crop_margin: int = 64  # LK runs on the points' box grown by this many pixels (room for the motion)
    lost_below: float = 0.2  # confidence under which the object is called outside
    colour: bool = True  # seed points only where the keyframe's colour model says object (when enough do)
    colour_pull: float = 0.3  # how far the box moves towards the object-coloured blob around it, per frame
    size_pull: float = 0.1  # how far its size follows that blob's spread, per frame


@dataclass
class _Box:
    """One object's running state: centre, size, keyframe template and velocity."""

    cx: float
    cy: float
    w: float
    h: float
    template: np.ndarray | None = None
    colour: np.ndarray | None = None  # P(object | colour bin), from the keyframe's box against its surroundings
    spread: tuple[float, float, float] | None = None  # the blob's (std x / w, std y / h, separability) on the keyframe
    vx: float = 0.0
    vy: float = 0.0

    def xyxy(self) -> np.ndarray:
        """The box as 4 float32 xyxy."""
        return np.array(
            [self.cx - self.w / 2, self.cy - self.h / 2, self.cx + self.w / 2, self.cy + self.h / 2], np.float32
        )

    @classmethod
    def of(cls, xyxy: np.ndarray) -> _Box:
        """From 4 xyxy values."""
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        return cls((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


class ClassicBoxSession:
    """A TrackSession of boxes with no model: pyramidal LK + forward-backward check per frame."""

    kinds = frozenset({"box"})

    def __init__(self, frames: FrameSource, settings: BoxTrackSettings | None = None) -> None:
        if len(frames) == 0:
            raise EngineError("the video has no frames")
        self.frames = frames
        self.settings = settings or BoxTrackSettings()
        self.image_size: tuple[int, int] = tuple(frames[0].shape[:2])  # type: ignore[assignment]
        self.scores: dict[int, float] = {}
        self._keyframes: dict[int, dict[int, np.ndarray]] = {}  # obj_id -> frame -> xyxy

    def add_box(self, frame: int, obj_id: int, xyxy: np.ndarray) -> TrackSample:
        """Set one object's box on `frame` (a keyframe); returns the box sample."""
        if not 0 <= frame < len(self.frames):
            raise EngineError(f"frame {frame} is outside the video (0..{len(self.frames) - 1})")
        box = np.asarray(xyxy, np.float32).reshape(4)
        if not (box[2] > box[0] and box[3] > box[1]):
            raise EngineError(f"box {box.tolist()} is empty: x1 must exceed x0 and y1 exceed y0")
        self._keyframes.setdefault(obj_id, {})[frame] = box.copy()
        return TrackSample.of_box(box)

    def add_points(self, frame: int, obj_id: int, points: np.ndarray) -> TrackSample:
        """Not offered: this session tracks boxes (see ClassicPointSession)."""
        raise EngineError("the classic box tracker follows boxes only; use the classic point tracker for points")

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and its keyframes."""
        self._keyframes.pop(obj_id, None)

    def close(self) -> None:
        """Release what the session holds."""
        self._keyframes.clear()

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, TrackSample]]]:
        """Stream (frame, {obj_id: box sample}) from `start` (included once), stopping when `cancel` is set."""
        yield from stream_runs(frame_order(start, len(self.frames), direction), start, self._run, cancel)

    def _run(self, order: range, cancel: threading.Event | None) -> Iterator[tuple[int, dict[int, TrackSample]]]:
        boxes: dict[int, _Box] = {}
        previous: tuple[np.ndarray, np.ndarray] | None = None
        frames = read_ahead(self.frames, order)
        try:
            for index, image in frames:
                if cancel is not None and cancel.is_set():
                    return
                gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
                samples, scores = {}, {}
                for obj_id, keyframes in self._keyframes.items():
                    if index in keyframes:
                        box = _Box.of(keyframes[index])
                        box.template = self._template(gray, box)
                        box.colour = (
                            colour_model(image, box.xyxy(), self.settings.ring) if self.settings.colour else None
                        )
                        box.spread = self._keyframe_spread(image, box)
                        boxes[obj_id] = box
                        samples[obj_id], scores[obj_id] = TrackSample.of_box(keyframes[index]), 1.0
                    elif obj_id in boxes and previous is not None:
                        score = self._step(boxes[obj_id], previous, gray)
                        self._colour_refine(boxes[obj_id], image)
                        outside = score < self.settings.lost_below
                        samples[obj_id] = TrackSample.of_box(boxes[obj_id].xyxy(), score=score, outside=outside)
                        scores[obj_id] = score
                previous = (gray, image)
                self.scores = scores
                yield index, samples
        finally:
            frames.close()

    def _seeds(self, gray: np.ndarray, image: np.ndarray, box: _Box) -> np.ndarray:
        """Grid points and good features inside the box (inset a little), Nx1x2 float32."""
        s = self.settings
        height, width = gray.shape
        x0, y0, x1, y1 = box.xyxy()
        inset_x, inset_y = box.w * 0.1, box.h * 0.1
        xs = np.linspace(x0 + inset_x, x1 - inset_x, s.grid)
        ys = np.linspace(y0 + inset_y, y1 - inset_y, s.grid)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        points = [grid]
        c0, r0 = max(0, int(x0)), max(0, int(y0))
        c1, r1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
        if s.corners > 0 and c1 - c0 >= 8 and r1 - r0 >= 8:
            spacing = max(3.0, min(box.w, box.h) / 12)
            found = cv2.goodFeaturesToTrack(gray[r0:r1, c0:c1], s.corners, 0.01, spacing, blockSize=5)
            if found is not None:
                points.append(found.reshape(-1, 2) + np.array([c0, r0], np.float32))
        seeds = np.concatenate(points).astype(np.float32)
        inside = (seeds[:, 0] >= 0) & (seeds[:, 0] < width) & (seeds[:, 1] >= 0) & (seeds[:, 1] < height)
        seeds = seeds[inside]
        if box.colour is not None and len(seeds):
            likely = box.colour[colour_bins(image, seeds)] >= 0.5
            if likely.sum() >= max(8, len(seeds) // 4):
                seeds = seeds[likely]
        return seeds.reshape(-1, 1, 2)

    def _ring(self, gray: np.ndarray, box: _Box) -> np.ndarray:
        """Points on a ring just outside the box (the surroundings), Nx1x2 float32."""
        height, width = gray.shape
        pad_x, pad_y = box.w * (0.5 + self.settings.ring / 2), box.h * (0.5 + self.settings.ring / 2)
        t = np.linspace(-1, 1, self.settings.ring_points)
        sides = [
            np.stack([box.cx + t * pad_x, np.full_like(t, box.cy - pad_y)], 1),
            np.stack([box.cx + t * pad_x, np.full_like(t, box.cy + pad_y)], 1),
            np.stack([np.full_like(t, box.cx - pad_x), box.cy + t * pad_y], 1),
            np.stack([np.full_like(t, box.cx + pad_x), box.cy + t * pad_y], 1),
        ]
        ring = np.concatenate(sides).astype(np.float32)
        inside = (ring[:, 0] >= 4) & (ring[:, 0] < width - 4) & (ring[:, 1] >= 4) & (ring[:, 1] < height - 4)
        return ring[inside].reshape(-1, 1, 2)

    def _track(self, before: np.ndarray, after: np.ndarray, points: np.ndarray) -> tuple:
        """LK forward and back: (moved Nx2, forward-backward error N, ok N bool).

        Both frames are cropped to the points' box grown by `crop_margin` (LK builds its pyramids on
        the crop, so a small object costs little); points are shifted in and out of the crop."""
        window = (self.settings.window, self.settings.window)
        levels = self.settings.levels
        height, width = before.shape
        flat = points.reshape(-1, 2)
        margin = self.settings.crop_margin
        c0, r0 = (max(0, int(v) - margin) for v in flat.min(axis=0))
        c1, r1 = (int(v) + margin + 1 for v in flat.max(axis=0))
        c1, r1 = min(width, c1), min(height, r1)
        origin = np.array([c0, r0], np.float32)
        local = np.ascontiguousarray((flat - origin).reshape(-1, 1, 2), np.float32)
        first, second = before[r0:r1, c0:c1], after[r0:r1, c0:c1]
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(first, second, local, None, winSize=window, maxLevel=levels)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(second, first, moved, None, winSize=window, maxLevel=levels)
        error = np.linalg.norm((back - local).reshape(-1, 2), axis=1)
        good = (ok.reshape(-1) == 1) & (ok_back.reshape(-1) == 1) & np.isfinite(error)
        return moved.reshape(-1, 2) + origin, error, good

    def _step(self, box: _Box, previous: tuple[np.ndarray, np.ndarray], gray_after: np.ndarray) -> float:
        """Move `box` from the previous frame to the current one; returns the confidence in [0, 1]."""
        s = self.settings
        gray_before, image_before = previous
        before, after = gray_before, gray_after
        seeds = self._seeds(gray_before, image_before, box)
        ring = self._ring(gray_before, box)
        points = np.concatenate([seeds, ring]) if len(ring) else seeds
        if len(seeds) < 4:
            box.cx, box.cy = box.cx + box.vx, box.cy + box.vy
            return 0.0
        moved, error, good = self._track(before, after, points)
        inner = slice(0, len(seeds))
        start, end, fb, ok = seeds.reshape(-1, 2), moved[inner], error[inner], good[inner]
        if ok.sum() >= 4:
            ok &= fb <= np.median(fb[ok]) + s.fb_slack
        kept = int(ok.sum())
        if kept < 4:
            box.cx, box.cy = box.cx + box.vx, box.cy + box.vy
            return 0.0
        shift = end[ok] - start[ok]
        chosen = self._object_points(shift, ring, moved[len(seeds) :], good[len(seeds) :], error[len(seeds) :], box)
        start, end, shift = start[ok][chosen], end[ok][chosen], shift[chosen]
        dx, dy = np.median(shift, axis=0)
        scale = _scale(start, end)
        scale = float(np.clip(scale, 1 - s.max_scale_step, 1 + s.max_scale_step))
        box.vx, box.vy = float(dx), float(dy)
        box.cx, box.cy = box.cx + float(dx), box.cy + float(dy)
        box.w, box.h = max(4.0, box.w * scale), max(4.0, box.h * scale)
        kept_share = min(1.0, kept / max(1, len(seeds)) * 1.5)
        match = self._match(gray_after, box)
        return float(np.clip(0.5 * kept_share + 0.5 * match, 0.0, 1.0))

    def _object_points(
        self, shift: np.ndarray, ring: np.ndarray, ring_moved: np.ndarray, ring_ok: np.ndarray, ring_fb: np.ndarray, box
    ) -> np.ndarray:
        """Which inner points to follow: all, unless the surroundings move apart from the object (then those
        that do not move like the surroundings)."""
        everything = np.ones(len(shift), bool)
        ring_ok = ring_ok & (ring_fb <= 1.0)
        if ring_ok.sum() < 6:
            return everything
        background = np.median((ring_moved - ring.reshape(-1, 2))[ring_ok], axis=0)
        apart = np.linalg.norm(shift - background, axis=1)
        threshold = max(1.0, 0.02 * max(box.w, box.h))
        foreground = apart > threshold
        if foreground.sum() >= max(4, 0.2 * len(shift)):
            return foreground
        return everything

    def _blob(self, image: np.ndarray, box: _Box) -> tuple[float, float, float, float, float] | None:
        """(centre x, centre y, std x, std y, weight share) of object-coloured pixels around the box."""
        if box.colour is None:
            return None
        height, width = image.shape[:2]
        c0, r0 = max(0, int(box.cx - box.w)), max(0, int(box.cy - box.h))
        c1, r1 = min(width, int(box.cx + box.w)), min(height, int(box.cy + box.h))
        step = max(2, int(min(box.w, box.h) / 30))
        if c1 - c0 < 2 * step or r1 - r0 < 2 * step:
            return None
        ys, xs = np.mgrid[r0:r1:step, c0:c1:step]
        points = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
        weight = np.clip(box.colour[colour_bins(image, points)] * 2 - 1, 0, None)
        # Far from the box the colour says less about the object: fade with the distance in box sizes.
        far = np.hypot((points[:, 0] - box.cx) / box.w, (points[:, 1] - box.cy) / box.h)
        weight *= np.clip(1.5 - far, 0, 1)
        total = float(weight.sum())
        if total < 1e-3:
            return None
        mx, my = (weight @ points) / total
        sx = float(np.sqrt(weight @ (points[:, 0] - mx) ** 2 / total))
        sy = float(np.sqrt(weight @ (points[:, 1] - my) ** 2 / total))
        return float(mx), float(my), sx, sy, total / len(weight)

    def _keyframe_spread(self, image: np.ndarray, box: _Box) -> tuple[float, float, float] | None:
        """The keyframe blob's spread relative to the box, and how well its colours separate object from ring."""
        blob = self._blob(image, box)
        if blob is None or box.colour is None:
            return None
        x0, y0, x1, y1 = box.xyxy()
        inside = np.mean(
            [
                box.colour[colour_bins(image, np.array([[x, y]], np.float32))][0]
                for x in np.linspace(x0, x1, 8)
                for y in np.linspace(y0, y1, 8)
            ]
        )
        separability = float(np.clip(2 * inside - 1, 0, 1))
        return blob[2] / box.w, blob[3] / box.h, separability

    def _colour_refine(self, box: _Box, image: np.ndarray) -> None:
        """Pull the box towards the object-coloured blob around it, as much as its colours are telling."""
        s = self.settings
        if box.spread is None or (s.colour_pull <= 0 and s.size_pull <= 0):
            return
        blob = self._blob(image, box)
        if blob is None:
            return
        mx, my, sx, sy, _ = blob
        kx, ky, separability = box.spread
        pull = s.colour_pull * separability
        box.cx += pull * (mx - box.cx)
        box.cy += pull * (my - box.cy)
        grow = s.size_pull * separability
        if kx > 0 and ky > 0:
            box.w *= float(np.clip((sx / kx / box.w) ** grow, 1 - s.max_scale_step, 1 + s.max_scale_step))
            box.h *= float(np.clip((sy / ky / box.h) ** grow, 1 - s.max_scale_step, 1 + s.max_scale_step))

    def _template(self, gray: np.ndarray, box: _Box) -> np.ndarray | None:
        """The box's contents resized to a small square, zero-mean and unit-norm (None if off the frame)."""
        height, width = gray.shape
        x0, y0, x1, y1 = box.xyxy()
        c0, r0 = max(0, int(np.rint(x0))), max(0, int(np.rint(y0)))
        c1, r1 = min(width, int(np.rint(x1))), min(height, int(np.rint(y1)))
        if c1 - c0 < 2 or r1 - r0 < 2:
            return None
        side = self.settings.template
        patch = cv2.resize(gray[r0:r1, c0:c1], (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
        patch -= patch.mean()
        norm = float(np.linalg.norm(patch))
        return patch / norm if norm > 1e-6 else None

    def _match(self, gray: np.ndarray, box: _Box) -> float:
        """Normalised cross-correlation of the box's contents with its keyframe template, mapped to [0, 1]."""
        if box.template is None:
            return 0.5
        now = self._template(gray, box)
        if now is None:
            return 0.0
        return float(np.clip((float((now * box.template).sum()) + 1) / 2, 0.0, 1.0))


def _scale(start: np.ndarray, end: np.ndarray, most: int = 48) -> float:
    """The median ratio of pairwise distances after and before, over every pair of up to `most` points."""
    count = len(start)
    if count < 3:
        return 1.0
    pick = np.linspace(0, count - 1, min(count, most)).astype(np.int64)
    first, second = np.triu_indices(len(pick), k=1)
    before = np.linalg.norm(start[pick[first]] - start[pick[second]], axis=1)
    after = np.linalg.norm(end[pick[first]] - end[pick[second]], axis=1)
    valid = before > 2.0
    if valid.sum() < 3:
        return 1.0
    return float(np.median(after[valid] / before[valid]))


def colour_bins(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The 512-bin RGB colour index (8 levels a channel) of the pixels under (x, y) points."""
    cols = np.clip(points[:, 0].astype(np.int64), 0, image.shape[1] - 1)
    rows = np.clip(points[:, 1].astype(np.int64), 0, image.shape[0] - 1)
    rgb = image[rows, cols].astype(np.int64) >> 5
    return rgb[:, 0] * 64 + rgb[:, 1] * 8 + rgb[:, 2]


def colour_model(image: np.ndarray, xyxy: np.ndarray, ring: float, step: int = 2) -> np.ndarray | None:
    """P(object | colour bin) over 512 RGB bins: the box's colours against a ring around it (None if no ring)."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    pad_x, pad_y = (x1 - x0) * ring, (y1 - y0) * ring
    c0, r0 = max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y))
    c1, r1 = min(width, int(np.ceil(x1 + pad_x))), min(height, int(np.ceil(y1 + pad_y)))
    if c1 - c0 < 4 or r1 - r0 < 4:
        return None
    ys, xs = np.mgrid[r0:r1:step, c0:c1:step]
    points = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    inner = (points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)
    if inner.all() or not inner.any():
        return None
    bins = colour_bins(image, points)
    fg = np.bincount(bins[inner], minlength=512) / inner.sum()
    bg = np.bincount(bins[~inner], minlength=512) / (~inner).sum()
    return ((fg + 1e-4) / (fg + bg + 2e-4)).astype(np.float32)
