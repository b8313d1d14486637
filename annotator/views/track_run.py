"""TrackRunController: runs a box or point tracking run on the engine thread and writes its samples.

Rules a user can rely on:
- a run starts from the object's box or points on the current frame and goes forward, backward or
  both ways, each way up to the object's nearest keyframe (a correction re-tracks between keyframes);
- the tracker is given every keyframe of the object, and keyframes are never overwritten;
- points of an object that also has masks are occluded where they fall outside its mask;
- samples appear frame by frame while the run goes, each saved at once, and the whole run (or what
  was done of it before Cancel) is one undo step;
- boxes can instead be interpolated linearly between keyframes (as CVAT does), with no engine; that
  is also what happens when the tracker cannot run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from annotator.bridge import EngineBridge
from annotator.document import Project
from annotator.document.track_commands import ApplyTrackRun
from annotator.document.tracks import TrackSample, interpolated_track, keyframe_limits
from annotator.errors import AnnotatorError
from model.protocol import Direction, FrameSource
from model.tracking import open_track_session

log = logging.getLogger(__name__)


@dataclass
class _Run:
    job_id: int
    start: int
    direction: Direction
    limits: dict[int, tuple[int, int]]  # object id -> (lowest, highest) frame it may write
    kinds: dict[int, str] = field(default_factory=dict)
    done: int = 0
    low: int = 0
    high: int = 0


def _anchors(project: Project, object_ids: list[int], start: int) -> dict[int, list[tuple[int, TrackSample]]]:
    """Object id -> the samples a session is given: every keyframe, plus the start frame's sample."""
    anchors = {}
    for object_id in object_ids:
        track = project.track(object_id)
        here = track.get(start)
        if here is None or project.object(object_id).locked:
            continue
        keys = [(f, s) for f, s in track.items() if s.keyframe and f != start]
        anchors[object_id] = sorted([*keys, (start, here)])
    return anchors


def mask_gate(project: Project, object_ids: list[int], low: int, high: int) -> dict[tuple[int, int], Any] | None:
    """(frame, object id) -> the object's stored mask on frames low..high, for the point tracker's
    visibility gate; read here on the main thread (the engine thread must not read the document), and
    decoded there. None when no object has a mask in that span."""
    masks = {}
    for object_id in object_ids:
        for frame in project.mask_frames(object_id):
            if low <= frame <= high:
                mask = project.mask(object_id, frame)
                if mask is not None:
                    masks[(frame, object_id)] = mask
    return masks or None


def interpolate_objects(project: Project, object_ids: list[int]) -> int:
    """Fill the frames between each object's keyframes by linear interpolation (one undo step); returns
    how many samples were written."""
    samples = []
    for object_id in object_ids:
        if project.object(object_id).locked:
            continue
        for frame, sample in interpolated_track(project.track(object_id)).items():
            samples.append((object_id, frame, sample))
    if not samples:
        return 0
    return int(project.execute(ApplyTrackRun(tuple(samples), "Interpolate between keyframes")))


