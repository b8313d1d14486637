"""Journeys where the person needs to see what is going on: empty and broken inputs, slow work,
selection, zoom and pan, the Model panel's states, nothing written where they did not ask."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox
from scenario_driver import choose, overlay_colour_at, shape_centre, write_images

from annotator.document import Project
from annotator.io.media import read_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
from fakes import DiscEngine, disc_factory

pytestmark = pytest.mark.gui


class SlowEngine(DiscEngine):
    """The disc engine with a slow predict, as a big model on a CPU."""

    predict_seconds = 0.6

    def predict(self, embedding, prompt):  # type: ignore[no-untyped-def]
        time.sleep(self.predict_seconds)
        return super().predict(embedding, prompt)


def test_opening_a_folder_writes_nothing_until_the_first_edit(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 2)
    user = launch(folder)
    user.wait_ready()
    user.key(Qt.Key.Key_Right, widget=user.canvas_view)  # look at the second image too
    user.wait_ready()
    assert not (folder / "annotations.annot").exists()
    user.click(*shape_centre(2))
    user.wait(lambda: len(user.object_rows()) == 1)
    project = Project.open(folder / "annotations.annot")
    assert [len(project.objects(item.id)) for item in project.items] == [0, 1]
    project.close()


def test_an_empty_folder_says_so_and_clears_the_previous_one(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder, empty = tmp_path / "photos", tmp_path / "nothing"
    write_images(folder, 1)
    empty.mkdir()
    user = launch(folder)
    user.wait_ready()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(empty))
    user.choose_menu("File", "Open Folder")
    assert "no images or videos" in user.banner() and str(empty) in user.banner()
    assert user.window.canvas.image_item.pixmap().isNull()
    assert user.window.navigator.count() == 0 and not user.window.timeline_dock.isVisible()
    assert list(empty.iterdir()) == []  # nothing written into a folder the user only looked at


def test_a_corrupt_image_gives_a_message_that_stays_until_the_user_moves_on(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 2)
    (folder / "photo_00.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated, not a picture")
    user = launch(folder)
    assert "photo_00.jpg" in user.banner()
    user.qtbot.wait(11000)  # status-bar messages used to vanish after about 10 s
    assert "photo_00.jpg" in user.banner()
    user.key(Qt.Key.Key_Right, widget=user.canvas_view)
    user.wait_ready()
    assert user.banner() == ""
    user.click(*shape_centre(0))
    user.wait(lambda: len(user.object_rows()) == 1)


def test_a_failed_prefetch_of_another_image_is_not_shown_over_this_one(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 2)
    broken = folder / "photo_02.png"  # its header reads (the folder lists it), its pixels do not
    broken.write_bytes(broken.read_bytes()[:2000])
    user = launch(folder)
    user.wait_ready()
    user.qtbot.wait(500)  # the prefetch of photo_02 has failed by now
    assert user.banner() == ""
    user.key(Qt.Key.Key_Right, widget=user.canvas_view)
    user.wait(lambda: "photo_02.png" in user.banner())


def test_a_slow_click_shows_the_busy_indicator_until_its_mask_is_there(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder, factory=disc_factory(SlowEngine()))
    user.wait_ready()
    user.click(*shape_centre(0))
    busy = user.window.canvas.busy_label
    user.wait(busy.isVisible, timeout=2000)
    assert user.canvas_view.cursor().shape() == Qt.CursorShape.BusyCursor
    user.wait(lambda: len(user.object_rows()) == 1)
    user.wait(lambda: not busy.isVisible())


def test_a_late_hover_preview_does_not_stay_after_switching_to_the_brush(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    engine = SlowEngine()
    user = launch(folder, factory=disc_factory(engine))
    user.wait_ready()
    user.key(Qt.Key.Key_H, widget=user.canvas_view)  # hover preview on
    user.hover(*shape_centre(0))
    user.key(Qt.Key.Key_D, widget=user.canvas_view)  # brush, before the preview came back
    user.wait(lambda: engine.predict_calls >= 1)
    user.qtbot.wait(int(engine.predict_seconds * 1000) + 300)
    assert user.window.canvas.preview_item.pixmap().isNull()


def test_a_right_click_with_no_object_selected_makes_no_object(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    user.click(*shape_centre(0), Qt.MouseButton.RightButton)
    user.qtbot.wait(300)
    assert user.object_rows() == []
    assert "negative point needs an object" in user.status()


def test_ctrl_click_selects_the_object_under_the_pointer(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder, factory=disc_factory(DiscEngine()))
    user.wait_ready()
    for index in (0, 1):
        user.click(*shape_centre(index))
        user.wait(lambda n=index: len(user.object_rows()) == n + 1)
        user.key(Qt.Key.Key_N, widget=user.canvas_view)
    user.click(*shape_centre(0), modifiers=Qt.KeyboardModifier.ControlModifier)
    current = user.window.layer_view.currentIndex()
    assert current.isValid() and current.row() == 0
    # A click now refines the selected object rather than making a third one.
    x, y = shape_centre(0)
    user.click(x + 30, y)
    user.wait_idle()
    assert len(user.object_rows()) == 2
    user.click(5, 5, modifiers=Qt.KeyboardModifier.ControlModifier)  # background: nothing selected
    assert not user.window.layer_view.selectionModel().hasSelection()


def test_the_wheel_zooms_at_the_cursor_and_space_drag_pans(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    canvas = user.window.canvas
    where = user.view_point(300, 200)
    for notches in (1, 1, 2, -1):
        user.wheel(where.x(), where.y(), notches)
        under = canvas.mapToScene(where)
        assert abs(under.x() - 300) < 2 and abs(under.y() - 200) < 2, (notches, under)
    # Space held while a panel button has the focus: the drag pans, the button is not pressed.
    load = user.button("Load", user.window.model_panel)
    load.setFocus()
    presses: list[int] = []
    load.clicked.connect(lambda *_: presses.append(1))
    before = canvas.mapToScene(where)
    user.qtbot.keyPress(load, Qt.Key.Key_Space)
    user.drag([(where.x(), where.y()), (where.x() + 60, where.y() + 40)], in_view=True)
    user.qtbot.keyRelease(load, Qt.Key.Key_Space)
    after = canvas.mapToScene(where)
    assert presses == []
    assert after.x() < before.x() - 5 and after.y() < before.y() - 5  # the image moved with the hand
    assert user.object_rows() == []


def test_fill_holes_remove_specks_and_merge_say_what_they_did(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder, factory=disc_factory(DiscEngine(radius=80)))
    user.wait_ready()
    x, y = shape_centre(0)
    user.click(x, y)
    user.wait(lambda: len(user.object_rows()) == 1)
    user.key(Qt.Key.Key_E, widget=user.canvas_view)  # eraser: a hole in the middle
    user.drag([(x, y), (x + 2, y)])
    user.key(Qt.Key.Key_F, widget=user.canvas_view)
    assert user.status().startswith("filled 1 hole")
    user.key(Qt.Key.Key_D, widget=user.canvas_view)  # brush: a speck far away
    user.drag([(x + 200, y + 150), (x + 201, y + 150)])
    user.key(Qt.Key.Key_R, widget=user.canvas_view)
    assert user.status().startswith("removed 1 speck")
    user.key(Qt.Key.Key_R, widget=user.canvas_view)
    assert "no specks" in user.status()
    user.key(Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier, widget=user.canvas_view)
    assert "select two or more" in user.status()


def test_the_model_panel_says_what_is_missing_and_classic_keeps_working(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANNOTATOR_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    panel = user.window.model_panel
    choose(panel.engine_box, "sam3-tracker")
    user.press("Load", panel)
    user.wait(lambda: "could not load" in panel.state.text(), timeout=30000)
    text = panel.state.text()
    assert str(tmp_path / "weights") in text and "gated" in text and "token" in text
    # Not clipped, once the layout has taken the new text in (it does so in a later event).
    user.wait(lambda: panel.state.heightForWidth(panel.state.width()) <= panel.state.height() + 2, timeout=5000)
    assert "classic" in user.window.engine_status.text() and "not loaded" not in user.window.engine_status.text()
    user.click(*shape_centre(0))  # the classic engine still answers
    user.wait(lambda: len(user.object_rows()) == 1)
    # Download asks first, with the size and the licence; No downloads nothing.
    seen = user.answer_next_dialog(lambda dialog: dialog.button(QMessageBox.StandardButton.No).click())
    user.press("Download weights", panel)
    assert seen and "3.4 GB" in seen[0] and "SAM License" in seen[0]
    assert panel.download is None and panel.download_button.isEnabled()


def test_the_shortcut_list_fits_on_the_screen(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    user = launch(None)
    user.key(Qt.Key.Key_F1, widget=user.canvas_view)
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]
    assert dialogs and "shortcuts" in dialogs[0].windowTitle().lower()
    screen = user.window.screen().availableGeometry()
    assert dialogs[0].height() <= screen.height()
    dialogs[0].close()


def test_copy_objects_from_the_previous_image_adds_once_in_one_undo_step(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 2)
    user = launch(folder, factory=disc_factory(DiscEngine()))
    user.wait_ready()
    for index in (0, 3):
        user.click(*shape_centre(index))
        user.wait(lambda n=index: len(user.object_rows()) == (1 if n == 0 else 2))
        user.key(Qt.Key.Key_N, widget=user.canvas_view)
    user.key(Qt.Key.Key_Right, widget=user.canvas_view)
    user.wait_ready()
    user.click(*shape_centre(1))  # this image has an object of its own already
    user.wait(lambda: len(user.object_rows()) == 1)
    shortcut = (Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    user.key(*shortcut, widget=user.canvas_view)
    assert len(user.object_rows()) == 3 and "copied 2 objects" in user.status()
    user.key(*shortcut, widget=user.canvas_view)
    assert len(user.object_rows()) == 3 and "nothing new" in user.status()
    shown = read_image(folder / "photo_02.png")
    assert overlay_colour_at(user, *shape_centre(3), shown)  # the copied object is drawn
    user.key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier, widget=user.canvas_view)
    assert len(user.object_rows()) == 1
    assert not overlay_colour_at(user, *shape_centre(3), shown)
