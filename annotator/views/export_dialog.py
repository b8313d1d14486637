"""Export and import from the GUI: the formats of annotator.io, written off the GUI thread with progress.

Both dialogs remember what was chosen last (annotator.settings): the export format and options
globally, the export destination per project file; the import folder, format and strictness.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from annotator.document import Project
from annotator.errors import AnnotatorError
from annotator.io.formats import NEEDS_LABEL, READABLE, WRITABLE, FormatOptions, import_annotations, write_dataset
from annotator.io.matching import media_root
from annotator.io.project_io import ImportReport, dataset_from_project
from annotator.settings import get_setting, set_setting

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    "coco": "COCO instance segmentation (JSON)",
    "ytvis": "YouTube-VIS (JSON, videos)",
    "labelme": "labelme JSON (one file per image)",
    "rle": "RLE JSON",
    "png": "Index PNG masks (one index per object)",
    "semantic": "Semantic PNG masks (pixel = label) + label map",
    "yolo": "YOLO segmentation (Ultralytics dataset: images, labels, data.yaml)",
    "mot": "MOT box tracks (CSV, videos)",
    "mot-gt": "MOT ground truth (gt/gt.txt + seqinfo.ini per sequence, for training)",
    "points": "Point tracks (npz, videos)",
    "project": "Annotator project (.annot)",
}
FILE_FORMATS = {"coco": ".json", "ytvis": ".json", "rle": ".json", "project": ".annot", "mot": ".csv", "points": ".npz"}
DEFAULT_UNLABELLED = "object"
"""The label name offered for objects without a label."""


def _setting_dict(key: str) -> dict[str, Any]:
    value = get_setting(key, {})
    return value if isinstance(value, dict) else {}


def _project_key(project: Project) -> str:
    return str(project.path.resolve()) if project.path else ""


class _Cancelled(Exception):
    pass


class _Runner(QObject):
    """Runs one export in a Python thread; its signals come on the GUI thread (`finished` last).

    The thread only stores its progress and result; a timer of the GUI thread reads them and
    emits, so no Qt signal is emitted from the export thread.
    """

    progressed = Signal(int, int)
    done = Signal(str)
    failed = Signal(str)
    finished = Signal()
    POLL_MS = 50

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel = threading.Event()
        self._latest = (0, 0)
        self._shown = (0, 0)
        self._result: tuple[bool, str] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self, job: Any) -> None:
        """Run `job(progress)` in a thread; `done` carries its result as text, `failed` the error."""

        def run() -> None:
            try:
                result = (True, str(job(self._progress)))
            except _Cancelled:
                result = (False, "cancelled")
            except Exception as error:  # shown to the user; the app keeps running
                log.exception("export failed")
                result = (False, str(error))
            self._result = result

        # Collect garbage here, on the GUI thread: a collection that starts in the export thread
        # would free unreachable Qt objects there, which crashes Qt.
        gc.collect()
        self._timer.start()
        threading.Thread(target=run, name="export", daemon=True).start()

    def _progress(self, done: int, total: int) -> None:
        if self.cancel.is_set():
            raise _Cancelled
        self._latest = (done, total)

    def _poll(self) -> None:
        if self._latest != self._shown:
            self._shown = self._latest
            self.progressed.emit(*self._shown)
        if self._result is None:
            return
        self._timer.stop()
        ok, text = self._result
        (self.done if ok else self.failed).emit(text)
        self.finished.emit()


class ExportDialog(QDialog):
    """Choose a format, a destination and the options that matter for it (remembered for next time)."""

    def __init__(
        self, parent: QWidget | None, default_folder: Path, unlabelled: int = 0, project_key: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self.unlabelled = unlabelled
        self.project_key = project_key
        self.format_box = QComboBox()
        for name in WRITABLE:
            self.format_box.addItem(DESCRIPTIONS.get(name, name), name)
        self.path_edit = QLineEdit(str(default_folder / "export"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit)
        row.addWidget(browse)
        # One option per format, each saying what it does there (COCO's default is RLE, labelme's
        # polygons, so one "polygons" box cannot mean the same for both).
        self.polygons = QCheckBox("Polygons instead of RLE (COCO / YouTube-VIS)")
        self.labelme_masks = QCheckBox("Mask shapes (exact bitmaps) instead of polygons (labelme)")
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setRange(0.0, 10.0)
        self.tolerance.setSingleStep(0.25)
        self.tolerance.setValue(FormatOptions().tolerance)
        self.tolerance.setSuffix(" px")
        self.unlabelled_info = QLabel()
        self.unlabelled_info.setWordWrap(True)
        self.include_unlabelled = QCheckBox()
        self.unlabelled_name = QLineEdit(DEFAULT_UNLABELLED)
        self.unlabelled_name.setToolTip("The label name that objects without a label are exported under")
        unlabelled_row = QHBoxLayout()
        unlabelled_row.addWidget(self.include_unlabelled, 1)
        unlabelled_row.addWidget(self.unlabelled_name)
        layout = QFormLayout(self)
        layout.addRow("Format", self.format_box)
        layout.addRow("Destination", row)
        layout.addRow(self.polygons)
        layout.addRow(self.labelme_masks)
        layout.addRow("Polygon tolerance", self.tolerance)
        self._layout = layout
        layout.addRow(self.unlabelled_info)
        layout.addRow(unlabelled_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)
        self._restore()
        self.format_box.currentIndexChanged.connect(self._format_changed)
        self.polygons.toggled.connect(self._show_shape_options)
        self.labelme_masks.toggled.connect(self._show_shape_options)
        self.unlabelled_name.textChanged.connect(self._show_unlabelled)
        self.include_unlabelled.toggled.connect(self._show_unlabelled)
        self._show_shape_options()
        self._show_unlabelled()

    @property
    def fmt(self) -> str:
        """The chosen format name."""
        return str(self.format_box.currentData())

    def _restore(self) -> None:
        """Last time's format and options, and this project's last destination."""
        index = self.format_box.findData(get_setting("export_format", "coco"))
        self.format_box.setCurrentIndex(max(index, 0))
        options = _setting_dict("export_options")
        self.polygons.setChecked(bool(options.get("polygons", False)))
        self.labelme_masks.setChecked(bool(options.get("labelme_masks", False)))
        tolerance = options.get("tolerance")
        if isinstance(tolerance, int | float):
            self.tolerance.setValue(float(tolerance))
        self.include_unlabelled.setChecked(bool(options.get("include_unlabelled", False)))
        name = options.get("unlabelled_name")
        if isinstance(name, str) and name.strip():
            self.unlabelled_name.setText(name)
        destination = _setting_dict("export_destinations").get(self.project_key)
        if isinstance(destination, str) and destination:
            self.path_edit.setText(destination)
        self._suggest_name()

    def remember(self) -> None:
        """Keep the choices for the next export."""
        set_setting("export_format", self.fmt)
        options = {"polygons": self.polygons.isChecked(), "labelme_masks": self.labelme_masks.isChecked()}
        options["tolerance"] = self.tolerance.value()
        options.update(include_unlabelled=self.include_unlabelled.isChecked(), unlabelled_name=self._name())
        set_setting("export_options", options)
        if self.project_key:
            destinations = _setting_dict("export_destinations")
            destinations[self.project_key] = self.path_edit.text()
            set_setting("export_destinations", destinations)

    def _name(self) -> str:
        return self.unlabelled_name.text().strip() or DEFAULT_UNLABELLED

    def _format_changed(self) -> None:
        self._suggest_name()
        self._show_shape_options()
        self._show_unlabelled()

    def writes_polygons(self) -> bool:
        """True when the chosen format and options write polygons (the tolerance then matters)."""
        fmt = self.fmt
        if fmt in ("coco", "ytvis"):
            return self.polygons.isChecked()
        return fmt == "yolo" or (fmt == "labelme" and not self.labelme_masks.isChecked())

    def _show_shape_options(self) -> None:
        """Show the shape option of the chosen format only; the tolerance only where polygons are written."""
        self._layout.setRowVisible(self.polygons, self.fmt in ("coco", "ytvis"))
        self._layout.setRowVisible(self.labelme_masks, self.fmt == "labelme")
        self.tolerance.setEnabled(self.writes_polygons())

    def _show_unlabelled(self) -> None:
        """Say how many objects have no label and what this format does with them."""
        count, needs = self.unlabelled, self.fmt in NEEDS_LABEL
        objects = f"{count} object{'s' if count != 1 else ''}"
        if not count:
            text = ""
        elif not needs:
            text = f"{objects} without a label: this format keeps them without one."
        elif self.include_unlabelled.isChecked():
            text = f"{objects} without a label will be exported with the label '{self._name()}'."
        else:
            text = f"{objects} without a label will be left out: this format needs a label for every object."
        self.unlabelled_info.setText(text)
        self.unlabelled_info.setVisible(bool(count))
        self.include_unlabelled.setText(f"Include objects without a label as '{self._name()}'")
        for widget in (self.include_unlabelled, self.unlabelled_name):
            widget.setVisible(bool(count))
            widget.setEnabled(needs)

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
        return FormatOptions(
            segmentation="polygon" if self.polygons.isChecked() else "rle",
            tolerance=self.tolerance.value(),
            labelme_shapes="mask" if self.labelme_masks.isChecked() else "polygon",
            unlabelled=self._name() if self.include_unlabelled.isChecked() else None,
        )

    def left_out(self) -> int:
        """How many objects the chosen export leaves out for having no label."""
        needs = self.fmt in NEEDS_LABEL and not self.include_unlabelled.isChecked()
        return self.unlabelled if needs else 0


def _ask(dialog: ExportDialog | ImportDialog) -> bool:
    """Run a dialog; when accepted, remember its choices. It is deleted afterwards, on the GUI thread."""
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    if accepted:
        dialog.remember()
    dialog.deleteLater()
    return accepted


def export_project(
    parent: QWidget, project: Project, fmt: str, out: Path, options: FormatOptions | None = None
) -> _Runner:
    """Export in the background with a progress dialog (cancellable); returns the runner.

    Images are named relative to the project's media folder unless `options.images` says otherwise.
    """
    options = options or FormatOptions()
    dataset = dataset_from_project(project)
    root = media_root(project) or Path.cwd()
    options = options if options.images is not None else replace(options, images=root)
    runner = _Runner(parent)
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
    runner.finished.connect(dialog.deleteLater)
    runner.finished.connect(runner.deleteLater)
    target = out if out.is_absolute() else root / out
    log.info("exporting %s to %s", fmt, target)
    runner.start(lambda progress: write_dataset(dataset, target, fmt, options, progress))
    return runner


def unlabelled_objects(project: Project) -> int:
    """How many objects of the project have no label."""
    return sum(1 for item in project.items for obj in project.objects(item.id) if obj.label_id is None)


def run_export_dialog(parent: QWidget, project: Project) -> _Runner | None:
    """Ask where and how, then export; the result is announced in the status bar."""
    default = media_root(project) or Path.home()
    dialog = ExportDialog(parent, default, unlabelled_objects(project), _project_key(project))
    if not _ask(dialog):
        return None
    left_out, fmt, out, options = dialog.left_out(), dialog.fmt, Path(dialog.path_edit.text()), dialog.options()
    runner = export_project(parent, project, fmt, out, options)
    status = getattr(parent, "statusBar", None)
    if status is not None:
        objects, verb = (f"{left_out} objects", "were") if left_out != 1 else ("1 object", "was")
        note = f"; {objects} without a label {verb} left out" if left_out else ""
        runner.done.connect(lambda path: status().showMessage(f"exported to {path}{note}", 10000))
        runner.failed.connect(lambda text: QMessageBox.warning(parent, "Export failed", text))
    parent._export_runner = runner  # type: ignore[attr-defined]  # keep it alive while it runs
    return runner


class ImportDialog(QDialog):
    """Pick annotations (a file or a folder), their format (detected by default) and how strict to be."""

    def __init__(self, parent: QWidget | None, root: Path | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import annotations")
        self.setMinimumWidth(640)
        self.format_box = QComboBox()
        self.format_box.addItem("Detect automatically", None)
        for name in READABLE:
            self.format_box.addItem(DESCRIPTIONS.get(name, name), name)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("an annotation file, or a folder of them")
        choose_file = QPushButton("File…")
        choose_file.clicked.connect(self._browse_file)
        choose_folder = QPushButton("Folder…")
        choose_folder.clicked.connect(self._browse_folder)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(choose_file)
        row.addWidget(choose_folder)
        self.strict = QCheckBox("Strict: refuse the import if some of its images are missing")
        where = f"below {root}" if root else "in the project"
        note = QLabel(f"Images are matched by their path {where}, else by file name; missing ones are reported.")
        note.setWordWrap(True)
        layout = QFormLayout(self)
        layout.addRow("Annotations", row)
        layout.addRow("Format", self.format_box)
        layout.addRow(self.strict)
        layout.addRow(note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addRow(self.buttons)
        self.path_edit.textChanged.connect(self._update_ok)
        self.folder = str(get_setting("import_folder", "") or (root or ""))
        self.format_box.setCurrentIndex(max(self.format_box.findData(get_setting("import_format", None)), 0))
        self.strict.setChecked(bool(get_setting("import_strict", False)))
        self._update_ok()

    @property
    def fmt(self) -> str | None:
        """The chosen format name, or None to detect it."""
        data = self.format_box.currentData()
        return str(data) if data else None

    @property
    def path(self) -> Path:
        """The chosen file or folder."""
        return Path(self.path_edit.text().strip()).expanduser()

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.path_edit.text().strip()))

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import annotations", self.folder, "Annotations (*.json *.annot);;All (*)"
        )
        if path:
            self.path_edit.setText(path)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of annotations (labelme, PNG, YOLO)", self.folder)
        if folder:
            self.path_edit.setText(folder)

    def remember(self) -> None:
        """Keep the folder, format and strictness for the next import."""
        path = self.path
        set_setting("import_folder", str(path.parent if path.is_file() else path))
        set_setting("import_format", self.fmt)
        set_setting("import_strict", self.strict.isChecked())


def report_missing(parent: QWidget, report: ImportReport, source: Path, root: Path | None) -> QMessageBox:
    """Tell the person which images of an import were not found (a message that does not block)."""
    count = len(report.missing)
    where = f" in {root}" if root else ""
    text = (
        f"{count} image{'s' if count != 1 else ''} named in {source.name} {'are' if count != 1 else 'is'} "
        f"not{where} and {'were' if count != 1 else 'was'} skipped: {report.missing_text()}."
    )
    box = QMessageBox(QMessageBox.Icon.Information, "Images not found", text, QMessageBox.StandardButton.Ok, parent)
    summary = report.summary()
    box.setInformativeText(summary[:1].upper() + summary[1:] + ".")
    box.setObjectName("import_report")
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box


def run_import_dialog(parent: QWidget, project: Project) -> ImportReport | None:
    """Ask for annotations of any readable format and add them to the project as one undo step.

    Returns what was imported (None when cancelled or refused); missing images are shown in a message.
    """
    root = media_root(project)
    dialog = ImportDialog(parent, root)
    if not _ask(dialog):
        return None
    path, fmt, strict = dialog.path, dialog.fmt, dialog.strict.isChecked()
    try:
        report = import_annotations(project, path, fmt, strict=strict)
    except AnnotatorError as error:
        QMessageBox.warning(parent, "Import failed", str(error))
        return None
    log.info("%s", report.summary())
    if report.missing:
        report_missing(parent, report, path, root)
    return report


__all__ = [
    "READABLE",
    "WRITABLE",
    "ExportDialog",
    "ImportDialog",
    "export_project",
    "run_export_dialog",
    "run_import_dialog",
]
