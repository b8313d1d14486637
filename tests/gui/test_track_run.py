"""Tracking runs in the GUI: points of an object with masks are gated by them; keyframes bound a run."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scenario_driver import disc_centre, write_moving_video

from annotator.document import AddObject, Mask, SetMask
from annotator.document.track_commands import SetTrackSample
from annotator.document.tracks import TrackSample
from annotator.views.main_window import MainWindow

pytestmark = pytest.mark.gui
FRAMES = 12
SIZE = (240, 320)


@pytest.fixture
def window(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    clip = tmp_path / "walk.mp4"
    write_moving_video(clip, FRAMES, SIZE)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.open_path(clip)
    qtbot.waitUntil(lambda: window.session.frames is not None, timeout=10000)
    yield window
    window.close()


def _disc(frame: int) -> Mask:
    mask = np.zeros(SIZE, np.uint8)
    x, y = disc_centre(frame, SIZE)
    cv2.circle(mask, (int(x), int(y)), 40, 1, -1)
    return Mask.from_array(mask.astype(bool))


def _run(qtbot, window: MainWindow, direction: str) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.tracks.runner.finished, timeout=30000):
        assert window.tracks.track(direction)


def test_points_outside_the_objects_masks_are_occluded_there(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    project = window.project
    obj = project.execute(AddObject(project.items[0].id, None, "disc"))
    for frame in range(7):  # masks on frames 0..6 only
        project.execute(SetMask(obj.id, frame, _disc(frame)))
    on_disc, background = disc_centre(0, SIZE), (280.0, 30.0)
    project.execute(SetTrackSample(obj.id, 0, TrackSample.of_points([on_disc, background])))
    window.session.select(obj.id)
    _run(qtbot, window, "forward")
    track = project.track(obj.id)
    assert sorted(track) == list(range(FRAMES))
    for frame in range(1, 7):  # the background point is outside the mask: occluded
        assert track[frame].occluded == (False, True), frame
    assert track[9].occluded[1] is False  # no mask on frame 9: no gate, the point is seen again


def test_a_run_from_between_keyframes_stops_at_them(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    project = window.project
    obj = project.execute(AddObject(project.items[0].id, None, "disc"))
    first = TrackSample.of_box((40, 80, 120, 160))
    last = TrackSample.of_box((84, 80, 164, 160))
    project.execute(SetTrackSample(obj.id, 2, first))
    project.execute(SetTrackSample(obj.id, 9, last))
    window.show_frame(5)
    project.execute(SetTrackSample(obj.id, 5, TrackSample.of_box((60, 80, 140, 160))))
    window.session.select(obj.id)
    _run(qtbot, window, "both")
    track = project.track(obj.id)
    assert sorted(track) == list(range(2, 10))  # nothing before frame 2 or after frame 9
    assert track[2] == first and track[9] == last and track[5].keyframe
    assert {track[f].source for f in (3, 4, 6, 7, 8)} == {"tracker"}
    assert project.history.undo_description == "Track both"
    project.undo()
    assert project.track_keyframes(obj.id) == [2, 5, 9] and len(project.track(obj.id)) == 3
