"""Plain values that the box/point track codecs read and write (no document types, no Qt).

A `TrackSet` is one video's tracks: its size, frame count and frame names, and a list of
`TrackData`, each an object's box or points track with a `TrackFrame` per frame that has one.
Conventions: frames 0-based; boxes 4 float (x0, y0, x1, y1) in pixels with pixel edges (a box over
columns 3..8 is x0 = 3, x1 = 9, as the mask boxes elsewhere in the project); points N x 2 (x, y) in
the same pixel coordinates. A frame is a keyframe when a person set it, or a tracker did (CVAT
interpolates only between keyframes, so tracker frames are keyframes too); `source` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

TrackKind = Literal["box", "points"]
SampleSource = Literal["user", "tracker", "interpolated"]
SOURCES: tuple[str, ...] = ("user", "tracker", "interpolated")


@dataclass(frozen=True, eq=False)
class TrackFrame:
    """One track's geometry on one frame.

    geometry: 4 float64 xyxy (box) or N x 2 float64 (points); occluded: 1 bool (box) or N bool
    (points); outside: the object is not in view (geometry is the last known one); keyframe: set by
    a person or a tracker (not interpolated); source: 'user', 'tracker' or 'interpolated'; score in [0, 1].
    """

    frame: int
    geometry: np.ndarray
    occluded: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    outside: bool = False
    keyframe: bool = True
    source: SampleSource = "user"
    score: float = 1.0

    def __post_init__(self) -> None:
        geometry = np.asarray(self.geometry, np.float64)
        geometry = geometry.reshape(4) if geometry.size == 4 and geometry.ndim == 1 else geometry.reshape(-1, 2)
        count = 1 if geometry.ndim == 1 else len(geometry)
        occluded = np.asarray(self.occluded, bool).reshape(-1)
        if occluded.size == 0:
            occluded = np.zeros(count, bool)
        if len(occluded) != count:
            raise ValueError(f"frame {self.frame}: {len(occluded)} occluded flags for {count} element(s)")
        if self.source not in SOURCES:
            raise ValueError(f"frame {self.frame}: unknown sample source '{self.source}' (expected {SOURCES})")
        geometry.setflags(write=False)
        occluded.setflags(write=False)
        object.__setattr__(self, "geometry", geometry)
        object.__setattr__(self, "occluded", occluded)
        object.__setattr__(self, "frame", int(self.frame))

    @property
    def is_box(self) -> bool:
        """Whether the geometry is a box (else points)."""
        return self.geometry.ndim == 1

    @property
    def box(self) -> np.ndarray:
        """4 float64 xyxy: the box, or the bounding box of the points (those not occluded, if any)."""
        if self.is_box:
            return self.geometry
        shown = self.geometry[~self.occluded] if (~self.occluded).any() else self.geometry
        return np.concatenate([shown.min(axis=0), shown.max(axis=0)])


@dataclass
class TrackData:
    """One object's box or points track: id (positive, unique in its set), label, kind, frames by index."""

    track_id: int
    label: str | None
    kind: TrackKind
    frames: dict[int, TrackFrame] = field(default_factory=dict)
    name: str = ""

    def add(self, sample: TrackFrame) -> None:
        """Add or replace one frame's sample (its geometry must fit the track's kind and point count)."""
        if (self.kind == "box") != sample.is_box:
            raise ValueError(f"track {self.track_id} is a {self.kind} track; frame {sample.frame} does not fit it")
        if self.kind == "points" and self.frames:
            count = len(next(iter(self.frames.values())).geometry)
            if len(sample.geometry) != count:
                raise ValueError(
                    f"track {self.track_id} has {count} points; frame {sample.frame} has {len(sample.geometry)}"
                )
        self.frames[sample.frame] = sample
        self.frames = dict(sorted(self.frames.items()))

    @property
    def point_count(self) -> int:
        """Points per frame (1 for a box track, 0 when empty)."""
        if not self.frames:
            return 0
        first = next(iter(self.frames.values()))
        return 1 if first.is_box else len(first.geometry)

    def shown(self) -> list[TrackFrame]:
        """The frames where the object is in view, in frame order."""
        return [f for f in self.frames.values() if not f.outside]


@dataclass
class TrackSet:
    """One video's box and point tracks: sequence name, size (pixels), frame count, fps, frame file names."""

    name: str
    width: int
    height: int
    frame_count: int
    fps: float = 25.0
    frame_names: list[str] = field(default_factory=list)
    tracks: list[TrackData] = field(default_factory=list)

    def frame_name(self, frame: int) -> str:
        """The file name of one frame (its own, else a 6-digit 1-based name as in MOTChallenge's img1/)."""
        if 0 <= frame < len(self.frame_names):
            return self.frame_names[frame]
        return f"{frame + 1:06d}.jpg"

    def labels(self) -> list[str]:
        """The track labels in first-seen order (unlabelled tracks left out)."""
        return list(dict.fromkeys(t.label for t in self.tracks if t.label))

    def check(self) -> None:
        """Raise ValueError when two tracks share an id, an id is not positive, or a frame is out of range."""
        seen: set[int] = set()
        for track in self.tracks:
            if track.track_id < 1 or track.track_id in seen:
                raise ValueError(f"track ids must be positive and unique; {track.track_id} is not")
            seen.add(track.track_id)
            for frame in track.frames:
                if not 0 <= frame < self.frame_count:
                    raise ValueError(f"track {track.track_id} has frame {frame}, outside 0..{self.frame_count - 1}")
