"""Smoke test of the main window, offscreen."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.gui


def test_main_window_opens_the_generated_sample(qtbot) -> None:  # type: ignore[no-untyped-def]
    from annotator.sample import sample_folder
    from annotator.views.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.open_path(sample_folder())
    assert len(window.image_paths) == 4
    assert window.item_list.count() == 4
    assert window.windowTitle() == "Annotator"
    assert not window._pixmap_item.pixmap().isNull()


def test_a_file_that_is_not_an_image_is_reported(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from annotator.views.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("x")
    window.open_path(bogus)
    assert "not an image" in window.statusBar().currentMessage()
