"""Box and point track sessions: values, keyframes, directions, cancel, mask gate; accuracy on exact synthetic
warps of real frames (TAP-Vid metrics and box success against the known trajectories)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.evaluation.bench import synthetic_scene
from annotator.evaluation.synthetic import WarpedVideo, warp_video
from annotator.evaluation.track_metrics import box_iou, success_auc, tapvid_metrics, to_tapvid_raster
from model.classic.box_track import ClassicBoxSession
from model.classic.engine import create_engine
from model.classic.point_track import ClassicPointSession, PointTrackSettings
from model.errors import EngineError
from model.frames import ListFrames, read_frame
from model.protocol import PRESENT
from model.tracking import TrackSample, box_of_mask, open_track_session
from model.tracking_mask import MaskBoxSession


def texture(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture (trackable everywhere) for tests that need no shared data."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(image, (0, 0), 1.5)


def track_points(video: WarpedVideo, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the classic point tracker from frame 0: (N, T, 2) points and (N, T) occluded."""
    session = ClassicPointSession(ListFrames(video.frames))
    session.add_points(0, 7, queries)
    count = len(video.frames)
    points, occluded = np.zeros((len(queries), count, 2)), np.zeros((len(queries), count), bool)
    for frame, samples in session.propagate(0):
        points[:, frame], occluded[:, frame] = samples[7].points, samples[7].occluded
    return points, occluded


def point_metrics(video: WarpedVideo, queries: np.ndarray) -> dict[str, float]:
    """TAP-Vid metrics of the classic point tracker on a warped video, on the 256 x 256 raster."""
    truth = video.points(queries)
    gt_occluded = video.occluded(truth)
    points, occluded = track_points(video, queries)
    size = video.frames[0].shape[:2]
    return tapvid_metrics(
        gt_occluded,
        to_tapvid_raster(truth, size),
        occluded,
        to_tapvid_raster(points, size),
        np.zeros(len(queries), int),
    )


def box_auc(video: WarpedVideo, box: np.ndarray) -> float:
    """Success AUC of the classic box tracker against the warped box, frames 1.. scored."""
    session = ClassicBoxSession(ListFrames(video.frames))
    session.add_box(0, 1, box)
    predicted = np.array([samples[1].box for _, samples in session.propagate(0)])
    return success_auc(predicted[1:], video.boxes(box)[1:])


def test_samples_hold_their_geometry_read_only() -> None:
    box = TrackSample.of_box([10, 20, 50, 80], score=0.7)
    assert box.kind == "box" and box.geometry.dtype == np.float32 and box.score == pytest.approx(0.7)
    assert box.points.tolist() == [[30.0, 50.0]] and box.visible.tolist() == [True]
    with pytest.raises(ValueError):
        box.geometry[0] = 3
    points = TrackSample.of_points([[1, 2], [5, 9], [3, 3]], confidence=[0.9, 0.2, 0.8])
    assert points.occluded.tolist() == [False, True, False]
    assert points.box.tolist() == [1.0, 2.0, 3.0, 3.0]  # the occluded point is left out of the box
    assert points.score == pytest.approx((0.9 + 0.2 + 0.8) / 3)
    outside = TrackSample.of_box([0, 0, 4, 4], outside=True)
    assert outside.visible.tolist() == [False]
    with pytest.raises(ValueError, match="occluded flags"):
        TrackSample("points", np.zeros((3, 2)), occluded=np.zeros(2, bool))
    with pytest.raises(ValueError, match="unknown track kind"):
        TrackSample("mask", np.zeros(4))  # type: ignore[arg-type]
    assert box_of_mask(np.zeros((5, 5), bool)) is None
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    assert box_of_mask(mask).tolist() == [3.0, 2.0, 9.0, 5.0]