class TrackRunController(QObject):
    """Starts, follows and cancels one tracking run at a time."""

    progressed = Signal(int, int)  # lowest, highest frame written so far
    finished = Signal(bool, int)  # cancelled, frames written
    message = Signal(str)

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.project: Project | None = None
        self.run: _Run | None = None
        self.failed = False
        bridge.job_yielded.connect(self._on_yielded)
        bridge.job_finished.connect(self._on_finished)
        bridge.errored.connect(self._on_errored)

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        return self.run is not None

    def start(
        self,
        project: Project,
        frames: FrameSource,
        start: int,
        object_ids: list[int],
        direction: Direction,
        own_group: bool = True,
    ) -> bool:
        """Track the objects' samples on frame `start`; False (with a message) when there is nothing to do.

        With own_group False the caller has begun a group (a correction and its re-track are one undo
        step); the run ends it when it finishes, and the caller ends it when this returns False.
        """
        if self.run is not None or (own_group and project.in_group):
            self.message.emit("a tracking or propagation run is already going")
            return False
        anchors = _anchors(project, object_ids, start)
        if not anchors:
            self.message.emit(f"no unlocked object has a box or points on frame {start} to track from")
            return False
        count = len(frames)
        limits = {oid: keyframe_limits(project.track(oid), start, count) for oid in anchors}
        kinds = {oid: samples[0][1].kind for oid, samples in anchors.items()}
        plan = {
            oid: [(f, s.kind, np.asarray(s.geometry, np.float32)) for f, s in samples]
            for oid, samples in anchors.items()
        }
        ways: list[Direction] = ["forward", "backward"] if direction == "both" else [direction]
        pointed = [oid for oid, kind in kinds.items() if kind == "points"]
        span = (min(limits[o][0] for o in pointed), max(limits[o][1] for o in pointed)) if pointed else (0, -1)
        masks = mask_gate(project, pointed, *span)

        def gate(frame: int, obj_id: int) -> np.ndarray | None:
            mask = masks.get((frame, obj_id)) if masks else None
            return None if mask is None else mask.to_array()

        def make(engine: Any, cancel: threading.Event) -> Iterator[Any]:
            for kind in sorted(set(kinds.values())):
                ids = [oid for oid, k in kinds.items() if k == kind]
                source = gate if kind == "points" and masks else None
                session = open_track_session(kind, frames, engine, mask_source=source)
                try:
                    for oid in ids:
                        for frame, _, geometry in plan[oid]:
                            if kind == "box":
                                session.add_box(frame, oid, geometry)
                            else:
                                session.add_points(frame, oid, geometry.reshape(-1, 2))
                    for way in ways:
                        if start == (count - 1 if way == "forward" else 0):
                            continue
                        for frame, samples in session.propagate(start, way, cancel):
                            yield frame, {oid: s for oid, s in samples.items() if oid in ids}
                            if all(
                                (frame >= limits[oid][1]) if way == "forward" else (frame <= limits[oid][0])
                                for oid in ids
                            ):
                                break
                finally:
                    session.close()

        self.project = project
        self.failed = False
        if own_group:
            project.begin_group(f"Track {direction}")
        job_id = self.bridge.run_job(make)
        self.run = _Run(job_id, start, direction, limits, kinds, low=start, high=start)
        self.progressed.emit(start, start)
        return True

    def cancel(self) -> None:
        """Stop after the frame being computed; samples already written stay (one undo step)."""
        if self.run is not None:
            self.bridge.cancel(self.run.job_id)

    def _on_yielded(self, job_id: int, value: Any) -> None:
        run = self.run
        if run is None or job_id != run.job_id or self.project is None:
            return
        frame, samples = value
        if frame == run.start:
            return
        batch = []
        for object_id, sample in samples.items():
            low, high = run.limits.get(object_id, (1, 0))
            if low <= frame <= high:
                batch.append((object_id, frame, TrackSample.from_engine(sample, "tracker")))
        if not batch:
            return
        try:
            if self.project.execute(ApplyTrackRun(tuple(batch))):
                run.done += 1
                run.low, run.high = min(run.low, frame), max(run.high, frame)
                self.progressed.emit(run.low, run.high)
        except AnnotatorError as error:
            self.message.emit(str(error))

    def _on_finished(self, job_id: int, cancelled: bool) -> None:
        run = self.run
        if run is None or job_id != run.job_id:
            return
        if self.failed and self.project is not None:  # the tracker could not run: interpolate boxes instead
            boxes = [oid for oid, kind in run.kinds.items() if kind == "box"]
            try:
                run.done += interpolate_objects(self.project, boxes)
            except AnnotatorError as error:
                self.message.emit(str(error))
        self._close()
        self.finished.emit(cancelled, run.done)

    def _on_errored(self, request_id: int, kind: str, text: str) -> None:
        if self.run is not None and request_id == self.run.job_id:
            self.failed = True
            self.message.emit(f"tracking failed: {text}; boxes are interpolated between keyframes instead")

    def _close(self) -> None:
        if self.project is not None and self.project.in_group:
            self.project.end_group()
        self.run = None
