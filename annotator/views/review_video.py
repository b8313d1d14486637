"""Find through the video: the phrase(s) and/or exemplar boxes of the Find panel are detected on the
frame on screen and every instance is tracked through the whole video, both ways, by the engine's
concept tracker (`engine.track_concept`, model/sam/concept_video.py); the detector runs again every
EVERY frames and adds instances that appear later.

Rules a user can rely on (those of Find, plus):
- the run is one bridge job with per-frame progress; Cancel stops it and adds nothing;
- each tracked instance comes back as a GROUP of proposals, one per frame where its mask is not
  empty; accepting any of them makes one object with all those masks (see AcceptProposals);
- a proposal's score is the detection's score times the tracker's confidence on that frame, so the
  threshold hides the frames where the tracker doubts the instance is still there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from annotator.document import Found, Mask
from annotator.io.video import CachedFrames
from annotator.views.review import Asked, Exemplar, find_settings, what_found
from model.protocol import Engine, Progress

if TYPE_CHECKING:
    from annotator.views.review import ReviewController

EVERY = 10  # frames between two runs of the detector that look for instances appearing later
NEW_SCORE = 0.5  # a later detection becomes a new instance from this score (or the threshold, if higher)


def why_not_video(review: ReviewController) -> str:
    """'' when Find can run through the video on screen, else why not, for the person."""
    reason = review.why_not("find")
    if reason:
        return reason
    engine, session = review.window.bridge.engine, review.window.session
    if not callable(getattr(engine, "track_concept", None)):
        return f"{getattr(engine, 'name', 'this engine')} finds concepts on one image only, not through a video"
    if session.item is None or session.item.kind != "video" or session.frames is None:
        return "finding through the video needs a video on screen"
    return ""


def run_find_video(review: ReviewController, phrases: list[tuple[str, int | None]], exemplars: list[Exemplar]) -> bool:
    """Track every instance of each (phrase, label id), or of the exemplar boxes, from the frame on
    screen through the whole video, as groups of proposals; False (with a message) when it cannot start."""
    inputs = review.find_inputs(why_not_video(review), phrases, exemplars)
    if inputs is None:
        return False
    concepts, target = inputs
    session = review.window.session
    assert session.frames is not None  # checked by why_not_video
    path, start = session.frames.path, target[1]
    floor = min(c.min_score for c, _, _ in concepts)
    new_score = max(NEW_SCORE, floor)
    make = tracking_job(path, start, concepts, new_score, review.progress_of_next_run())
    settings = {**find_settings(concepts, exemplars), "start": start, "every": EVERY, "new_score": new_score}
    what = f"find {what_found(concepts)} through the video"
    return review.start_run(make, target, "find-video", json.dumps(settings), what)


def tracking_job(path: Any, start: int, concepts: list[Asked], new_score: float, progress: Progress) -> Any:
    """The bridge job: open the video (its own reader: the person may scrub or change items meanwhile),
    track each concept from `start` both ways, and yield every non-empty mask as a Found once, at the
    end (nothing when cancelled). Group keys are unique across the concepts of the run."""

    def make(engine: Engine, cancel: threading.Event) -> Iterator[list[Found]]:
        frames = CachedFrames(path)
        try:
            found: list[Found] = []
            count, first_key = len(frames), 0
            for index, (concept, text, label_id) in enumerate(concepts):
                tracker = engine.track_concept(frames, every=EVERY, new_score=new_score)  # type: ignore[attr-defined]
                try:
                    for done, (frame, masks) in enumerate(tracker.track(start, concept, "both", cancel), 1):
                        found += _tracked(frame, masks, tracker, text, label_id, first_key)
                        progress(index * count + done, len(concepts) * count)
                finally:
                    tracker.close()
                if cancel.is_set():
                    return
                first_key += tracker.next_id  # the tracker's object ids start at 1
                progress((index + 1) * count, len(concepts) * count)  # also when the concept was not on `start`
            yield found
        finally:
            frames.close()

    return make


def _tracked(
    frame: int, masks: dict[int, Any], tracker: Any, text: str | None, label_id: int | None, first_key: int
) -> list[Found]:
    """One frame's tracked masks as Found (the empty ones, where an instance is gone, left out); made on
    the engine thread with their RLE, so that adding thousands of them is quick on the GUI thread."""
    confidence = getattr(tracker.session, "scores", {})
    out = []
    for obj_id, array in masks.items():
        mask = Mask.from_array(array)
        if mask.is_empty:
            continue
        mask.to_rle()  # computed once and kept by the mask: the store writes it
        score = tracker.scores.get(obj_id, 0.0) * confidence.get(obj_id, 1.0)
        out.append(Found(mask, min(1.0, max(0.0, score)), text, label_id, frame, first_key + obj_id))
    return out
