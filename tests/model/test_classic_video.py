"""The classic video session: propagation quality on a moving object, directions, cancel, frames."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.evaluation.bench import synthetic_scene
from annotator.evaluation.metrics import iou
from model.classic.engine import ClassicEngine
from model.classic.video import ClassicVideoSession, TrackSettings
from model.errors import EngineError
from model.frames import FolderFrames, ListFrames, read_ahead
from model.protocol import PRESENT, Prompt

SIZE = (120, 200)


def clip(count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    scenes = [synthetic_scene(SIZE, shift=0.15 * i / count, seed=i) for i in range(count)]
    return [s[0] for s in scenes], [s[1] for s in scenes]


def test_forward_propagation_follows_a_moving_object() -> None:
    frames, masks = clip(10)
    session = ClassicEngine().open_video(ListFrames(frames))
    assert session.add_prompt(0, 7, Prompt(mask=masks[0])) is not None
    seen = list(session.propagate(0, "forward"))
    assert [index for index, _ in seen] == list(range(10))
    assert all(iou(result[7], masks[index]) > 0.8 for index, result in seen)


@pytest.mark.parametrize(
    "settings",
    [TrackSettings(soft_uncertain=True), TrackSettings(soft_uncertain=True, uncertain_value=None, bg_rate=0.3)],
)
def test_the_experimental_tracker_settings_follow_a_moving_object(settings: TrackSettings) -> None:
    frames, masks = clip(10)
    session = ClassicVideoSession(ClassicEngine(), ListFrames(frames), settings)
    session.add_prompt(0, 7, Prompt(mask=masks[0]))
    seen = list(session.propagate(0, "forward"))
    assert [index for index, _ in seen] == list(range(10))
    assert all(iou(result[7], masks[index]) > 0.8 for index, result in seen)


def test_the_tracker_reports_its_confidence_and_doubts_a_lost_object() -> None:
    frames, masks = clip(8)
    blank = [np.full_like(frames[0], 128) for _ in range(4)]  # the object is gone: nothing to follow
    session = ClassicEngine().open_video(ListFrames(frames + blank))
    session.add_prompt(0, 7, Prompt(mask=masks[0]))
    scores = {}
    for index, result in session.propagate(0, "forward"):
        assert set(session.scores) == set(result) == {7}
        scores[index] = session.scores[7]
    assert scores[0] == 1.0  # the keyframe
    assert all(0.0 <= score <= 1.0 for score in scores.values())
    assert np.median([scores[i] for i in range(1, 8)]) > 0.8  # a clean track
    assert max(scores[i] for i in range(8, 12)) < 0.7  # the mask left behind does not look like the object


def test_both_directions_yield_every_frame_once_and_clicks_prompt() -> None:
    frames, masks = clip(8)
    session = ClassicEngine().open_video(ListFrames(frames))
    ys, xs = np.nonzero(masks[4])
    mask = session.add_prompt(4, 1, Prompt.from_clicks([(float(np.median(xs)), float(np.median(ys)), True)]))
    assert iou(mask, masks[4]) > 0.8
    order = [index for index, _ in session.propagate(4, "both")]
    assert order == [4, 5, 6, 7, 3, 2, 1, 0]
    session.remove_object(1)
    assert all(result == {} for _, result in session.propagate(0, "forward"))


def test_cancel_stops_within_one_frame() -> None:
    frames, masks = clip(12)
    session = ClassicEngine().open_video(ListFrames(frames))
    session.add_prompt(0, 1, Prompt(mask=masks[0]))
    cancel = threading.Event()
    seen = []
    for index, _ in session.propagate(0, "forward", cancel):
        seen.append(index)
        if index == 3:
            cancel.set()
    assert seen == [0, 1, 2, 3]


def test_bad_session_inputs() -> None:
    frames, masks = clip(3)
    session = ClassicEngine().open_video(ListFrames(frames))
    with pytest.raises(EngineError, match="outside the video"):
        session.add_prompt(5, 1, Prompt(mask=masks[0]))
    with pytest.raises(EngineError, match="prompt mask of shape"):
        session.add_prompt(0, 1, Prompt(mask=np.ones((3, 3), bool)))
    with pytest.raises(EngineError, match="unknown direction"):
        next(session.propagate(0, "sideways"))  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="no frames"):
        ClassicEngine().open_video(ListFrames([]))


def test_folder_frames_read_lazily_and_name_bad_files(tmp_path: Path) -> None:
    frames, _ = clip(3)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"{index:05d}.png")
    source = FolderFrames(tmp_path, keep=1)
    assert len(source) == 3 and np.array_equal(source[2], frames[2]) and np.array_equal(source[-1], frames[2])
    assert len(source._recent) == 1
    with pytest.raises(IndexError):
        source[3]
    assert [i for i, _ in read_ahead(source, [2, 0, 1])] == [2, 0, 1]
    (tmp_path / "00001.png").write_bytes(b"broken")
    with pytest.raises(EngineError, match=r"00001\.png"):
        list(read_ahead(FolderFrames(tmp_path), range(3)))
    with pytest.raises(EngineError, match="no frame images"):
        FolderFrames(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)
    with pytest.raises(EngineError, match="is not a folder"):
        FolderFrames(tmp_path / "missing")


def test_read_ahead_stops_its_thread_when_closed() -> None:
    frames, _ = clip(20)
    stream = read_ahead(ListFrames(frames), range(20), depth=2)
    next(stream)
    stream.close()
    assert not any(t.name == "frame-reader" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 200, 3), (10, 12, 3)])
def test_tiny_frames_propagate_without_crashing(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    source = ListFrames([rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(4)])
    session = ClassicEngine().open_video(source)
    first = np.zeros(shape[:2], bool)
    first[0, 0] = True
    session.add_prompt(0, 1, Prompt(mask=first))
    results = list(session.propagate(0, "both"))
    assert [index for index, _ in results] == [0, 1, 2, 3]
    assert all(mask.shape == shape[:2] for _, masks in results for mask in masks.values())


def hide_and_jump(count: int = 14) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A textured orange disc on grey clutter moves right, is gone on frames 6-8, and comes back far away."""
    rng = np.random.default_rng(5)
    height, width = 180, 320
    clutter = (rng.normal(120, 25, (height, width, 1)).clip(0, 255) * np.ones(3)).astype(np.uint8)
    ys, xs = np.mgrid[:height, :width]
    frames, masks = [], []
    for index in range(count):
        image = clutter.copy()
        if 6 <= index <= 8:
            mask = np.zeros((height, width), bool)
        else:
            cx, cy = (60 + 6 * index, 60) if index < 6 else (250 + 2 * (index - 9), 130)
            mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= 26**2
            texture = rng.normal(0, 12, (int(mask.sum()), 3))
            image[mask] = (np.array([230, 120, 30]) + texture).clip(0, 255).astype(np.uint8)
        frames.append(image)
        masks.append(mask)
    return frames, masks