def test_point_tracker_is_exact_enough_on_a_warped_texture() -> None:
    video = warp_video(texture(), count=30, drift=30.0, seed=3)
    rng = np.random.default_rng(1)
    queries = np.stack([rng.uniform(20, 300, 60), rng.uniform(20, 220, 60)], 1)
    metrics = point_metrics(video, queries)
    assert metrics["delta_avg"] > 0.85 and metrics["average_jaccard"] > 0.75, metrics
    assert metrics["occlusion_accuracy"] > 0.9, metrics


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("sequence", ["dog", "blackswan"])
def test_point_and_box_trackers_on_a_warped_real_frame(shared_data: Path, sequence: str) -> None:
    image = read_frame(shared_data / "videos" / sequence / "frames" / "00000.jpg")
    video = warp_video(image, count=40, seed=1)
    rng = np.random.default_rng(0)
    queries = np.stack([rng.uniform(40, 814, 70), rng.uniform(40, 440, 70)], 1)
    metrics = point_metrics(video, queries)
    # Measured about 0.94 AJ, 0.97 delta_avg, 0.99 occlusion accuracy (points leaving the frame are occluded).
    assert metrics["average_jaccard"] > 0.85 and metrics["delta_avg"] > 0.9, metrics
    assert metrics["occlusion_accuracy"] > 0.95, metrics
    assert box_auc(video, np.array([300, 150, 550, 350.0])) > 0.7


def test_box_tracker_follows_a_warped_texture_and_keyframes_re_anchor_it() -> None:
    video = warp_video(texture(seed=2), count=25, drift=40.0, seed=5)
    box = np.array([100, 70, 200, 160.0])
    assert box_auc(video, box) > 0.65  # measured 0.70: the truth is the box of the rotated corners
    session = ClassicBoxSession(ListFrames(video.frames))
    session.add_box(0, 1, box)
    correction = np.array([30, 30, 90, 100.0])
    session.add_box(12, 1, correction)
    seen = {}
    for frame, samples in session.propagate(0, "forward"):
        seen[frame] = samples[1]
    assert sorted(seen) == list(range(25))
    assert seen[12].geometry.tolist() == correction.tolist() and seen[12].score == 1.0
    assert np.abs(seen[13].box - correction).max() < 15  # tracking goes on from the correction
    with pytest.raises(EngineError, match="empty"):
        session.add_box(0, 2, [5, 5, 5, 9])
    with pytest.raises(EngineError, match="outside the video"):
        session.add_box(99, 2, [5, 5, 9, 9])
    with pytest.raises(EngineError, match="boxes only"):
        session.add_points(0, 2, [[1, 1]])


@pytest.mark.parametrize("make", [ClassicBoxSession, ClassicPointSession])
def test_both_directions_yield_each_frame_once_and_cancel_stops(make: type) -> None:
    video = warp_video(texture(seed=4), count=12, drift=10.0, seed=2)
    session = make(ListFrames(video.frames))
    if make is ClassicBoxSession:
        session.add_box(5, 3, [60, 60, 160, 140])
    else:
        session.add_points(5, 3, [[80, 80], [150, 120]])
    frames = [frame for frame, samples in session.propagate(5, "both") if 3 in samples]
    assert frames == [5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1, 0]
    cancel = threading.Event()
    got = []
    for frame, _ in session.propagate(0, "forward", cancel):
        got.append(frame)
        if frame == 2:
            cancel.set()
    assert got == [0, 1, 2]
    with pytest.raises(EngineError, match="unknown direction"):
        next(session.propagate(0, "sideways"))  # type: ignore[arg-type]
    session.remove_object(3)
    assert all(not samples for _, samples in session.propagate(0))


def test_point_count_is_fixed_per_object_and_points_must_be_finite() -> None:
    session = ClassicPointSession(ListFrames([texture()] * 3))
    session.add_points(0, 1, [[10, 10], [20, 20]])
    with pytest.raises(EngineError, match="tracks 2 points"):
        session.add_points(2, 1, [[10, 10]])
    with pytest.raises(EngineError, match="finite"):
        session.add_points(1, 2, [[np.nan, 1]])
    with pytest.raises(EngineError, match="at least one point"):
        session.add_points(1, 2, np.zeros((0, 2)))
    with pytest.raises(EngineError, match="points only"):
        session.add_box(0, 1, [0, 0, 5, 5])


