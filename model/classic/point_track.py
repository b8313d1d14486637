"""A classic point tracker with no weights: pyramidal Lucas-Kanade, forward-backward confidence, dense-flow
fallback, and an optional mask gate.

Each frame every point is tracked with pyramidal LK and back again; the round-trip miss is its
confidence (a Gaussian of it), never a reason to stop the point. Points LK loses (no status, or a
miss beyond `lost_fb`) take the motion of the dense DIS flow there instead, when that flow is
consistent, else the median motion of their reliable neighbours. Points with a low confidence are
occluded. With a mask source (the object's mask track), a point outside the mask on that frame is
occluded, and optionally snapped to the nearest mask pixel so that it does not drift away for good.
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
from model.tracking import OCCLUDED_BELOW, MaskSource, TrackSample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PointTrackSettings:
    """Knobs of the classic point tracker."""

    window: int = 9  # LK window side in pixels (the support cross widens what it sees)
    levels: int = 3  # LK pyramid levels above the full frame
    fb_sigma: float = 1.5  # confidence = exp(-(round-trip miss / fb_sigma)^2 / 2)
    lost_fb: float = 3.0  # beyond this round-trip miss (pixels) LK is replaced by the fallback
    dense_scale: float = 0.25  # the dense fallback's flow is computed at this fraction of the frame size
    dense_fallback: bool = True  # use DIS flow for points LK loses (else the neighbours' motion only)
    dense_margin: int = 64  # the flow is computed on the lost points' box grown by this many pixels
    fallback_confidence: float = 0.6  # the most confidence a point moved by the fallback gets
    neighbours: int = 6  # reliable neighbours whose median motion moves a point nothing else can
    support: float = 8.0  # when > 0: each point also tracks 4 support points this many pixels away, and moves
    # by the median motion of those that track well (a robust local estimate)
    support_above: float = 0.0  # ... only the points whose own round trip misses by more than this (pixels)
    snap: bool = False  # with a mask source, a point outside the mask moves to the nearest mask pixel
    snap_slack: float = 2.0  # ... when it is more than this many pixels outside


@dataclass
class _Points:
    """One object's running state."""

    xy: np.ndarray  # N x 2 float32
    confidence: np.ndarray  # N float32


