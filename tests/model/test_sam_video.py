"""SAM 2.1 and SAM 3 tracker video sessions (tiny random models through the registry): streaming,
forward/backward/both, many objects, late objects, corrections, removal, cancel, bounded memory."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from tiny_sam import tiny_sam2, tiny_sam3

from model import registry
from model.errors import EngineError
from model.protocol import Prompt

pytest.importorskip("torch")

BUILDERS = {"sam2.1-tiny": tiny_sam2, "sam3-tracker": tiny_sam3}
SIZE = (72, 96)


class CountingFrames:
    """A frame source that records which frames were read."""

    def __init__(self, count: int) -> None:
        rng = np.random.default_rng(3)
        self.base = rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8)
        self.count = count
        self.reads: list[int] = []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < self.count:
            raise IndexError(index)
        self.reads.append(index)
        return np.roll(self.base, index, axis=1)


def square(top: int, left: int, side: int = 24) -> np.ndarray:
    mask = np.zeros(SIZE, bool)
    mask[top : top + side, left : left + side] = True
    return mask


@pytest.fixture(scope="module", params=list(BUILDERS))
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = BUILDERS[request.param](tmp_path_factory.mktemp(request.param))
    return registry.create(request.param, weights=str(folder), device="cpu")


def test_forward_backward_both_with_objects_added_on_any_frame(engine) -> None:  # type: ignore[no-untyped-def]
    frames = CountingFrames(10)
    session = engine.open_video(frames)
    assert frames.reads == [0]  # opening reads one frame (its size), not the video
    first = session.add_prompt(4, 1, Prompt(mask=square(10, 10)))
    assert first.shape == SIZE and (first == square(10, 10)).mean() > 0.98  # a mask prompt is taken as given
    clicked = session.add_prompt(7, 2, Prompt.from_clicks([(60, 40, True)]))
    assert clicked.shape == SIZE and clicked.dtype == bool
    boxed = session.add_prompt(7, 3, Prompt.from_clicks([(50, 30, True)], box=(30, 20, 80, 60)))
    assert boxed.shape == SIZE
    forward = list(session.propagate(4, "forward"))
    assert [f for f, _ in forward] == [4, 5, 6, 7, 8, 9]
    assert all(set(masks) == {1, 2, 3} and all(m.shape == SIZE for m in masks.values()) for _, masks in forward)
    assert (forward[0][1][1] == first).all()  # a prompted frame gives its prompt's result back
    backward = list(session.propagate(4, "backward"))
    assert [f for f, _ in backward] == [4, 3, 2, 1, 0]
    both = list(session.propagate(5, "both"))
    assert [f for f, _ in both] == [5, 6, 7, 8, 9, 4, 3, 2, 1, 0]
    session.remove_object(2)
    assert all(set(masks) == {1, 3} for _, masks in session.propagate(8, "forward"))
    again = session.add_prompt(2, 2, Prompt(mask=square(30, 50)))  # a removed id can come back
    assert (again == square(30, 50)).mean() > 0.98
    session.close()


def test_every_yielded_frame_carries_each_objects_confidence(engine) -> None:  # type: ignore[no-untyped-def]
    session = engine.open_video(CountingFrames(6))
    session.add_prompt(1, 1, Prompt(mask=square(10, 10)))
    session.add_prompt(1, 2, Prompt.from_clicks([(60, 40, True)]))
    seen = []
    for frame, masks in session.propagate(1, "forward"):
        assert set(session.scores) == set(masks) == {1, 2}
        assert all(0.0 <= score <= 1.0 for score in session.scores.values())
        seen.append((frame, dict(session.scores)))
    assert seen[0] == (1, {1: 1.0, 2: 1.0})  # the prompted frame: the user's own masks
    # Tracked frames carry the model's object score (a random tiny model: anything but certainty).
    assert all(0.0 < score < 1.0 for _, scores in seen[1:] for score in scores.values())
    session.close()


def test_a_correction_on_a_tracked_frame_becomes_a_keyframe(engine) -> None:  # type: ignore[no-untyped-def]
    session = engine.open_video(CountingFrames(6))
    session.add_prompt(0, 5, Prompt(mask=square(10, 10)))
    list(session.propagate(0, "forward"))
    corrected = session.add_prompt(3, 5, Prompt(mask=square(40, 60)))
    assert (corrected == square(40, 60)).mean() > 0.98
    frames = dict(session.propagate(0, "forward"))
    assert (frames[3][5] == corrected).all()  # the corrected frame is kept as given when re-propagating
    assert (frames[0][5] == square(10, 10)).mean() > 0.98


def test_cancel_stops_soon_and_frames_are_streamed(engine) -> None:  # type: ignore[no-untyped-def]
    frames = CountingFrames(200)
    session = engine.open_video(frames)
    session.add_prompt(0, 1, Prompt(mask=square(10, 10)))
    cancel = threading.Event()
    got = []
    for frame, _ in session.propagate(0, "forward", cancel):
        got.append(frame)
        if frame == 2:
            cancel.set()
    assert got == [0, 1, 2]
    assert max(frames.reads) < 12  # read-ahead is a few frames, never the whole video


def test_memory_stays_bounded_on_a_long_run(engine) -> None:  # type: ignore[no-untyped-def]
    session = engine.open_video(CountingFrames(40))
    session.add_prompt(0, 1, Prompt(mask=square(10, 10)))
    session.add_prompt(0, 2, Prompt(mask=square(40, 60)))
    for _ in session.propagate(0, "forward"):
        pass
    for outputs in session.state.output_dict_per_obj.values():
        kept = outputs["non_cond_frame_outputs"]
        # Only frames the memory bank can still read: near the last frame or near a prompted one.
        assert all(f >= 39 - session.window or f <= session.window for f in kept)
        assert len(kept) <= 2 * session.window + 1 < 39
        assert all("high_res_masks" not in out for out in kept.values())


def test_bad_requests_are_engine_errors(engine) -> None:  # type: ignore[no-untyped-def]
    session = engine.open_video(CountingFrames(3))
    with pytest.raises(EngineError, match="no object has a prompt"):
        list(session.propagate(0))
    with pytest.raises(EngineError, match="outside the video"):
        session.add_prompt(3, 1, Prompt(mask=square(1, 1)))
    with pytest.raises(EngineError, match="shape"):
        session.add_prompt(0, 1, Prompt(mask=np.zeros((5, 5), bool)))
    with pytest.raises(EngineError, match="no points, box or mask"):
        session.add_prompt(0, 1, Prompt())
    with pytest.raises(EngineError, match="no frames"):
        engine.open_video([])


def test_frames_go_through_onnx_runtime_when_it_agrees_with_the_video_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tiny_sam2(tmp_path / "tiny")
    results = {}
    for runtime in ("auto", "torch"):
        engine = registry.create("sam2.1-tiny", weights=str(folder), device="cpu", runtime=runtime)
        session = engine.open_video(CountingFrames(5))
        session.add_prompt(0, 1, Prompt(mask=square(10, 10)))
        results[runtime] = dict(session.propagate(0))
        assert session._onnx == (runtime == "auto") and engine.warnings == []
    for frame, masks in results["torch"].items():
        assert (results["auto"][frame][1] == masks[1]).mean() > 0.99