def test_mask_gate_occludes_points_off_the_mask_and_snaps_them_back() -> None:
    frames = [texture(seed=6)] * 4  # a still video: LK keeps every point where it is
    mask = np.zeros((240, 320), bool)
    mask[50:150, 50:150] = True
    masks = {1: mask, 2: np.zeros_like(mask)}
    settings = PointTrackSettings(snap=True)
    session = ClassicPointSession(ListFrames(frames), settings, mask_source=lambda frame, obj: masks.get(frame))
    session.add_points(0, 1, [[100, 100], [250, 100], [151, 100]])
    samples = {frame: s[1] for frame, s in session.propagate(0)}
    assert samples[1].occluded.tolist() == [False, True, True]  # 151 is one pixel off the mask's edge
    assert samples[1].points[1].tolist() == [149.0, 100.0]  # snapped onto the nearest mask pixel
    assert samples[1].points[2].tolist() == [151.0, 100.0]  # within the slack: left where it is
    assert samples[2].occluded.all()  # an empty mask: the object is not there
    assert not samples[3].occluded.any() or samples[3].points[1].tolist() == [149.0, 100.0]  # no mask: no gate


def test_mask_box_session_reports_the_mask_box_and_outside_when_gone() -> None:
    scenes = [synthetic_scene((120, 200), shift=0.15 * i / 8, seed=i) for i in range(8)]
    frames, truth = [f for f, _ in scenes], [m for _, m in scenes]
    blank = [np.full_like(frames[0], 128) for _ in range(4)]  # the object is gone
    session = MaskBoxSession(create_engine().open_video(ListFrames(frames + blank)))
    start = box_of_mask(truth[0])
    assert session.add_box(0, 4, start).geometry.tolist() == start.tolist()
    samples = {}
    for frame, got in session.propagate(0):
        samples[frame] = got[4]
        mask = session.masks.get(4)
        if mask is not None and mask.any() and not got[4].outside and frame > 0:
            assert got[4].geometry.tolist() == box_of_mask(mask).tolist()  # exactly the mask's box
    assert samples[0].geometry.tolist() == start.tolist()  # the keyframe is the user's box
    for frame in range(1, 8):
        assert not samples[frame].outside and samples[frame].score >= PRESENT, frame
        assert box_iou(samples[frame].box, box_of_mask(truth[frame]))[0] > 0.7, frame
    for frame in range(8, 12):  # the classic tracker's call on the vanished object, whichever it is
        assert samples[frame].outside == (samples[frame].score < PRESENT), frame
    with pytest.raises(EngineError, match="boxes only"):
        session.add_points(0, 4, [[1, 1]])


class ScriptedVideo:
    """A VideoSession whose masks and scores per frame are given (to reach every branch of the adapter)."""

    def __init__(self, script: dict[int, tuple[np.ndarray | None, float]]) -> None:
        self.script = script
        self.scores: dict[int, float] = {}
        self.prompts: list[tuple[int, int]] = []

    def add_prompt(self, frame: int, obj_id: int, prompt: object) -> np.ndarray:
        self.prompts.append((frame, obj_id))
        return np.zeros((20, 20), bool)

    def remove_object(self, obj_id: int) -> None:
        self.script = {}

    def propagate(self, start: int, direction: str = "forward", cancel: object = None) -> Iterator:
        for frame in sorted(self.script):
            mask, score = self.script[frame]
            self.scores = {1: score}
            yield frame, ({} if mask is None else {1: mask})

    def close(self) -> None:
        self.script = {}


