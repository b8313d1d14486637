"""A box track over any mask VideoSession (classic, SAM 2.1, SAM 3 tracker): the box is the mask's box."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import numpy as np

from model.errors import EngineError
from model.protocol import PRESENT, Direction, Prompt, VideoSession
from model.tracking import TrackSample, box_of_mask

log = logging.getLogger(__name__)


class MaskBoxSession:
    """A TrackSession of boxes: each box keyframe prompts the mask session, and each tracked frame's
    box is the tight box of the object's mask there.

    The object is outside where its mask is absent or empty or its score is below PRESENT; an
    outside sample keeps the last box seen. On a keyframe the sample is the user's box, unchanged.
    `masks` holds the masks of the frame yielded last (a point track can use them as its gate).
    """

    kinds = frozenset({"box"})

    def __init__(self, video: VideoSession) -> None:
        self.video = video
        self.scores: dict[int, float] = {}
        self.masks: dict[int, np.ndarray] = {}
        self._keyframes: dict[int, dict[int, np.ndarray]] = {}  # obj_id -> frame -> xyxy

    def add_box(self, frame: int, obj_id: int, xyxy: np.ndarray) -> TrackSample:
        """Prompt the mask session with the box on `frame` (a keyframe); returns the box sample."""
        box = np.asarray(xyxy, np.float32).reshape(4)
        if not (box[2] > box[0] and box[3] > box[1]):
            raise EngineError(f"box {box.tolist()} is empty: x1 must exceed x0 and y1 exceed y0")
        self.video.add_prompt(frame, obj_id, Prompt(box=box))
        self._keyframes.setdefault(obj_id, {})[frame] = box
        return TrackSample.of_box(box)

    def add_points(self, frame: int, obj_id: int, points: np.ndarray) -> TrackSample:
        """Not offered: a mask session tracks boxes here (use a point tracker for points)."""
        raise EngineError("a box track over a mask session follows boxes only; use the point tracker for points")

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and all its keyframes."""
        self._keyframes.pop(obj_id, None)
        self.video.remove_object(obj_id)

    def close(self) -> None:
        """Release the mask session."""
        self._keyframes.clear()
        self.video.close()

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, TrackSample]]]:
        """Stream (frame, {obj_id: box sample}) from the mask session's propagation."""
        last: dict[int, np.ndarray] = {}
        previous_frame: int | None = None
        for frame, masks in self.video.propagate(start, direction, cancel):
            if previous_frame is not None and abs(frame - previous_frame) != 1:
                last = {}  # a new run (the backward half of 'both') starts from its own keyframes
            previous_frame = frame
            video_scores = dict(getattr(self.video, "scores", {}) or {})
            samples, scores = {}, {}
            for obj_id, keyframes in self._keyframes.items():
                if frame in keyframes:
                    samples[obj_id] = TrackSample.of_box(keyframes[frame])
                    last[obj_id] = keyframes[frame]
                    scores[obj_id] = 1.0
                    continue
                mask = masks.get(obj_id)
                score = float(video_scores.get(obj_id, 1.0 if mask is not None else 0.0))
                box = box_of_mask(mask) if mask is not None else None
                if box is not None and score >= PRESENT:
                    samples[obj_id] = TrackSample.of_box(box, score=score)
                    last[obj_id] = box
                elif obj_id in last:
                    samples[obj_id] = TrackSample.of_box(last[obj_id], score=score, outside=True)
                scores[obj_id] = score
            self.masks = masks
            self.scores = scores
            yield frame, samples
