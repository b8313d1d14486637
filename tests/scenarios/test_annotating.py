"""Journeys on images: labels, clicks after switching engines, brush then click, selection, zoom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from scenario_driver import shape_centre, type_and_accept, write_images

from annotator.document import Project
from annotator.io.media import read_image

pytestmark = pytest.mark.gui


def saved(path: Path) -> Project:
    """The project file as another program would read it now."""
    return Project.open(path)


def test_labels_made_with_the_add_button_and_given_with_the_number_keys(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 2)
    user = launch(folder)
    user.wait_ready()
    for name in ("cat", "dog"):
        user.answer_next_dialog(type_and_accept(name))
        user.press("Add", user.window.labels_panel)
    user.wait(lambda: len(user.label_rows()) == 2)
    assert [row.split()[-1] for row in user.label_rows()] == ["cat", "dog"]
    user.click(*shape_centre(0))
    user.wait(lambda: len(user.object_rows()) == 1)
    user.key(Qt.Key.Key_2, widget=user.canvas_view)
    user.wait(lambda: "[dog]" in user.object_rows()[0])
    project = saved(folder / "annotations.annot")
    [item] = [i for i in project.items if i.path.endswith("photo_01.png")]
    [obj] = project.objects(item.id)
    assert project.label(obj.label_id).name == "dog"
    project.close()


def test_a_click_after_loading_another_engine_in_the_model_panel_makes_a_mask(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    user.press("Load", user.window.model_panel)
    user.wait(lambda: "ready" in user.window.model_panel.state.text())
    user.click(*shape_centre(1))
    user.wait(lambda: len(user.object_rows()) == 1, timeout=15000)
    assert "not embedded" not in user.status()


def test_space_with_a_panel_button_focused_pans_and_presses_nothing(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    load = user.button("Load", user.window.model_panel)
    load.setFocus()
    presses: list[bool] = []
    load.clicked.connect(presses.append)
    user.key(Qt.Key.Key_Space, widget=load)
    assert presses == []
    user.click(*shape_centre(0))
    user.wait(lambda: len(user.object_rows()) == 1)


def test_a_click_after_a_brush_stroke_keeps_the_painted_pixels(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    [photo] = write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    x, y = shape_centre(0)
    user.click(x, y)
    user.wait(lambda: len(user.object_rows()) == 1)
    project = user.window.project
    [obj] = project.objects(project.items[0].id)
    # Paint a blob well outside the shape with the brush.
    user.key(Qt.Key.Key_D, widget=user.canvas_view)
    painted = [(x + 200.0, y + 150.0), (x + 230.0, y + 150.0)]
    user.drag(painted)
    user.wait(lambda: project.mask(obj.id).to_array()[int(y + 150), int(x + 215)])
    # Back to points: a positive click inside the shape refines the object...
    user.key(Qt.Key.Key_P, widget=user.canvas_view)
    user.click(x + 5, y + 5)
    user.wait_idle()
    mask = project.mask(obj.id).to_array()
    # ...and the painted pixels are still there.
    assert mask[int(y + 150), int(x + 215)], "the click threw the brush edit away"
    assert mask[int(y), int(x)]
    assert read_image(photo).shape[:2] == mask.shape
    assert np.count_nonzero(mask) > 0


def test_the_label_new_objects_get_is_always_on_screen(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 2)
    user = launch(folder)
    user.wait_ready()
    shown = user.window.label_status
    assert shown.text() == "new objects: no label"
    for name in ("cat", "dog"):
        user.answer_next_dialog(type_and_accept(name))
        user.press("Add", user.window.labels_panel)
    user.wait(lambda: len(user.label_rows()) == 2)
    user.key(Qt.Key.Key_1, widget=user.canvas_view)  # nothing selected: sets the label for new objects
    assert "new objects will be labelled cat" in user.status(), user.status()
    assert shown.text() == "new objects: cat"
    user.key(Qt.Key.Key_Right, widget=user.canvas_view)
    user.wait_ready()
    assert shown.text() == "new objects: cat"  # still said on the next image
    user.click(*shape_centre(1))
    user.wait(lambda: len(user.object_rows()) == 1)
    assert "[cat]" in user.object_rows()[0]


def test_a_click_in_the_next_folder_opened_segments_that_folders_image(launch, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "first", tmp_path / "second"
    write_images(first, 1)
    write_images(second, 1, size=(240, 320))  # item 1 there too, of another size
    user = launch(first)
    user.wait_ready()
    user.click(*shape_centre(0))
    user.wait(lambda: len(user.object_rows()) == 1)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(second))
    user.choose_menu("File", "Open Folder")
    user.wait_ready()
    x, y = shape_centre(0, (240, 320))
    user.click(x, y)
    user.wait(lambda: len(user.object_rows()) == 1)
    project = user.window.project
    [obj] = project.objects(project.items[0].id)
    mask = project.mask(obj.id)
    assert mask.size == (240, 320) and mask.contains(int(x), int(y))
    assert user.banner() == ""


def test_a_click_shows_a_quick_first_mask_then_the_saved_one(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    x, y = shape_centre(2)
    near = (x + 20, y)  # inside the shape, clear of the click's marker
    before = user.pixel(*near)
    seen: list[tuple[int, tuple[int, int, int]]] = []
    user.window.bridge.previewed.connect(lambda *_: seen.append((len(user.object_rows()), user.pixel(*near))))
    user.click(x, y)
    user.wait(lambda: len(user.object_rows()) == 1)
    # The quick mask was on screen (tinted yellow: red and green up, blue down) before anything was saved.
    [(objects_then, tinted)] = seen
    assert objects_then == 0
    assert tinted != before and tinted[2] <= before[2] and tinted[0] + tinted[1] >= before[0] + before[1]
    user.wait(lambda: user.window.canvas.preview_item.pixmap().isNull())  # the saved mask replaced it
    project = saved(folder / "annotations.annot")
    [item] = project.items
    [obj] = project.objects(item.id)
    assert project.mask(obj.id, 0) is not None
    project.close()