class ClassicPointSession:
    """A TrackSession of point sets with no model; `mask_source` (optional) gates visibility by a mask track."""

    kinds = frozenset({"points"})

    def __init__(
        self,
        frames: FrameSource,
        settings: PointTrackSettings | None = None,
        mask_source: MaskSource | None = None,
    ) -> None:
        if len(frames) == 0:
            raise EngineError("the video has no frames")
        self.frames = frames
        self.settings = settings or PointTrackSettings()
        self.mask_source = mask_source
        self.scores: dict[int, float] = {}
        self._keyframes: dict[int, dict[int, np.ndarray]] = {}  # obj_id -> frame -> N x 2
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def add_points(self, frame: int, obj_id: int, points: np.ndarray) -> TrackSample:
        """Set one object's Nx2 (x, y) points on `frame` (a keyframe); N must match its other keyframes."""
        if not 0 <= frame < len(self.frames):
            raise EngineError(f"frame {frame} is outside the video (0..{len(self.frames) - 1})")
        xy = np.asarray(points, np.float32).reshape(-1, 2)
        if len(xy) == 0:
            raise EngineError("a point track needs at least one point")
        if not np.isfinite(xy).all():
            raise EngineError("point coordinates must be finite numbers")
        known = self._keyframes.get(obj_id)
        if known:
            count = len(next(iter(known.values())))
            if count != len(xy):
                raise EngineError(f"object {obj_id} tracks {count} points; a keyframe gave {len(xy)}")
        self._keyframes.setdefault(obj_id, {})[frame] = xy.copy()
        return TrackSample.of_points(xy)

    def add_box(self, frame: int, obj_id: int, xyxy: np.ndarray) -> TrackSample:
        """Not offered: this session tracks points (see ClassicBoxSession)."""
        raise EngineError("the classic point tracker follows points only; use a box tracker for boxes")

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and its keyframes."""
        self._keyframes.pop(obj_id, None)

    def close(self) -> None:
        """Release what the session holds."""
        self._keyframes.clear()

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, TrackSample]]]:
        """Stream (frame, {obj_id: points sample}) from `start` (included once), stopping when `cancel` is set."""
        yield from stream_runs(frame_order(start, len(self.frames), direction), start, self._run, cancel)

    def _run(self, order: range, cancel: threading.Event | None) -> Iterator[tuple[int, dict[int, TrackSample]]]:
        tracks: dict[int, _Points] = {}
        previous: np.ndarray | None = None
        frames = read_ahead(self.frames, order)
        try:
            for index, image in frames:
                if cancel is not None and cancel.is_set():
                    return
                gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
                moving = [o for o in self._keyframes if o in tracks and index not in self._keyframes[o]]
                if previous is not None and moving:
                    self._step([tracks[o] for o in moving], previous, gray)
                samples, scores = {}, {}
                for obj_id, keyframes in self._keyframes.items():
                    if index in keyframes:
                        xy = keyframes[index]
                        tracks[obj_id] = _Points(xy.copy(), np.ones(len(xy), np.float32))
                        samples[obj_id] = TrackSample.of_points(xy)
                    elif obj_id in tracks:
                        samples[obj_id] = self._sample(index, obj_id, tracks[obj_id])
                    else:
                        continue
                    scores[obj_id] = samples[obj_id].score
                previous = gray
                self.scores = scores
                yield index, samples
        finally:
            frames.close()

    def _step(self, tracks: list[_Points], before: np.ndarray, after: np.ndarray) -> None:
        """Move every object's points from `before` to `after` in one LK call (plus the fallback)."""
        s = self.settings
        sizes = [len(t.xy) for t in tracks]
        start = np.concatenate([t.xy for t in tracks]).reshape(-1, 2)
        if s.support > 0 and s.support_above <= 0:  # every point moves by its cross: no separate pass
            end, miss = start.copy(), np.full(len(start), np.inf)
        else:
            end, miss = self._lk(before, after, start)
            end = end.copy()
        unsure = miss > s.support_above
        if s.support > 0 and unsure.any():
            # Points whose own round trip is not clean move by the best three of a cross around them instead.
            offsets = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], np.float32) * s.support
            centres = start[unsure]
            lattice = (centres[:, None, :] + offsets[None]).reshape(-1, 2)
            moved, cross_miss = self._lk(before, after, lattice)
            shift = (moved - lattice).reshape(len(centres), len(offsets), 2)
            misses = cross_miss.reshape(len(centres), len(offsets))
            order = np.argsort(misses, axis=1)[:, :3]
            rows = np.arange(len(centres))[:, None]
            cross_end = centres + np.median(shift[rows, order], axis=1)
            end[unsure] = np.where(np.isfinite(cross_end), cross_end, centres)
            miss[unsure] = np.median(misses[rows, order], axis=1)
        confidence = np.exp(-0.5 * (miss / s.fb_sigma) ** 2).astype(np.float32)
        lost = miss > s.lost_fb
        if lost.any():
            self._fallback(start, end, confidence, lost, before, after, np.repeat(np.arange(len(sizes)), sizes))
        height, width = after.shape
        # A point that leaves the frame keeps moving (with its neighbours) but is not seen there.
        off = (end[:, 0] < 0) | (end[:, 1] < 0) | (end[:, 0] > width - 1) | (end[:, 1] > height - 1)
        confidence[off] = 0.0
        offset = 0
        for track, size in zip(tracks, sizes, strict=True):
            track.xy = end[offset : offset + size].astype(np.float32)
            track.confidence = confidence[offset : offset + size]
            offset += size

    def _lk(self, before: np.ndarray, after: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LK forward and back: (end N x 2, round-trip miss N, inf where LK failed)."""
        s = self.settings
        window = (s.window, s.window)
        points = start.reshape(-1, 1, 2).astype(np.float32)
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(before, after, points, None, winSize=window, maxLevel=s.levels)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(after, before, moved, None, winSize=window, maxLevel=s.levels)
        end = moved.reshape(-1, 2)
        miss = np.linalg.norm(back.reshape(-1, 2) - start, axis=1)
        good = (ok.reshape(-1) == 1) & (ok_back.reshape(-1) == 1) & np.isfinite(miss) & np.isfinite(end).all(axis=1)
        return end, np.where(good, miss, np.inf)

    def _fallback(
        self,
        start: np.ndarray,
        end: np.ndarray,
        confidence: np.ndarray,
        lost: np.ndarray,
        before: np.ndarray,
        after: np.ndarray,
        owner: np.ndarray,
    ) -> None:
        """Move the points LK lost by the dense flow (when consistent) or by their reliable neighbours."""
        s = self.settings
        height, width = before.shape
        on_frame = (start[:, 0] >= 0) & (start[:, 1] >= 0) & (start[:, 0] <= width - 1) & (start[:, 1] <= height - 1)
        rest = lost.copy()
        if s.dense_fallback and (rest & on_frame).any():
            # The flow is computed only around the lost points (they are usually few), with room for their motion.
            wanted = start[rest & on_frame]
            c0, r0 = (max(0, int(v) - s.dense_margin) for v in wanted.min(axis=0))
            c1, r1 = (int(v) + s.dense_margin for v in wanted.max(axis=0))
            c1, r1 = min(width, max(c1, c0 + 32)), min(height, max(r1, r0 + 32))
            origin = np.array([c0, r0], np.float32)
            forward, backward = self._dense(before[r0:r1, c0:c1], after[r0:r1, c0:c1])
            crop = (r1 - r0, c1 - c0)
            there = _sample(forward, start - origin, crop)
            landed = start + there
            round_trip = np.linalg.norm(there + _sample(backward, landed - origin, crop), axis=1)
            usable = rest & on_frame & (round_trip <= s.lost_fb)
            end[usable] = landed[usable]
            conf = np.exp(-0.5 * (round_trip / s.fb_sigma) ** 2) * s.fallback_confidence
            confidence[usable] = conf[usable]
            rest &= ~usable
        if not rest.any():
            return
        reliable = np.flatnonzero(~lost)
        targets = np.flatnonzero(rest)
        distance = np.linalg.norm(start[targets, None, :] - start[None, reliable, :], axis=2)
        distance[owner[targets][:, None] != owner[reliable][None, :]] = np.inf  # only the same object's points
        shift = end[reliable] - start[reliable]
        for row, index in enumerate(targets):
            near = np.argsort(distance[row])[: s.neighbours]
            near = near[np.isfinite(distance[row, near])]
            if len(near) == 0:
                end[index] = start[index]  # nothing to go by: stay, with no confidence
                confidence[index] = 0.0
                continue
            end[index] = start[index] + np.median(shift[near], axis=0)
            confidence[index] = min(float(confidence[index]), OCCLUDED_BELOW * 0.5)

    def _dense(self, before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward and backward DIS flow computed at `dense_scale` (h x w x 2, values in full-frame pixels)."""
        scale = self.settings.dense_scale
        height, width = before.shape
        size = (max(16, int(width * scale)), max(16, int(height * scale)))
        small_before = cv2.resize(before, size, interpolation=cv2.INTER_AREA)
        small_after = cv2.resize(after, size, interpolation=cv2.INTER_AREA)
        forward = self._dis.calc(small_before, small_after, None)
        backward = self._dis.calc(small_after, small_before, None)
        factor = np.array([width / size[0], height / size[1]], np.float32)
        return forward * factor, backward * factor

    def _sample(self, index: int, obj_id: int, track: _Points) -> TrackSample:
        """The points sample of a tracked frame: occluded where unsure or outside the object's mask."""
        occluded = track.confidence < OCCLUDED_BELOW
        mask = self.mask_source(index, obj_id) if self.mask_source is not None else None
        if mask is not None:
            mask = np.asarray(mask, bool)
            if not mask.any():
                return TrackSample.of_points(track.xy, track.confidence, np.ones(len(track.xy), bool))
            outside = ~_inside(mask, track.xy)
            if self.settings.snap and outside.any():
                track.xy = _snap(mask, track.xy, outside, self.settings.snap_slack)
            occluded |= outside
        return TrackSample.of_points(track.xy, track.confidence, occluded)


def _sample(flow: np.ndarray, points: np.ndarray, full: tuple[int, int]) -> np.ndarray:
    """Bilinear values (N x 2) of a smaller flow field at (x, y) points of a frame of size `full` (h, w)."""
    height, width = flow.shape[:2]
    xy = points * np.array([width / full[1], height / full[0]], np.float32)
    map_x = np.ascontiguousarray(xy[:, 0].reshape(-1, 1), np.float32)
    map_y = np.ascontiguousarray(xy[:, 1].reshape(-1, 1), np.float32)
    return cv2.remap(flow, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)


def _inside(mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Whether each (x, y) point falls on a mask pixel."""
    height, width = mask.shape
    cols = np.clip(np.rint(xy[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.rint(xy[:, 1]).astype(np.int64), 0, height - 1)
    return mask[rows, cols]


def _snap(mask: np.ndarray, xy: np.ndarray, outside: np.ndarray, slack: float) -> np.ndarray:
    """Move the points outside the mask by more than `slack` pixels onto its nearest pixel."""
    background = (~mask).astype(np.uint8)
    distance, labels = cv2.distanceTransformWithLabels(background, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    zeros = np.flatnonzero(background.ravel() == 0)  # label k names the k-th mask pixel in raster order
    height, width = mask.shape
    result = xy.copy()
    for index in np.flatnonzero(outside):
        col = int(np.clip(np.rint(xy[index, 0]), 0, width - 1))
        row = int(np.clip(np.rint(xy[index, 1]), 0, height - 1))
        if distance[row, col] <= slack:
            continue
        nearest = zeros[labels[row, col] - 1]
        result[index] = (nearest % width, nearest // width)
    return result