def test_mask_box_session_is_outside_where_the_mask_is_absent_empty_or_doubted() -> None:
    mask = np.zeros((20, 20), bool)
    mask[4:9, 5:12] = True
    script = {0: (mask, 1.0), 1: (mask, 0.9), 2: (None, 0.0), 3: (np.zeros_like(mask), 0.8), 4: (mask, 0.3)}
    script[5] = (np.roll(mask, 3, axis=1), 0.7)
    video = ScriptedVideo(script)
    session = MaskBoxSession(video)
    session.add_box(0, 1, [5, 4, 12, 9])
    assert video.prompts == [(0, 1)]
    got = {frame: samples[1] for frame, samples in session.propagate(0)}
    assert [got[f].outside for f in range(6)] == [False, False, True, True, True, False]
    assert got[2].geometry.tolist() == got[4].geometry.tolist() == [5.0, 4.0, 12.0, 9.0]  # the last box seen
    assert got[5].geometry.tolist() == [8.0, 4.0, 15.0, 9.0] and got[5].score == pytest.approx(0.7)
    assert session.scores == {1: pytest.approx(0.7)}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sam2.1-tiny", "sam3-tracker"])
def test_sam_engines_track_boxes_as_the_box_of_their_mask_track(name: str, tmp_path: Path) -> None:
    from tiny_sam import tiny_sam2, tiny_sam3

    from model import registry

    folder = {"sam2.1-tiny": tiny_sam2, "sam3-tracker": tiny_sam3}[name](tmp_path / name)
    engine = registry.create(name, weights=str(folder), device="cpu")
    frames = ListFrames([np.roll(texture(72, 96, seed=3), 2 * i, axis=1) for i in range(5)])
    session = open_track_session("box", frames, engine)
    assert isinstance(session, MaskBoxSession) and session.kinds == {"box"}
    session.add_box(0, 2, [20, 16, 60, 50])
    present = outside = 0
    for frame, samples in session.propagate(0, "forward"):
        sample, mask, score = samples[2], session.masks.get(2), session.scores[2]
        if frame == 0:
            assert sample.geometry.tolist() == [20, 16, 60, 50] and score == 1.0
        elif mask is not None and mask.any() and score >= PRESENT:
            assert not sample.outside and sample.geometry.tolist() == box_of_mask(mask).tolist()
            present += 1
        else:  # random weights may well doubt the object: then it is outside, at the last box seen
            assert sample.outside and sample.geometry.tolist() == [20, 16, 60, 50]
            outside += 1
    assert present + outside == 4  # (with seed 0, SAM 3 keeps the object and SAM 2.1 tiny doubts it)


def test_the_factory_picks_the_classic_trackers_without_a_sam_engine() -> None:
    frames = ListFrames([texture()] * 2)
    assert isinstance(open_track_session("box", frames), ClassicBoxSession)
    assert isinstance(open_track_session("box", frames, create_engine()), ClassicBoxSession)
    points = open_track_session("points", frames, mask_source=lambda frame, obj: None)
    assert isinstance(points, ClassicPointSession) and points.mask_source is not None
    with pytest.raises(EngineError, match="unknown track kind"):
        open_track_session("mask", frames)


def test_several_objects_are_tracked_together_each_with_its_own_points() -> None:
    video = warp_video(texture(seed=9), count=10, drift=20.0, seed=4)
    session = ClassicPointSession(ListFrames(video.frames))
    first, second = np.array([[60.0, 60], [90, 80]]), np.array([[200.0, 150], [230, 120], [250, 170]])
    session.add_points(0, 1, first)
    session.add_points(4, 2, second)  # starts later: absent from the frames before its keyframe
    seen = {frame: samples for frame, samples in session.propagate(0)}
    assert all(set(seen[f]) == {1} for f in range(4)) and all(set(seen[f]) == {1, 2} for f in range(4, 10))
    assert seen[4][2].geometry.tolist() == second.tolist()
    # the second object's points were placed on frame 4: take them back to frame 0 for their truth
    inverse = cv2.invertAffineTransform(video.affines[4])
    second_at_0 = np.hstack([second, np.ones((3, 1))]) @ inverse.T
    assert np.abs(seen[9][1].points - video.points(first)[:, 9]).max() < 2.0
    assert np.abs(seen[9][2].points - video.points(second_at_0)[:, 9]).max() < 2.0
    assert set(session.scores) == {1, 2} and all(0 <= v <= 1 for v in session.scores.values())
