"""Box and point tracks of objects: per-frame samples, their change, storage and reading.

An object may have one track, of kind 'box' or 'points', beside its masks. A track is a sample per
frame it covers. A sample made by the user (source 'user') is a keyframe: tracking runs and
interpolation never overwrite it. Boxes are xyxy in image pixels, points (x, y) in image pixels,
frames 0-based. Samples are small (a few floats), so an object's whole track loads at first use.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from annotator.document.events import ProjectEvents
    from annotator.document.store import ProjectStore

TrackKind = Literal["box", "points"]
SampleSource = Literal["user", "tracker", "interpolated"]
KINDS: tuple[str, ...] = ("box", "points")
SOURCES: tuple[str, ...] = ("user", "tracker", "interpolated")

TRACK_SCHEMA = """
CREATE TABLE track_samples (
    object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE, frame INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('box', 'points')), geometry TEXT NOT NULL, occluded TEXT NOT NULL,
    outside INTEGER NOT NULL, source TEXT NOT NULL CHECK (source IN ('user', 'tracker', 'interpolated')),
    score REAL, PRIMARY KEY (object_id, frame)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class TrackSample:
    """One object's box or points on one frame, as the document keeps it.

    geometry: a box's 4 xyxy values, or N points flattened (x0, y0, x1, y1, ...); occluded: one flag
    for a box, N for points; outside: the object is out of view (geometry: the last one known, not
    drawn); source: 'user' (a keyframe), 'tracker' or 'interpolated'; score: a tracker's confidence.
    """

    kind: TrackKind
    geometry: tuple[float, ...]
    occluded: tuple[bool, ...] = ()
    outside: bool = False
    source: SampleSource = "user"
    score: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown track kind '{self.kind}' (expected 'box' or 'points')")
        if self.source not in SOURCES:
            raise ValueError(f"unknown sample source '{self.source}'")
        geometry = tuple(float(v) for v in self.geometry)
        if (self.kind == "box" and len(geometry) != 4) or len(geometry) % 2:
            raise ValueError(f"a {self.kind} sample got {len(geometry)} coordinates")
        count = 1 if self.kind == "box" else len(geometry) // 2
        occluded = tuple(bool(v) for v in self.occluded) or (False,) * count
        if len(occluded) != count:
            raise ValueError(f"a {self.kind} sample of {count} element(s) got {len(occluded)} occluded flags")
        object.__setattr__(self, "geometry", geometry)
        object.__setattr__(self, "occluded", occluded)
        object.__setattr__(self, "outside", bool(self.outside))
        object.__setattr__(self, "score", None if self.score is None else float(self.score))

    @classmethod
    def of_box(cls, xyxy: Iterable[float], source: SampleSource = "user", **fields: Any) -> TrackSample:
        """A box sample from xyxy (corners in any order are normalised)."""
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        return cls("box", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), source=source, **fields)

    @classmethod
    def of_points(cls, points: Iterable[Iterable[float]], source: SampleSource = "user", **fields: Any) -> TrackSample:
        """A points sample from N (x, y) pairs."""
        flat = tuple(float(v) for point in points for v in point)
        return cls("points", flat, source=source, **fields)

    @classmethod
    def from_engine(cls, sample: Any, source: SampleSource = "tracker") -> TrackSample:
        """The document form of a model.tracking.TrackSample (numpy arrays become tuples)."""
        geometry = np.asarray(sample.geometry, np.float64).reshape(-1)
        occluded = np.asarray(sample.occluded, bool).reshape(-1)
        score = float(sample.score)
        return cls(sample.kind, tuple(geometry.tolist()), tuple(occluded.tolist()), bool(sample.outside), source, score)

    @property
    def keyframe(self) -> bool:
        """True for a user-made sample (never overwritten by tracking)."""
        return self.source == "user"

    @property
    def count(self) -> int:
        """Number of points (1 for a box)."""
        return 1 if self.kind == "box" else len(self.geometry) // 2

    @property
    def points(self) -> np.ndarray:
        """Nx2 float64 (x, y): the points, or a box's two corners."""
        return np.asarray(self.geometry, np.float64).reshape(-1, 2)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """xyxy: the box, or the bounding box of the points not occluded (all when every one is)."""
        if self.kind == "box":
            return self.geometry  # type: ignore[return-value]
        points = self.points
        shown = points[~np.asarray(self.occluded)]
        points = shown if len(shown) else points
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        return (float(x0), float(y0), float(x1), float(y1))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (for files and diagnostics)."""
        return {
            "kind": self.kind,
            "geometry": list(self.geometry),
            "occluded": list(self.occluded),
            "outside": self.outside,
            "source": self.source,
            "score": self.score,
        }


@dataclass(frozen=True)
class TrackChange:
    """One object's sample on one frame changed (before/after None: no sample there)."""

    object_id: int
    frame: int
    before: TrackSample | None
    after: TrackSample | None

    def inverted(self) -> TrackChange:
        """The change that undoes this one."""
        return TrackChange(self.object_id, self.frame, self.after, self.before)