@pytest.mark.parametrize("redetect", [True, False])
def test_a_lost_object_is_reported_absent_and_found_again_by_its_appearance(redetect: bool) -> None:
    frames, masks = hide_and_jump()
    settings = TrackSettings() if redetect else TrackSettings(redetect_below=0.0)
    session = ClassicVideoSession(ClassicEngine(), ListFrames(frames), settings)
    session.add_prompt(0, 7, Prompt(mask=masks[0]))
    results, scores = {}, {}
    for index, result in session.propagate(0, "forward"):
        results[index], scores[index] = result[7], session.scores[7]
    assert all(iou(results[i], masks[i]) > 0.8 for i in range(1, 6))
    assert all(not results[i].any() and scores[i] < PRESENT for i in (6, 7, 8))  # absent, not a silent empty mask
    found = [iou(results[i], masks[i]) for i in range(10, 14)]
    if redetect:
        assert min(found) > 0.7 and all(scores[i] >= PRESENT for i in range(10, 14))
    else:  # what the re-detection adds: flow alone never finds it again
        assert max(found) < 0.1


def test_a_track_remembers_the_appearance_of_every_keyframe() -> None:
    frames, masks = hide_and_jump()
    late = frames[12].copy()
    late[masks[12]] = (40, 90, 230)  # the object looks different (blue) on a later keyframe
    frames[12] = late
    session = ClassicVideoSession(ClassicEngine(), ListFrames(frames))
    session.add_prompt(0, 7, Prompt(mask=masks[0]))
    alone = session._start_track(masks[0], session._prepare(frames[0]), session._remembered(7, 0))
    session.add_prompt(12, 7, Prompt(mask=masks[12]))
    remembered = session._start_track(masks[0], session._prepare(frames[0]), session._remembered(7, 0))
    blue = session._prepare(late)
    # Colours the models never saw sit at 0.5 (no evidence); remembered, the blue look is the object's.
    assert _posterior_of(alone, blue, masks[12]) <= 0.5 < 0.9 < _posterior_of(remembered, blue, masks[12])
    orange = session._prepare(frames[0])
    assert _posterior_of(remembered, orange, masks[0]) > 0.5  # its own keyframe's look still counts


def _posterior_of(track, frame, mask) -> float:  # type: ignore[no-untyped-def]
    bins = frame.bins[mask]
    pf, pb = track.fg_model[bins] + 1e-6, track.bg_model[bins] + 1e-6
    return float(np.mean(pf / (pf + pb)))
