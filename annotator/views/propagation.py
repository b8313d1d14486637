"""PropagationController: runs a video propagation on the engine thread and writes its results.

Rules a user can rely on:
- frames appear one by one while the run goes, each saved at once;
- the whole run (or what was done before Cancel) is one undo step;
- a run from frame f overwrites only propagated frames, up to the next frame the user prompted
  or edited (a keyframe), and never a keyframe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from annotator.bridge import EngineBridge
from annotator.document import Mask, Project, SetMask
from annotator.errors import AnnotatorError
from model.protocol import Direction, Engine, FrameSource, Prompt

log = logging.getLogger(__name__)


@dataclass
class _Run:
    job_id: int
    item_id: int
    start: int
    direction: Direction
    limits: dict[int, tuple[int, int]]  # object id -> (lowest, highest) frame it may overwrite
    done: int = 0
    low: int = 0
    high: int = 0


def propagation_limits(project: Project, object_id: int, start: int, frame_count: int) -> tuple[int, int]:
    """Frames an object's run from `start` may write: strictly between its neighbouring keyframes."""
    sources = project.frame_sources(object_id)
    keyframes = [f for f, source in sources.items() if source == "user" and f != start]
    before = [f for f in keyframes if f < start]
    after = [f for f in keyframes if f > start]
    return (max(before) + 1 if before else 0, min(after) - 1 if after else frame_count - 1)


class PropagationController(QObject):
    """Starts, follows and cancels one propagation run at a time."""

    progressed = Signal(int, int)  # lowest, highest frame written so far
    finished = Signal(bool, int)  # cancelled, frames written
    message = Signal(str)

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.project: Project | None = None
        self.run: _Run | None = None
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
        item_id: int,
        frames: FrameSource,
        start: int,
        object_ids: list[int],
        direction: Direction,
    ) -> bool:
        """Propagate the objects' masks on frame `start`; False (with a message) when there is nothing to do."""
        if self.run is not None:
            self.message.emit("a propagation is already running")
            return False
        prompts: dict[int, np.ndarray] = {}
        limits: dict[int, tuple[int, int]] = {}
        for object_id in object_ids:
            obj = project.object(object_id)
            mask = project.mask(object_id, start)
            if obj.locked or mask is None or mask.is_empty:
                continue
            prompts[object_id] = mask.to_array()
            limits[object_id] = propagation_limits(project, object_id, start, len(frames))
        if not prompts:
            self.message.emit(f"no unlocked object has a mask on frame {start} to propagate from")
            return False

        def make(engine: Engine, cancel: threading.Event) -> Iterator[Any]:
            session = engine.open_video(frames)
            try:
                for object_id, mask in prompts.items():
                    session.add_prompt(start, object_id, Prompt(mask=mask))
                for frame, masks in session.propagate(start, direction, cancel):
                    # Each object's confidence on this frame (engines without it: none given).
                    yield frame, masks, dict(getattr(session, "scores", {}))
            finally:
                session.close()

        self.project = project
        project.begin_group(f"Propagate {direction}")
        job_id = self.bridge.run_job(make)
        self.run = _Run(job_id, item_id, start, direction, limits, low=start, high=start)
        self.progressed.emit(start, start)
        return True

    def cancel(self) -> None:
        """Stop after the frame being computed; frames already written stay (one undo step)."""
        if self.run is not None:
            self.bridge.cancel(self.run.job_id)

    def _on_yielded(self, job_id: int, value: Any) -> None:
        run = self.run
        if run is None or job_id != run.job_id or self.project is None:
            return
        frame, masks, scores = value
        if frame == run.start:
            return
        wrote = False
        for object_id, mask in masks.items():
            low, high = run.limits.get(object_id, (1, 0))
            if not low <= frame <= high:
                continue
            try:
                score = scores.get(object_id)
                self.project.execute(SetMask(object_id, frame, Mask.from_array(mask), "propagated", score=score))
                wrote = True
            except AnnotatorError as error:
                self.message.emit(str(error))
        if wrote:
            run.done += 1
            run.low, run.high = min(run.low, frame), max(run.high, frame)
            self.progressed.emit(run.low, run.high)
        if self._past_every_limit(run, frame):
            self.bridge.cancel(run.job_id)

    @staticmethod
    def _past_every_limit(run: _Run, frame: int) -> bool:
        if run.direction == "forward":
            return all(frame >= high for _, high in run.limits.values())
        if run.direction == "backward":
            return all(frame <= low for low, _ in run.limits.values())
        return False

    def _on_finished(self, job_id: int, cancelled: bool) -> None:
        run = self.run
        if run is None or job_id != run.job_id:
            return
        self._close()
        self.finished.emit(cancelled, run.done)

    def _on_errored(self, request_id: int, kind: str, text: str) -> None:
        if self.run is not None and request_id == self.run.job_id:
            self.message.emit(f"propagation failed: {text}")

    def _close(self) -> None:
        if self.project is not None and self.project.in_group:
            self.project.end_group()
        self.run = None
