"""Track journeys: draw a box with the box-track tool, track it, correct a corner on a later frame, undo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from scenario_driver import User, disc_centre, write_moving_video

from annotator.document import Project

pytestmark = pytest.mark.gui

RADIUS = 40


def _go_to(user: User, frame: int) -> None:
    user.key(Qt.Key.Key_Home, widget=user.canvas_view)
    for _ in range(frame):
        user.key(Qt.Key.Key_Period, widget=user.canvas_view)
    user.wait(lambda: user.window.timeline.label.text().startswith(f"frame {frame} /"))


def _screen_differs(user: User, x: float, y: float, image: np.ndarray) -> bool:
    shown = np.array(user.pixel(x, y), float)
    return float(np.abs(shown - image[int(y), int(x)].astype(float)).max()) > 40


def test_box_track_follows_the_disc_and_a_corner_drag_is_a_keyframe(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = tmp_path / "clips" / "walk.mp4"
    clip.parent.mkdir()
    write_moving_video(clip, frames=12)
    user = launch(clip.parent)
    window = user.window
    user.wait_ready()
    # The box-track tool from the Tools menu; a drag around the disc on frame 0 makes a box keyframe.
    user.choose_menu("Tools", "Box Track Tool")
    x, y = disc_centre(0)
    user.drag([(x - RADIUS, y - RADIUS), (x, y), (x + RADIUS, y + RADIUS)])
    user.wait(lambda: window.layers.rowCount() == 1)
    project = window.project
    [obj] = project.objects(project.items[0].id)
    key = project.track_sample(obj.id, 0)
    assert key.keyframe and np.allclose(key.box, (x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS), atol=2)
    assert obj.id in window.tracks.layer.drawn  # the canvas draws the box
    # Track forward from the Track menu: one undo step, the box follows the disc (4 px a frame).
    user.choose_menu("Track", "Track Forward")
    user.wait(lambda: not window.tracks.runner.running, timeout=30000)
    track = project.track(obj.id)
    assert sorted(track) == list(range(12)) and all(track[f].source == "tracker" for f in range(1, 12))
    assert project.history.undo_description == "Track forward"
    for frame in (5, 11):
        cx = (track[frame].box[0] + track[frame].box[2]) / 2
        assert abs(cx - disc_centre(frame)[0]) < 8, (frame, track[frame].box)
    assert window.timeline.track_view.tracks[window.timeline.track_rows[obj.id]][1][11] == "propagated"
    # On frame 8 the canvas draws the tracked box, where the edge of the disc's box is.
    _go_to(user, 8)
    user.wait_ready()
    tracked = project.track_sample(obj.id, 8)
    assert window.tracks.layer.drawn[obj.id] == tracked
    x0, y0, x1, y1 = tracked.box
    image = window.session.image
    assert _screen_differs(user, (x0 + x1) / 2, y0, image)  # the box's top edge is drawn
    # Drag its bottom-right corner outwards: frame 8 becomes a keyframe with that corner, and the frames
    # around it are re-tracked up to the neighbouring keyframes (one undo step with the correction).
    before = dict(track)
    user.drag([(x1, y1), (x1 + 10, y1 + 6), (x1 + 20, y1 + 12)])
    user.wait(lambda: project.track_sample(obj.id, 8).keyframe)
    user.wait(lambda: not window.tracks.runner.running, timeout=30000)
    corrected = project.track_sample(obj.id, 8)
    assert np.allclose(corrected.box, (x0, y0, x1 + 20, y1 + 12), atol=1.5)
    assert project.track_keyframes(obj.id) == [0, 8] and project.track_sample(obj.id, 0) == key
    grown = project.track_sample(obj.id, 10)
    assert grown.source == "tracker" and grown.box[2] - grown.box[0] > before[10].box[2] - before[10].box[0] + 8
    assert project.history.undo_description == "Correct and re-track"
    assert window.timeline.track_view.tracks[window.timeline.track_rows[obj.id]][1][8] == "user"
    # Undo takes the correction and its re-track back; the tracked boxes are there again (and on disk).
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=user.canvas_view)
    assert project.track(obj.id) == before
    assert window.tracks.layer.drawn[obj.id] == tracked
    on_disk = Project.open(project.path)
    assert on_disk.track(obj.id) == before and on_disk.track_keyframes(obj.id) == [0]
    on_disk.close()


def test_points_seeded_from_a_mask_follow_the_disc_and_boxes_interpolate(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = tmp_path / "clips" / "walk.mp4"
    clip.parent.mkdir()
    write_moving_video(clip, frames=12)
    user = launch(clip.parent)
    window = user.window
    user.wait_ready()
    # A mask with the point tool, then points seeded from it, tracked forward.
    user.click(*disc_centre(0))
    user.wait(lambda: window.layers.rowCount() == 1)
    project = window.project
    [obj] = project.objects(project.items[0].id)
    user.wait(lambda: project.mask(obj.id, 0) is not None)
    user.choose_menu("Track", "Seed Points from Mask")
    seeded = project.track_sample(obj.id, 0)
    assert seeded.kind == "points" and seeded.count >= 8 and seeded.keyframe
    mask = project.mask(obj.id, 0).to_array()
    assert all(mask[int(py), int(px)] for px, py in seeded.points)
    user.choose_menu("Track", "Track Forward")
    user.wait(lambda: not window.tracks.runner.running, timeout=30000)
    moved = project.track_sample(obj.id, 10)
    assert moved.source == "tracker"
    shift = (moved.points - seeded.points)[~np.asarray(moved.occluded)]
    assert len(shift) >= seeded.count // 2 and abs(float(np.median(shift[:, 0])) - 40) < 6
    # The point-track tool: a right click on a point of frame 10 makes it occluded there (a keyframe).
    user.choose_menu("Tools", "Point Track Tool")
    _go_to(user, 10)
    user.wait_ready()
    visible = [i for i, hidden in enumerate(moved.occluded) if not hidden]
    px, py = moved.points[visible[0]]
    user.click(px, py, Qt.MouseButton.RightButton)
    user.wait(lambda: project.track_sample(obj.id, 10).keyframe)
    assert project.track_sample(obj.id, 10).occluded[visible[0]]
    # A second object: box keyframes on frames 0 and 11 with the box-track tool, then interpolation.
    user.key(Qt.Key.Key_N, widget=user.canvas_view)
    user.choose_menu("Tools", "Box Track Tool")
    _go_to(user, 11)
    user.drag([(10, 10), (60, 50)])
    user.wait(lambda: window.layers.rowCount() == 2)
    box_obj = project.objects(project.items[0].id)[1]
    _go_to(user, 0)
    user.wait(lambda: window.session.selected == box_obj.id)
    user.drag([(110, 10), (160, 50)])
    user.wait(lambda: project.track_keyframes(box_obj.id) == [0, 11])
    user.choose_menu("Track", "Interpolate Between Keyframes")
    middle = project.track_sample(box_obj.id, 5)
    assert middle.source == "interpolated" and middle.box[0] == pytest.approx(110 - 100 * 5 / 11, abs=0.5)
    assert project.track_sample(obj.id, 10).keyframe  # the points keyframe stays


def test_without_an_engine_tracking_falls_back_to_interpolation(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from model.errors import WeightsUnavailable

    def no_engine(name: str, **options: object) -> object:
        raise WeightsUnavailable(f"{name}: no weights here")

    clip = tmp_path / "clips" / "walk.mp4"
    clip.parent.mkdir()
    write_moving_video(clip, frames=12)
    user = launch(clip.parent, factory=no_engine)
    window = user.window
    user.wait(lambda: window.session.frames is not None)
    user.choose_menu("Tools", "Box Track Tool")
    user.drag([(40, 80), (120, 160)])
    user.wait(lambda: window.layers.rowCount() == 1)
    [obj] = window.project.objects(window.project.items[0].id)
    _go_to(user, 11)
    user.drag([(84, 80), (164, 160)])
    user.wait(lambda: window.project.track_keyframes(obj.id) == [0, 11])
    _go_to(user, 0)
    user.choose_menu("Track", "Track Forward")
    user.wait(lambda: not window.tracks.runner.running, timeout=30000)
    track = window.project.track(obj.id)
    assert sorted(track) == list(range(12)) and {track[f].source for f in range(1, 11)} == {"interpolated"}
    assert track[4].box == pytest.approx((56, 80, 136, 160), abs=0.5)
    assert "interpolated" in user.banner()
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=user.canvas_view)
    assert sorted(window.project.track(obj.id)) == [0, 11]


def test_tracks_export_as_cvat_video_and_import_back_from_the_track_menu(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    from annotator.io.cvat_video import read_cvat_video

    clip = tmp_path / "clips" / "walk.mp4"
    clip.parent.mkdir()
    write_moving_video(clip, frames=12)
    user = launch(clip.parent)
    window = user.window
    user.wait_ready()
    user.choose_menu("Tools", "Box Track Tool")
    user.drag([(40, 80), (120, 160)])
    user.wait(lambda: window.layers.rowCount() == 1)
    user.choose_menu("Track", "Track Forward")
    user.wait(lambda: not window.tracks.runner.running, timeout=30000)
    project = window.project
    [obj] = project.objects(project.items[0].id)
    exported = dict(project.track(obj.id))
    xml = tmp_path / "walk.xml"
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("cvat-video", True))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(xml), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(xml), ""))
    user.choose_menu("Track", "Export Tracks")
    written = read_cvat_video(xml)
    assert written.name == "walk" and len(written.tracks) == 1 and len(written.tracks[0].frames) == 12
    user.choose_menu("Track", "Import Tracks")  # back into the same video, as a second object
    user.wait(lambda: window.layers.rowCount() == 2)
    copy = project.objects(project.items[0].id)[1]
    imported = project.track(copy.id)
    assert sorted(imported) == sorted(exported) and imported[0].keyframe and imported[5].source == "tracker"
    assert all(np.allclose(imported[f].box, exported[f].box, atol=0.01) for f in exported)
    assert project.history.undo_description == "Import tracks"
