"""SAM 3 concepts through a video: detections on keyframes become tracked objects of the real
streaming session (tiny random SAM 3 checkpoint), newcomers are added on later keyframes."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_sam import tiny_sam3_concepts

from model import registry
from model.protocol import Concept, Instance
from model.sam.concept_video import mask_iou

torch = pytest.importorskip("torch")

SIZE = (64, 80)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    folder = tiny_sam3_concepts(tmp_path_factory.mktemp("sam3"))
    return registry.create("sam3-tracker", weights=str(folder), device="cpu")


def frames(count: int) -> list[np.ndarray]:
    """Frames whose top-left pixel holds the frame index (what the stand-in detector reads)."""
    rng = np.random.default_rng(0)
    out = []
    for index in range(count):
        frame = rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8)
        frame[0, 0] = index
        out.append(frame)
    return out


def region(x0: int, y0: int, x1: int, y1: int) -> Instance:
    mask = np.zeros(SIZE, bool)
    mask[y0:y1, x0:x1] = True
    return Instance(mask, np.array([x0, y0, x1, y1], np.float32), 0.9, "thing")


def test_detections_become_objects_and_late_ones_are_added(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # The detector's answers are fixed per frame (random weights find nothing meaningful); the
    # tracking, association and adding are the real ones.
    answers = {0: [region(5, 5, 30, 30)], 4: [region(50, 30, 75, 60)], 8: []}
    monkeypatch.setattr(engine, "embed", lambda image: int(image[0, 0, 0]))
    monkeypatch.setattr(engine, "find", lambda embedding, concept: answers.get(embedding, []))
    tracker = engine.track_concept(frames(10), every=4)
    seen = list(tracker.track(0, Concept("thing")))
    assert [frame for frame, _ in seen] == list(range(10))
    assert tracker.found_on == {1: 0, 2: 4} and tracker.labels == {1: "thing", 2: "thing"}
    assert tracker.scores == {1: 0.9, 2: 0.9}  # the detections' scores
    for frame, masks in seen:
        assert set(masks) == ({1, 2} if frame >= 4 else {1})
        assert all(m.shape == SIZE and m.dtype == bool for m in masks.values())
    # A tracked object is an ordinary one: a click corrects it.
    from model.protocol import Prompt

    corrected = tracker.session.add_prompt(6, 2, Prompt.from_clicks([(60, 40, True)]))
    assert corrected.shape == SIZE
    tracker.close()


def test_a_detection_on_a_tracked_object_adds_nothing(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    tracker = engine.track_concept(frames(6), every=2)
    tracked: dict[int, np.ndarray] = {}

    def answer(embedding, concept):  # type: ignore[no-untyped-def]
        # From frame 2 on, the detector returns exactly what is being tracked (plus nothing new).
        return [Instance(m, np.zeros(4, np.float32), 0.9, "thing") for m in tracked.values()] or [region(5, 5, 30, 30)]

    monkeypatch.setattr(engine, "embed", lambda image: int(image[0, 0, 0]))
    monkeypatch.setattr(engine, "find", answer)
    for _, masks in tracker.track(0, Concept("thing")):
        tracked.clear()
        tracked.update({k: v for k, v in masks.items() if v.any()})
    assert list(tracker.found_on) == [1]
    tracker.close()


def test_nothing_found_on_the_start_frame_yields_nothing(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(engine, "find", lambda embedding, concept: [])
    tracker = engine.track_concept(frames(3))
    assert list(tracker.track(0, Concept("thing"))) == []


def test_the_real_detector_runs_through_a_clip(engine) -> None:  # type: ignore[no-untyped-def]
    tracker = engine.track_concept(frames(3), every=2, new_score=2.0)  # newcomers impossible: only frame 0 adds
    concept = Concept("thing", min_score=0.0)
    seen = list(tracker.track(0, concept, direction="forward"))
    assert [f for f, _ in seen] == [0, 1, 2]
    assert len(tracker.found_on) >= 1 and set(tracker.found_on.values()) == {0}
    assert mask_iou(np.ones(SIZE, bool), np.ones(SIZE, bool)) == 1.0
    tracker.close()


def test_exemplars_on_later_keyframes_are_the_tracked_objects(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    asked: dict[int, Concept] = {}

    def answer(embedding, concept):  # type: ignore[no-untyped-def]
        asked[embedding] = concept
        return [region(5, 5, 30, 30)] if embedding == 0 else []

    monkeypatch.setattr(engine, "embed", lambda image: int(image[0, 0, 0]))
    monkeypatch.setattr(engine, "find", answer)
    tracker = engine.track_concept(frames(5), every=2)
    drawn = Concept(None, boxes=[[5, 5, 30, 30]], box_labels=[1])
    seen = dict(tracker.track(0, drawn))
    assert asked[0] is drawn and sorted(asked) == [0, 2, 4]
    for frame in (2, 4):
        tracked = seen[frame][1]
        if tracked.any():
            ys, xs = np.nonzero(tracked)
            assert asked[frame].boxes.tolist() == [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]
            assert asked[frame].box_labels.tolist() == [1]
        else:
            assert asked[frame] is drawn
    tracker.close()


def test_both_directions_from_a_middle_frame(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    answers = {4: [region(5, 5, 30, 30)], 1: [region(50, 30, 75, 60)]}
    asked: list[int] = []

    def answer(embedding, concept):  # type: ignore[no-untyped-def]
        asked.append(embedding)
        return answers.get(embedding, [])

    monkeypatch.setattr(engine, "embed", lambda image: int(image[0, 0, 0]))
    monkeypatch.setattr(engine, "find", answer)
    tracker = engine.track_concept(frames(7), every=3)
    seen = list(tracker.track(4, Concept("thing"), direction="both"))
    assert [f for f, _ in seen] == [4, 5, 6, 3, 2, 1, 0]
    assert asked == [4, 1] and tracker.found_on == {1: 4, 2: 1}
    assert set(dict(seen)[0]) == {1, 2} and set(dict(seen)[6]) == {1}
    tracker.close()
