"""Box and point tracks: the track session protocol and its per-frame values.

Conventions (as in model.protocol): frames are 0-based; boxes are 4 float32 (x0, y0, x1, y1) in
image pixels; points are Nx2 float32 (x, y) in image pixels.

A track session follows boxes or point sets (one or the other per object id) through a video.
Every `add_box` / `add_points` is a keyframe: propagation starts an object from the first keyframe
it reaches and re-anchors it on every later one (a correction), so keyframes are never overwritten.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from model.protocol import Direction, FrameSource

TrackKind = Literal["box", "points"]

OCCLUDED_BELOW = 0.5
"""A tracked point whose confidence is below this is called occluded on that frame."""


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class TrackSample:
    """One object's geometry on one frame.

    kind: 'box' or 'points'; geometry: 4 float32 xyxy (box) or Nx2 float32 (x, y) (points);
    outside: the object is not in view on this frame (its geometry is the last known one);
    occluded: N bool per point (a box has one flag: the whole box is hidden behind something);
    confidence: N float32 in [0, 1] per point (a box: one value); score: the sample's overall
    confidence in [0, 1].
    """

    kind: TrackKind
    geometry: np.ndarray
    outside: bool = False
    occluded: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    score: float = 1.0

    def __post_init__(self) -> None:
        if self.kind == "box":
            geometry = np.asarray(self.geometry, np.float32).reshape(4)
            count = 1
        elif self.kind == "points":
            geometry = np.asarray(self.geometry, np.float32).reshape(-1, 2)
            count = len(geometry)
        else:
            raise ValueError(f"unknown track kind '{self.kind}' (expected 'box' or 'points')")
        occluded = np.asarray(self.occluded, bool).reshape(-1)
        if occluded.size == 0:
            occluded = np.zeros(count, bool)
        confidence = np.asarray(self.confidence, np.float32).reshape(-1)
        if confidence.size == 0:
            confidence = np.full(count, float(self.score), np.float32)
        if len(occluded) != count or len(confidence) != count:
            raise ValueError(
                f"a {self.kind} sample of {count} element(s) got {len(occluded)} occluded flags and "
                f"{len(confidence)} confidences"
            )
        object.__setattr__(self, "geometry", _readonly(geometry))
        object.__setattr__(self, "occluded", _readonly(occluded))
        object.__setattr__(self, "confidence", _readonly(confidence))
        object.__setattr__(self, "outside", bool(self.outside))
        object.__setattr__(self, "score", float(self.score))

    @classmethod
    def of_box(cls, xyxy: np.ndarray, score: float = 1.0, outside: bool = False, occluded: bool = False) -> TrackSample:
        """A box sample from 4 xyxy values."""
        return cls("box", np.asarray(xyxy, np.float32), outside, np.array([occluded]), np.array([score]), score)

    @classmethod
    def of_points(
        cls,
        points: np.ndarray,
        confidence: np.ndarray | None = None,
        occluded: np.ndarray | None = None,
        outside: bool = False,
    ) -> TrackSample:
        """A points sample; occluded defaults to confidence < OCCLUDED_BELOW, the score to the mean confidence."""
        points = np.asarray(points, np.float32).reshape(-1, 2)
        conf = np.ones(len(points), np.float32) if confidence is None else np.asarray(confidence, np.float32)
        occ = conf < OCCLUDED_BELOW if occluded is None else np.asarray(occluded, bool)
        score = float(conf.mean()) if len(conf) else 0.0
        return cls("points", points, outside, occ, conf, score)

    @property
    def box(self) -> np.ndarray:
        """4 float32 xyxy: the box itself, or the bounding box of the points not occluded (all if none)."""
        if self.kind == "box":
            return self.geometry
        shown = self.geometry[~self.occluded] if (~self.occluded).any() else self.geometry
        if len(shown) == 0:
            return np.zeros(4, np.float32)
        return np.concatenate([shown.min(axis=0), shown.max(axis=0)]).astype(np.float32)

    @property
    def points(self) -> np.ndarray:
        """Nx2 float32 (x, y): the points, or a box's centre as one point."""
        if self.kind == "points":
            return self.geometry
        x0, y0, x1, y1 = self.geometry
        return np.array([[(x0 + x1) / 2, (y0 + y1) / 2]], np.float32)

    @property
    def visible(self) -> np.ndarray:
        """N bool: in view and not occluded."""
        return ~self.occluded & (not self.outside)


class TrackSession(Protocol):
    """Per-video box or point tracking over one loaded model (or none); object ids are the caller's.

    `scores` is each object's confidence in [0, 1] on the frame `propagate` yielded last (set before
    each yield). `kinds` names what the session can track ('box', 'points').
    """

    kinds: frozenset[str]
    scores: dict[int, float]

    def add_box(self, frame: int, obj_id: int, xyxy: np.ndarray) -> TrackSample:
        """Set one object's box on one frame (a keyframe); returns the sample kept there."""
        ...

    def add_points(self, frame: int, obj_id: int, points: np.ndarray) -> TrackSample:
        """Set one object's Nx2 points on one frame (a keyframe; N fixed per object); returns the sample."""
        ...

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and all its keyframes."""
        ...

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, TrackSample]]]:
        """Stream (frame, {obj_id: TrackSample}) from `start` (included once), stopping soon after `cancel` is set."""
        ...

    def close(self) -> None:
        """Release what the session holds."""
        ...


@runtime_checkable
class MaskSource(Protocol):
    """Where a point tracker finds an object's mask on a frame (a mask track), for its visibility gate."""

    def __call__(self, frame: int, obj_id: int) -> np.ndarray | None:
        """The object's HxW bool mask on `frame`, or None where it has none."""
        ...


def box_of_mask(mask: np.ndarray) -> np.ndarray | None:
    """The tight box of a HxW bool mask as 4 float32 xyxy (pixel edges: x1 = last column + 1), None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)


def open_track_session(
    kind: str,
    frames: FrameSource,
    engine: object | None = None,
    mask_source: MaskSource | None = None,
) -> TrackSession:
    """A track session for `kind` ('box' or 'points') over `frames`.

    Boxes: with a non-classic engine that opens video sessions (SAM 2.1, SAM 3 tracker), the box of
    its mask track; otherwise the classic LK box tracker (no weights). Points: the classic point
    tracker, gated by `mask_source` (the object's mask track) when given.
    """
    from model.errors import EngineError

    if kind == "box":
        if (
            engine is not None
            and getattr(engine, "name", "") != "classic"
            and callable(getattr(engine, "open_video", None))
        ):
            from model.tracking_mask import MaskBoxSession

            return MaskBoxSession(engine.open_video(frames))  # type: ignore[attr-defined]
        from model.classic.box_track import ClassicBoxSession

        return ClassicBoxSession(frames)
    if kind == "points":
        from model.classic.point_track import ClassicPointSession

        return ClassicPointSession(frames, mask_source=mask_source)
    raise EngineError(f"unknown track kind '{kind}' (expected 'box' or 'points')")
