"""Export and import from the GUI: the formats of annotator.io, written off the GUI thread with progress."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from annotator.document import Project
from annotator.errors import AnnotatorError
from annotator.io.formats import READABLE, WRITABLE, FormatOptions, read_dataset, write_dataset
from annotator.io.project_io import dataset_from_project, import_dataset

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    "coco": "COCO instance segmentation (JSON)",
    "ytvis": "YouTube-VIS (JSON, videos)",
    "labelme": "labelme JSON (one file per image)",
    "rle": "RLE JSON",
    "png": "Index PNG masks (one index per object)",
    "semantic": "Semantic PNG masks (pixel = label) + label map",
    "yolo": "YOLO segmentation (txt + names)",
    "mot": "MOT box tracks (CSV, videos)",
    "points": "Point tracks (npz, videos)",
    "project": "Annotator project (.annot)",
}
FILE_FORMATS = {"coco": ".json", "ytvis": ".json", "rle": ".json", "project": ".annot", "mot": ".csv", "points": ".npz"}


class _Cancelled(Exception):
    pass


class _Runner(QObject):
    """Runs one export in a Python thread and reports through Qt signals."""

    progressed = Signal(int, int)
    done = Signal(str)
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()

    def start(self, job: Any) -> None:
        def run() -> None:
            try:
                self.done.emit(str(job(self._progress)))
            except _Cancelled:
                self.failed.emit("cancelled")
            except Exception as error:  # shown to the user; the app keeps running
                log.exception("export failed")
                self.failed.emit(str(error))

        threading.Thread(target=run, name="export", daemon=True).start()

    def _progress(self, done: int, total: int) -> None:
        if self.cancel.is_set():
            raise _Cancelled
        self.progressed.emit(done, total)


class ExportDialog(QDialog):
    """Choose a format, a destination and the options that matter for it."""

    def __init__(self, parent: QWidget | None, default_folder: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self.format_box = QComboBox()
        for name in WRITABLE:
            self.format_box.addItem(DESCRIPTIONS.get(name, name), name)
        self.path_edit = QLineEdit(str(default_folder / "export"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit)
        row.addWidget(browse)
        self.polygons = QCheckBox("Polygons instead of RLE (COCO) / mask shapes (labelme)")
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setRange(0.0, 10.0)
        self.tolerance.setSingleStep(0.25)
        self.tolerance.setValue(FormatOptions().tolerance)
        self.tolerance.setSuffix(" px")
        layout = QFormLayout(self)
        layout.addRow("Format", self.format_box)
        layout.addRow("Destination", row)
        layout.addRow(self.polygons)
        layout.addRow("Polygon tolerance", self.tolerance)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)
        self.format_box.currentIndexChanged.connect(self._suggest_name)
        self._suggest_name()

    @property
    def fmt(self) -> str:
        """The chosen format name."""
        return str(self.format_box.currentData())

    def _suggest_name(self) -> None:
        current = Path(self.path_edit.text())
        base = current.parent / current.stem if current.suffix else current.parent / current.name
        self.path_edit.setText(str(base) + FILE_FORMATS.get(self.fmt, ""))

    def _browse(self) -> None:
        if self.fmt in FILE_FORMATS:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text())
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder", self.path_edit.text())
        if path:
            self.path_edit.setText(path)

    def options(self) -> FormatOptions:
        """The format options chosen."""
        polygons = self.polygons.isChecked()
        return FormatOptions(
            segmentation="polygon" if polygons else "rle",
            tolerance=self.tolerance.value(),
            labelme_shapes="mask" if polygons else "polygon",
        )


def export_project(
    parent: QWidget, project: Project, fmt: str, out: Path, options: FormatOptions | None = None
) -> _Runner:
    """Export in the background with a progress dialog (cancellable); returns the runner."""
    options = options or FormatOptions()
    dataset = dataset_from_project(project)
    root = project.path.parent if project.path else Path.cwd()
    runner = _Runner()
    dialog = QProgressDialog(f"Exporting {fmt}…", "Cancel", 0, 0, parent)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.canceled.connect(runner.cancel.set)

    def progressed(done: int, total: int) -> None:
        dialog.setMaximum(total)
        dialog.setValue(done)

    runner.progressed.connect(progressed)
    runner.done.connect(dialog.close)
    runner.failed.connect(dialog.close)
    target = out if out.is_absolute() else root / out
    runner.start(lambda progress: write_dataset(dataset, target, fmt, options, progress))
    return runner


def run_export_dialog(parent: QWidget, project: Project) -> _Runner | None:
    """Ask where and how, then export; the result is announced in the status bar."""
    default = project.path.parent if project.path else Path.home()
    dialog = ExportDialog(parent, default)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    runner = export_project(parent, project, dialog.fmt, Path(dialog.path_edit.text()), dialog.options())
    status = getattr(parent, "statusBar", None)
    if status is not None:
        runner.done.connect(lambda path: status().showMessage(f"exported to {path}", 10000))
        runner.failed.connect(lambda text: QMessageBox.warning(parent, "Export failed", text))
    parent._export_runner = runner  # type: ignore[attr-defined]  # keep it alive while it runs
    return runner


def run_import_dialog(parent: QWidget, project: Project) -> int:
    """Pick annotations of any readable format and add them to the project as one undo step."""
    path, _ = QFileDialog.getOpenFileName(parent, "Import annotations", "", "Annotations (*.json *.annot);;All (*)")
    if not path:
        folder = QFileDialog.getExistingDirectory(parent, "…or a folder of annotations (labelme, PNG, YOLO)")
        if not folder:
            return 0
        path = folder
    try:
        dataset = read_dataset(Path(path))
        count = import_dataset(project, dataset, source=str(path))
    except AnnotatorError as error:
        QMessageBox.warning(parent, "Import failed", str(error))
        return 0
    return count


__all__ = ["READABLE", "WRITABLE", "ExportDialog", "export_project", "run_export_dialog", "run_import_dialog"]