def interpolate(first: tuple[int, TrackSample], last: tuple[int, TrackSample]) -> dict[int, TrackSample]:
    """Linear interpolation strictly between two keyframes, as CVAT does (source 'interpolated').

    Frames after an outside keyframe stay outside until the next keyframe; points need the same count
    on both keyframes (otherwise nothing is interpolated); occlusion is the earlier keyframe's.
    """
    (f0, a), (f1, b) = first, last
    if f1 - f0 < 2 or a.kind != b.kind or a.count != b.count:
        return {}
    start, end = np.asarray(a.geometry), np.asarray(b.geometry)
    samples = {}
    for frame in range(f0 + 1, f1):
        t = (frame - f0) / (f1 - f0)
        geometry = start if a.outside else start + (end - start) * t
        samples[frame] = TrackSample(a.kind, tuple(geometry.tolist()), a.occluded, a.outside, "interpolated")
    return samples


def interpolated_track(track: dict[int, TrackSample], low: int = 0, high: int | None = None) -> dict[int, TrackSample]:
    """The interpolated samples between consecutive keyframes of `track`, on frames low..high."""
    keys = sorted((f, s) for f, s in track.items() if s.keyframe)
    samples: dict[int, TrackSample] = {}
    for first, last in pairwise(keys):
        for frame, sample in interpolate(first, last).items():
            if frame >= low and (high is None or frame <= high):
                samples[frame] = sample
    return samples


def track_states(track: dict[int, TrackSample], low_below: float = 0.7) -> dict[int, str]:
    """Frame -> what the timeline shows of a track: 'user' (keyframe), 'propagated' (tracked or
    interpolated), 'low' (tracked with a score below `low_below`), 'occluded' (every point or the box
    hidden) or 'absent' (outside the view)."""
    states = {}
    for frame, sample in track.items():
        if sample.outside:
            states[frame] = "absent"
        elif sample.keyframe:
            states[frame] = "user"
        elif all(sample.occluded):
            states[frame] = "occluded"
        elif sample.score is not None and sample.score < low_below:
            states[frame] = "low"
        else:
            states[frame] = "propagated"
    return states


def keyframe_limits(track: dict[int, TrackSample], frame: int, frame_count: int) -> tuple[int, int]:
    """Frames a tracking run from `frame` may write: strictly between the neighbouring keyframes."""
    keys = [f for f, s in track.items() if s.keyframe and f != frame]
    before = [f for f in keys if f < frame]
    after = [f for f in keys if f > frame]
    return (max(before) + 1 if before else 0, min(after) - 1 if after else frame_count - 1)


