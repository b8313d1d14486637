"""Video journeys: open a video from the File menu, prompt frame 0, propagate, correct, propagate again."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from scenario_driver import User, disc_centre, write_images, write_moving_video

from annotator.document import Project
from annotator.io.media import read_image

pytestmark = pytest.mark.gui


def frame_label(user: User) -> str:
    return user.window.timeline.label.text()


def test_open_prompt_propagate_correct_and_propagate_again(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "clips"
    folder.mkdir()
    clip = folder / "walk.mp4"
    write_moving_video(clip, frames=12)
    user = launch(None)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(clip), ""))
    user.choose_menu("File", "Open Video")
    user.wait_ready()
    window = user.window
    assert window.timeline_dock.isVisible() and window.items_dock.windowTitle() == "Videos"
    assert window.navigator.item(0).text().strip() == "walk.mp4"
    # Home / End move to the first and last frame; the timeline says where we are.
    user.key(Qt.Key.Key_End, widget=user.canvas_view)
    user.wait(lambda: frame_label(user) == "frame 11 / 11")
    user.key(Qt.Key.Key_Home, widget=user.canvas_view)
    user.wait(lambda: frame_label(user) == "frame 0 / 11")
    user.wait_ready()
    # Prompt the disc on frame 0, then propagate forward with the timeline's button.
    user.click(*disc_centre(0))
    user.wait(lambda: window.layers.rowCount() == 1)
    user.press("Propagate forward", window.timeline)
    user.wait(lambda: not window.propagation.running, timeout=30000)
    project = window.project
    [obj] = project.objects(project.items[0].id)
    sources = project.frame_sources(obj.id)
    assert sources[0] == "user" and all(sources.get(f) == "propagated" for f in range(1, 12))
    for frame in (3, 11):  # the mask follows the disc
        x, y = disc_centre(frame)
        assert project.mask(obj.id, frame).contains(int(x), int(y))
    # Correct frame 6 with the eraser (it becomes a keyframe), then propagate again from there.
    for _ in range(6):
        user.key(Qt.Key.Key_Period, widget=user.canvas_view)
    user.wait(lambda: frame_label(user) == "frame 6 / 11")
    user.wait_ready()
    x, y = disc_centre(6)
    user.key(Qt.Key.Key_E, widget=user.canvas_view)
    user.drag([(x - 40, y - 30), (x + 40, y - 30)])
    user.wait(lambda: project.frame_sources(obj.id).get(6) == "user")
    assert not project.mask(obj.id, 6).contains(int(x), int(y - 30))
    user.press("Propagate forward", window.timeline)
    user.wait(lambda: not window.propagation.running, timeout=30000)
    sources = project.frame_sources(obj.id)
    assert sources[0] == "user" and sources[6] == "user" and sources[9] == "propagated"
    # Undo takes back the second run in one step; the correction stays.
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=user.canvas_view)
    assert project.frame_sources(obj.id)[6] == "user"
    on_disk = Project.open(project.path)
    assert on_disk.frame_sources(obj.id)[6] == "user"
    on_disk.close()


def test_a_truncated_video_gives_a_message_that_stays(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "clips"
    folder.mkdir()
    clip = folder / "cut.mp4"
    write_moving_video(clip, frames=12)
    clip.write_bytes(clip.read_bytes()[:600])
    user = launch(None)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(clip), ""))
    user.choose_menu("File", "Open Video")
    user.wait(lambda: "cut.mp4" in user.banner())
    user.qtbot.wait(11000)
    assert "cut.mp4" in user.banner()


def test_a_frame_folder_is_one_video_named_after_the_folder(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frames = tmp_path / "bear"
    for index, path in enumerate(write_images(tmp_path / "raw", 3)):
        frames.mkdir(exist_ok=True)
        (frames / f"{index:05d}.png").write_bytes(path.read_bytes())
    user = launch(frames)
    user.wait_ready()
    assert [user.window.navigator.item(i).text().strip() for i in range(user.window.navigator.count())] == ["bear"]
    assert user.window.timeline_dock.isVisible()
    assert read_image(frames / "00000.png").shape[:2] == user.window.canvas.image_size


def test_copy_a_mask_to_the_next_frames(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "clips"
    folder.mkdir()
    write_moving_video(folder / "walk.mp4", frames=12)
    user = launch(folder / "walk.mp4")
    user.wait_ready()
    user.click(*disc_centre(0))
    user.wait(lambda: user.window.layers.rowCount() == 1)
    user.answer_next_dialog(lambda dialog: (dialog.setIntValue(4), dialog.accept()))
    user.choose_menu("Video", "Copy Mask to Next Frames")
    project = user.window.project
    [obj] = project.objects(project.items[0].id)
    assert sorted(f for f, s in project.frame_sources(obj.id).items() if s == "user") == [0, 1, 2, 3, 4]
    assert "4 frames" in user.status()


class _DoubtfulSession:
    """The classic session, but the object is judged absent on frame 8 and doubtful on frame 4."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.scores = inner, {}

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def propagate(self, start, direction="forward", cancel=None):  # type: ignore[no-untyped-def]
        for frame, masks in self.inner.propagate(start, direction, cancel):
            self.scores = {key: 0.3 if frame == 4 else 0.05 if frame == 8 else 0.95 for key in masks}
            if frame == 8:
                masks = {key: mask & False for key, mask in masks.items()}
            yield frame, masks


def test_the_timeline_marks_doubtful_and_absent_frames_apart_from_good_ones(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from model import registry

    def factory(name: str, **options):  # type: ignore[no-untyped-def]
        engine = registry.create(name, **options)
        opened = engine.open_video
        engine.open_video = lambda frames: _DoubtfulSession(opened(frames))
        return engine

    clip = tmp_path / "walk.mp4"
    write_moving_video(clip, frames=12)
    user = launch(clip, factory=factory)
    user.wait_ready()
    window = user.window
    user.click(*disc_centre(0))
    user.wait(lambda: window.layers.rowCount() == 1)
    user.press("Propagate forward", window.timeline)
    user.wait(lambda: not window.propagation.running, timeout=30000)
    [obj] = window.project.objects(window.project.items[0].id)
    states = window.project.frame_states(obj.id)
    assert states[0] == "user" and states[4] == "low" and states[8] == "absent" and states[5] == "propagated"
    # What the person sees: the timeline paints those frames in their own colours.
    view = window.timeline.track_view
    image = view.grab().toImage()
    row_y = 18 + 2 + 4  # the first track's row, inside its bar

    def colour(frame: int) -> tuple[int, int, int]:
        pixel = image.pixelColor(int((frame + 0.5) * view.width() / view.frame_count), row_y)
        return pixel.red(), pixel.green(), pixel.blue()

    def underline(frame: int) -> tuple[int, int, int]:
        pixel = image.pixelColor(int((frame + 0.5) * view.width() / view.frame_count), 18 + 2 + 12 - 6)
        return pixel.red(), pixel.green(), pixel.blue()

    assert colour(8) == (200, 60, 60)  # absent
    assert underline(4) == (255, 170, 0) and underline(5) != (255, 170, 0)  # doubtful, and a good frame
    assert colour(5) != colour(8)
    assert "absent" in view.toolTip() and "not sure" in view.toolTip()
    # Stored with the masks: reopening shows the same.
    reopened = Project.open(window.project.path)
    assert reopened.frame_states(obj.id) == states
    reopened.close()
