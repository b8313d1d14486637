"""SAM 3 concepts through a video: detect on a frame, track every instance, re-detect to add newcomers.

The detector (`Sam3ConceptEngine.find`) runs on the start frame and then every `every` frames;
each instance becomes an ordinary object of the engine's streaming video session (prompted with
its mask), so it is tracked forward and/or backward with bounded memory and clicks can correct it
afterwards through `session`. A detection on a later frame whose mask overlaps no tracked mask by
more than `match_iou` (and scores at least `new_score`) is a new object from that frame on.
Exemplar boxes describe the frame they were drawn on (SAM 3 pools that image's features under
them), so on later keyframes the exemplars are the boxes of the objects tracked there instead.
Unlike transformers' Sam3VideoModel this accepts exemplar boxes, runs the detector only on
keyframes and has no hot-start delay.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from model.protocol import Concept, Direction, FrameSource, Prompt

if TYPE_CHECKING:
    from model.sam.concepts import Sam3ConceptEngine

log = logging.getLogger(__name__)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two HxW bool masks (0 when both are empty)."""
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


class ConceptTracker:
    """Tracks every instance of a concept through a video (see the module docstring)."""

    def __init__(
        self,
        engine: Sam3ConceptEngine,
        frames: FrameSource,
        every: int = 10,
        match_iou: float = 0.3,
        new_score: float = 0.5,
        first_id: int = 1,
    ) -> None:
        self.engine = engine
        self.frames = frames
        self.every = max(1, every)
        self.match_iou = match_iou
        self.new_score = new_score
        self.session = engine.open_video(frames)
        self.next_id = first_id
        self.found_on: dict[int, int] = {}  # object id -> the frame its detection was added on
        self.labels: dict[int, str | None] = {}
        self.scores: dict[int, float] = {}  # object id -> the detector's score of the detection that added it

    def _detect(self, frame: int, concept: Concept, tracked: dict[int, np.ndarray], min_score: float) -> list[int]:
        """Add the frame's detections that match no tracked mask; returns the new ids (masks put in `tracked`)."""
        embedding = self.engine.embed(self.frames[frame])
        added = []
        for instance in self.engine.find(embedding, concept):
            if instance.score < min_score:
                continue
            if any(mask_iou(instance.mask, mask) > self.match_iou for mask in tracked.values()):
                continue
            obj_id = self.next_id
            self.next_id += 1
            tracked[obj_id] = self.session.add_prompt(frame, obj_id, Prompt(mask=instance.mask))
            self.found_on[obj_id] = frame
            self.labels[obj_id] = instance.label
            self.scores[obj_id] = float(instance.score)
            added.append(obj_id)
        if added:
            log.info("concept %r: %d new object(s) on frame %d", concept.text, len(added), frame)
        return added

    def track(
        self, start: int, concept: Concept, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """Stream (frame, {object id: HxW bool mask}) from `start`; nothing when the concept is not on `start`."""
        first: dict[int, np.ndarray] = {}
        self._detect(start, concept, first, concept.min_score)
        if not first:
            return
        for frame, masks in self.session.propagate(start, direction, cancel):
            if frame != start and abs(frame - start) % self.every == 0:
                if cancel is not None and cancel.is_set():
                    return
                self._detect(frame, keyframe_concept(concept, masks), masks, self.new_score)
            yield frame, masks

    def close(self) -> None:
        """Release the video session."""
        self.session.close()


def keyframe_concept(concept: Concept, tracked: dict[int, np.ndarray]) -> Concept:
    """The concept to detect on a later keyframe: its phrase, and when it was given by exemplars, the
    boxes of the objects tracked on that frame as positive exemplars."""
    if not len(concept.boxes):
        return concept
    from model.masks import mask_box

    boxes = [mask_box(mask) for mask in tracked.values() if mask.any()]
    if not boxes:  # nothing tracked there: the original exemplars are all there is
        return concept
    return Concept(concept.text, np.stack(boxes), np.ones(len(boxes), np.int32), concept.min_score)