class TrackTable:
    """The track_samples table of a project file (writes happen inside the store's transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def load(self, object_id: int) -> dict[int, TrackSample]:
        """Frame -> sample of one object's track (empty when it has none)."""
        rows = self._conn.execute(
            "SELECT frame, kind, geometry, occluded, outside, source, score FROM track_samples WHERE object_id = ?",
            (object_id,),
        )
        return {
            int(frame): TrackSample(kind, tuple(json.loads(geo)), tuple(json.loads(occ)), bool(out), source, score)
            for frame, kind, geo, occ, out, source, score in rows
        }

    def write(self, object_id: int, frame: int, sample: TrackSample) -> None:
        """Insert or replace one sample."""
        self._conn.execute(
            "INSERT OR REPLACE INTO track_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                object_id,
                frame,
                sample.kind,
                json.dumps(list(sample.geometry)),
                json.dumps(list(sample.occluded)),
                int(sample.outside),
                sample.source,
                sample.score,
            ),
        )

    def delete(self, object_id: int, frame: int) -> None:
        """Delete one sample."""
        self._conn.execute("DELETE FROM track_samples WHERE object_id = ? AND frame = ?", (object_id, frame))


def add_track_table(conn: sqlite3.Connection) -> None:
    """Schema 6: the track_samples table (box and point tracks)."""
    for statement in TRACK_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


class TrackReads:
    """The Project's track memory and reading API (a mixin: Project provides store, events and objects)."""

    store: ProjectStore | None
    events: ProjectEvents
    _pending: list[Any]
    objects: Callable[[int], list[Any]]
    _writer: Callable[[], ProjectStore | None]

    @property
    def _track_memory(self) -> dict[int, dict[int, TrackSample]]:
        memory = self.__dict__.get("_tracks")
        if memory is None:
            memory = self.__dict__["_tracks"] = {}
        return memory

    def track(self, object_id: int) -> dict[int, TrackSample]:
        """Frame -> sample of an object's track, in frame order (empty: no track; do not mutate)."""
        memory = self._track_memory
        if object_id not in memory:
            loaded = self.store.tracks.load(object_id) if self.store is not None else {}
            memory[object_id] = dict(sorted(loaded.items()))
        return memory[object_id]

    def track_kind(self, object_id: int) -> TrackKind | None:
        """'box' or 'points' when the object has a track, else None."""
        track = self.track(object_id)
        return next(iter(track.values())).kind if track else None

    def track_sample(self, object_id: int, frame: int) -> TrackSample | None:
        """The object's sample on a frame, or None."""
        return self.track(object_id).get(frame)

    def track_keyframes(self, object_id: int) -> list[int]:
        """Frames of the object's user-made samples, sorted."""
        return [frame for frame, sample in self.track(object_id).items() if sample.keyframe]

    def track_samples(self, item_id: int, frame: int) -> dict[int, TrackSample]:
        """Object id -> sample of every object of the item that has one on this frame."""
        samples = {}
        for obj in self.objects(item_id):
            sample = self.track(obj.id).get(frame)
            if sample is not None:
                samples[obj.id] = sample
        return samples

    def _apply_track(self, change: TrackChange) -> None:
        track = self.track(change.object_id)
        key = (change.object_id, change.frame)
        after = change.after
        if after is None:
            track.pop(change.frame, None)
        else:
            misplaced = change.frame not in track and bool(track) and next(reversed(track)) > change.frame
            track[change.frame] = after
            if misplaced:  # keep frame order (a run backward inserts before the first frame)
                ordered = sorted(track.items())
                track.clear()
                track.update(ordered)
        store = self._writer()
        if store is not None:
            if after is None:
                self._pending.append(lambda: store.tracks.delete(*key))
            else:
                self._pending.append(lambda: store.tracks.write(key[0], key[1], after))
        self.events.track_changed.emit(change.object_id, change.frame)


def with_source(sample: TrackSample, source: SampleSource, score: float | None = None) -> TrackSample:
    """The same geometry with another source (and score)."""
    return replace(sample, source=source, score=score)
