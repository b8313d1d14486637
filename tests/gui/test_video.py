"""Video in the GUI: timeline, scrubbing, propagation, correction semantics and cancel (offscreen)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import VideoDiscEngine, disc_factory
from videos import index_of, write_video

from annotator.bridge import EngineBridge
from annotator.document import Mask, Project, SetMask
from annotator.views.main_window import MainWindow

pytestmark = pytest.mark.gui
FRAMES = 40


@pytest.fixture
def video_window(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "clips"
    folder.mkdir()
    write_video(folder / "clip.mp4", "libx264", FRAMES)
    engine = VideoDiscEngine(radius=10)
    window = MainWindow(bridge=EngineBridge(factory=disc_factory(engine)))
    window.engine = engine
    qtbot.addWidget(window)
    window.show()
    assert window.open_path(folder / "clip.mp4")
    qtbot.waitUntil(lambda: window.session.key in window.session.embedded_keys, timeout=10000)
    yield window
    window.close()


def _sources(window: MainWindow, object_id: int) -> dict[int, str]:
    return window.project.frame_sources(object_id)


def _propagate(qtbot, window: MainWindow, direction: str) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.propagation.finished, timeout=20000):
        assert window.propagate(direction)


def test_video_item_timeline_and_scrubbing(qtbot, video_window) -> None:  # type: ignore[no-untyped-def]
    window = video_window
    item = window.project.items[0]
    assert item.kind == "video" and item.frame_count == FRAMES
    assert window.timeline_dock.isVisible()
    for frame in (17, 3, 39, 18):
        window.timeline.frame_requested.emit(frame)
        assert window.session.frame == frame
        assert index_of(window.session.image) == frame
        assert window.timeline.track_view.current == frame


def test_propagate_correct_and_repropagate(qtbot, video_window) -> None:  # type: ignore[no-untyped-def]
    window = video_window
    window.session.add_point(30, 40, True)
    qtbot.waitUntil(lambda: window.layers.rowCount() == 1, timeout=5000)
    obj = window.project.objects(window.project.items[0].id)[0]
    first = window.project.mask(obj.id, 0).to_array()
    steps = len(window.project.history._undo)
    _propagate(qtbot, window, "forward")
    sources = _sources(window, obj.id)
    assert sources[0] == "user" and all(sources[f] == "propagated" for f in range(1, FRAMES))
    assert np.array_equal(window.project.mask(obj.id, 5).to_array(), np.roll(first, 10, axis=1))
    assert len(window.project.history._undo) == steps + 1  # the run is one undo step
    assert window.timeline.track_view.tracks[0][1] == sources
    # Correct frame 20 by hand: it becomes a keyframe.
    window.show_frame(20)
    corrected = Mask.from_array(np.roll(first, -5, axis=0))
    window.project.execute(SetMask(obj.id, 20, corrected))
    keep_after = window.project.mask(obj.id, 25).to_array().copy()
    # Re-propagate from frame 10: only frames 11..19 change; 20 (user) and beyond stay.
    window.show_frame(10)
    window.project.execute(SetMask(obj.id, 10, Mask.from_array(np.roll(first, 3, axis=0))))
    _propagate(qtbot, window, "forward")
    assert window.project.mask(obj.id, 20) == corrected
    assert np.array_equal(window.project.mask(obj.id, 25).to_array(), keep_after)
    assert np.array_equal(window.project.mask(obj.id, 15).to_array(), np.roll(np.roll(first, 3, axis=0), 10, axis=1))
    # Backward from 10 stops at the keyframe 0.
    _propagate(qtbot, window, "backward")
    assert np.array_equal(window.project.mask(obj.id, 0).to_array(), first)
    assert window.project.frame_sources(obj.id)[5] == "propagated"
    # Undo the backward run in one step.
    window.undo()
    assert np.array_equal(window.project.mask(obj.id, 5).to_array(), np.roll(first, 10, axis=1))


def test_cancel_keeps_finished_frames_as_one_step(qtbot, video_window) -> None:  # type: ignore[no-untyped-def]
    window = video_window
    window.engine.frame_delay = 0.05
    window.session.add_point(30, 40, True)
    qtbot.waitUntil(lambda: window.layers.rowCount() == 1, timeout=5000)
    obj = window.project.objects(window.project.items[0].id)[0]
    steps = len(window.project.history._undo)
    with qtbot.waitSignal(window.propagation.finished, timeout=20000) as finished:
        window.propagate("forward")
        qtbot.waitUntil(lambda: len(window.project.mask_frames(obj.id)) >= 5, timeout=10000)
        window.propagation.cancel()
    cancelled, written = finished.args
    assert cancelled and 4 <= written < FRAMES - 1
    done = window.project.mask_frames(obj.id)
    assert len(done) == written + 1
    assert done == list(range(len(done)))  # the frames already done are kept, in order
    assert Project.open(window.project.path).mask_frames(obj.id) == done
    assert len(window.project.history._undo) == steps + 1
    window.undo()
    assert window.project.mask_frames(obj.id) == [0]


def test_corrupt_video_is_reported_and_the_app_keeps_running(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a movie at all")
    write_video(folder / "good.mkv", "libx264", 10)
    window = MainWindow(bridge=EngineBridge(factory=disc_factory(VideoDiscEngine())))
    qtbot.addWidget(window)
    assert window.open_path(folder)
    assert [item.name for item in window.project.items] == ["good.mkv"]
    assert "broken.mp4" in window.banner.text()
    window.close()
