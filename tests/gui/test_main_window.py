"""Smoke test of the main window, offscreen, with the default engine registry."""

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
    assert window.open_path(sample_folder())
    assert window.navigator.count() == 4
    assert window.windowTitle().startswith("Annotator")
    assert not window.canvas.image_item.pixmap().isNull()
    assert window.canvas.image_size == (540, 960)
    window.close()


def test_a_file_that_is_not_an_image_is_reported(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from annotator.views.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("x")
    assert not window.open_path(bogus)
    assert "not an image" in window.banner.text()
    window.close()
