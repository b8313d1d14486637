"""The export dialog's shape options, driven through its widgets: each says what it does for its format."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog, QMainWindow

from annotator.document import Project
from annotator.document.mask import Mask
from annotator.io.dataset import Dataset, ItemData, LabelData, ObjectData
from annotator.io.project_io import import_dataset
from annotator.views.export_dialog import ExportDialog, run_export_dialog
from annotator.workspace import open_path

pytestmark = pytest.mark.gui


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A folder project with one image and a labelled square on it."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(folder / "a.png")
    project, _, _ = open_path(folder)
    mask = np.zeros((40, 60), bool)
    mask[5:25, 10:40] = True
    item = ItemData(str(folder / "a.png"), 60, 40, objects=[ObjectData("box", "cat", {0: Mask.from_array(mask)})])
    import_dataset(project, Dataset([LabelData("cat")], [item]))
    return project


def _choose(dialog: ExportDialog, fmt: str) -> None:
    dialog.format_box.setCurrentIndex(dialog.format_box.findData(fmt))


def test_each_format_shows_only_its_own_shape_option(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = ExportDialog(None, Path.home())
    qtbot.addWidget(dialog)
    _choose(dialog, "labelme")
    assert dialog.labelme_masks.isVisibleTo(dialog) and not dialog.polygons.isVisibleTo(dialog)
    assert "Mask shapes" in dialog.labelme_masks.text() and "instead of polygons" in dialog.labelme_masks.text()
    assert dialog.tolerance.isEnabled()  # labelme writes polygons by default
    dialog.labelme_masks.setChecked(True)
    assert dialog.options().labelme_shapes == "mask" and not dialog.tolerance.isEnabled()
    dialog.labelme_masks.setChecked(False)
    assert dialog.options().labelme_shapes == "polygon"
    _choose(dialog, "coco")
    assert dialog.polygons.isVisibleTo(dialog) and not dialog.labelme_masks.isVisibleTo(dialog)
    assert "Polygons instead of RLE" in dialog.polygons.text() and not dialog.tolerance.isEnabled()
    dialog.polygons.setChecked(True)
    options = dialog.options()
    assert options.segmentation == "polygon" and options.labelme_shapes == "polygon" and dialog.tolerance.isEnabled()
    _choose(dialog, "png")
    assert not dialog.polygons.isVisibleTo(dialog) and not dialog.labelme_masks.isVisibleTo(dialog)


@pytest.mark.parametrize(
    ("fmt", "tick", "expected"),
    [("labelme", False, "polygon"), ("labelme", True, "mask"), ("coco", False, "rle"), ("coco", True, "polygon")],
)
def test_the_ticked_option_is_what_lands_on_disk(  # type: ignore[no-untyped-def]
    qtbot, monkeypatch, tmp_path: Path, project: Project, fmt: str, tick: bool, expected: str
) -> None:
    out = tmp_path / ("out.json" if fmt == "coco" else "out")

    def answer(dialog: ExportDialog) -> QDialog.DialogCode:
        _choose(dialog, fmt)
        (dialog.labelme_masks if fmt == "labelme" else dialog.polygons).setChecked(tick)
        dialog.path_edit.setText(str(out))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", answer)
    window = QMainWindow()
    qtbot.addWidget(window)
    finished: list[bool] = []
    runner = run_export_dialog(window, project)
    assert runner is not None
    runner.finished.connect(lambda: finished.append(True))
    qtbot.waitUntil(lambda: bool(finished), timeout=10000)
    # Let the runner and its progress dialog be deleted, and collect their wrappers here, on the GUI
    # thread, not in the next test's export thread.
    del runner
    qtbot.wait(100)
    gc.collect()
    if fmt == "labelme":
        shapes = json.loads((out / "a.json").read_text())["shapes"]
        assert [shape["shape_type"] for shape in shapes] == [expected]
    else:
        segmentation = json.loads(out.read_text())["annotations"][0]["segmentation"]
        assert ("polygon" if isinstance(segmentation, list) else "rle") == expected
