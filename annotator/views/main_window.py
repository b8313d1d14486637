"""The main window: the composition root that wires document, views and the engine bridge."""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import qtawesome as qta
from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSlider,
    QTextBrowser,
    QTextEdit,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from annotator import __version__
from annotator.bridge import EngineBridge
from annotator.document import Project
from annotator.document.store import SUFFIX
from annotator.errors import AnnotatorError, ProjectError
from annotator.io.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from annotator.settings import get_setting, set_setting
from annotator.views.actions import ACTIONS, MENUS, help_text
from annotator.views.banner import MessageBanner
from annotator.views.canvas import CanvasView, Tool
from annotator.views.find_panel import FindPanel
from annotator.views.labels_panel import LabelsPanel
from annotator.views.layer_list import LayerListModel, ObjectIdRole
from annotator.views.model_panel import ModelPanel
from annotator.views.object_edits import ObjectEdits
from annotator.views.propagation import PropagationController
from annotator.views.reconstruction import ReconstructionController
from annotator.views.review import ReviewController
from annotator.views.session import AnnotationSession
from annotator.views.timeline import Timeline
from annotator.views.track_tools import TrackTools
from annotator.workspace import display_name, open_path

log = logging.getLogger(__name__)

TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)  # where Space types a space


class MainWindow(QMainWindow):
    """Top-level window: navigator, canvas, layers, labels, model panel, menus from ACTIONS."""

    def __init__(self, engine_name: str = "classic", bridge: EngineBridge | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Annotator")
        self.resize(1400, 900)
        self.project: Project | None = None
        self.bridge = bridge or EngineBridge()
        self.canvas = CanvasView()
        self.banner = MessageBanner()
        self._release_lasting: Callable[[], None] | None = (
            None  # ends the claim of the status bar's lasting message (show_lasting)
        )
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.canvas, 1)
        self.setCentralWidget(central)
        self.session = AnnotationSession(self.canvas, self.bridge)
        self.navigator = QListWidget()
        self.layers = LayerListModel(self)
        self.layer_view = QListView()
        self.layer_view.setModel(self.layers)
        self.layer_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.labels_panel = LabelsPanel()
        self.model_panel = ModelPanel(self.bridge, engine_name)
        self.timeline = Timeline()
        self.propagation = PropagationController(self.bridge)
        self.actions: dict[str, QAction] = {}
        self.edits = ObjectEdits(self)
        self.review = ReviewController(self)
        self.find_panel = FindPanel(self.review)
        self._build_docks()
        self.reconstruction = ReconstructionController(self)
        self.tracks = TrackTools(self)
        self._build_actions()
        self._build_status()
        self._connect()
        self._restore_settings()
        self.model_panel.load_engine()
        # Space pans the canvas wherever the keyboard focus is (a focused button would be pressed).
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    # -- construction -----------------------------------------------------------------------------
    def _dock(self, title: str, widget: Any, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Space (press and release) over this window goes to the canvas' pan mode unless the
        keyboard focus is in a text field."""
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and isinstance(watched, QWidget):
            key_event: QKeyEvent = event  # type: ignore[assignment]
            space = key_event.key() == Qt.Key.Key_Space and not key_event.modifiers()
            if space and watched.window() is self and not isinstance(watched, TEXT_INPUTS):
                if not key_event.isAutoRepeat():
                    self.canvas.set_space_pan(kind == QEvent.Type.KeyPress)
                return True
        return super().eventFilter(watched, event)

    def _build_docks(self) -> None:
        self.items_dock = self._dock("Images", self.navigator, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Find", self.find_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Objects", self.layer_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Labels", self.labels_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.timeline_dock = self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.timeline_dock.hide()

    def _build_actions(self) -> None:
        menus = {name: self.menuBar().addMenu(f"&{name}") for name in MENUS}
        tools = QActionGroup(self)
        toolbar = QToolBar("Tools", self)
        toolbar.setObjectName("Tools")
        self.addToolBar(toolbar)
        for spec in ACTIONS:
            action = QAction(qta.icon(spec.icon), spec.text, self)
            if spec.shortcut:
                action.setShortcut(QKeySequence(spec.shortcut))
            action.setCheckable(spec.checkable)
            # Slots are called bare: triggered(bool) must never reach a parameter (it once set
            # remove_islands' min_fraction to False).
            slot = functools.reduce(getattr, spec.slot.split("."), self)
            action.triggered.connect(lambda _checked=False, run=slot: run())
            menus[spec.menu].addAction(action)
            self.actions[spec.name] = action
            if spec.name.startswith("tool_"):
                tools.addAction(action)
                toolbar.addAction(action)
        self.actions["tool_point"].setChecked(True)
        self.actions["retrack"].setChecked(self.tracks.retrack)
        toolbar.addAction(self.actions["hover"])
        toolbar.addSeparator()
        for name in ("undo", "redo", "new_object", "cycle", "fill_holes", "fit"):
            toolbar.addAction(self.actions[name])
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(5, 95)
        self.opacity_slider.setValue(int(self.canvas.opacity * 100))
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.opacity_slider.valueChanged.connect(self._set_opacity)
        toolbar.addWidget(QLabel(" Opacity "))
        toolbar.addWidget(self.opacity_slider)
        for number in range(1, 10):
            shortcut = QShortcut(QKeySequence(str(number)), self)
            shortcut.activated.connect(lambda n=number: self.edits.assign_label_number(n))

    def _build_status(self) -> None:
        self.engine_status = QLabel("engine: starting…")
        self.timing_status = QLabel("")
        self.label_status = QLabel("")
        self.label_status.setToolTip("The label that new objects get (pick another in the Labels panel or with 1…9)")
        self.review_status = QLabel("")
        self.review_status.setToolTip("Proposals waiting for review: on the item on screen, and in the whole project")
        self.statusBar().addPermanentWidget(self.review_status)
        self.statusBar().addPermanentWidget(self.label_status)
        self.statusBar().addPermanentWidget(self.timing_status)
        self.statusBar().addPermanentWidget(self.engine_status)
        self.show_new_label()

    def show_new_label(self) -> None:
        """Show in the status bar which label new objects get."""
        label_id = self.session.label_id
        name = None
        if self.project is not None and label_id is not None:
            name = next((lab.name for lab in self.project.labels if lab.id == label_id), None)
        if name is None:
            self.session.label_id = None
        self.label_status.setText(f"new objects: {name}" if name else "new objects: no label")

    def _connect(self) -> None:
        self.navigator.currentRowChanged.connect(self._show_row)
        self.layer_view.selectionModel().currentChanged.connect(self._layer_selected)
        self.session.selection_changed.connect(self.sync_layer_selection)
        self.session.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.session.failed.connect(self.banner.show_message)
        self.session.item_changed.connect(lambda _item: self.banner.dismiss())
        self.session.timing.connect(lambda what, ms: self.timing_status.setText(f"{what}: {ms:.0f} ms"))
        self.labels_panel.assign_requested.connect(self.edits.assign_label)
        self.labels_panel.failed.connect(self.banner.show_message)
        self.labels_panel.list.currentItemChanged.connect(self._label_highlighted)
        self.model_panel.status_changed.connect(self.engine_status.setText)
        self.bridge.busy_changed.connect(self.model_panel.set_busy)
        self.timeline.frame_requested.connect(self.show_frame)
        self.timeline.propagate_requested.connect(self.propagate)
        self.timeline.cancel_requested.connect(self.propagation.cancel)
        self.propagation.progressed.connect(lambda low, high: self.timeline.set_progress((low, high)))
        self.propagation.finished.connect(self._propagation_finished)
        self.propagation.progressed.connect(lambda *_: self.session.set_job_running(self.propagation.running))
        self.propagation.message.connect(self.banner.show_message)
        # Answers to what the person did: a routine "image ready" arriving just after must not wipe them.
        self.review.message.connect(lambda text: self.show_lasting(text, 8000))
        self.review.shown_changed.connect(lambda: self.review_status.setText(self.review.counts_text()))
        self.bridge.engine_ready.connect(lambda *_: self.find_panel.update_offers())

    # -- opening ----------------------------------------------------------------------------------
    def open_path(self, path: Path) -> bool:
        """Open a folder, an image or a project; errors are shown, never fatal."""
        try:
            project, first, problems = open_path(Path(path))
        except ProjectError as error:
            if "read-only" in error.problem and Path(path).suffix == SUFFIX:
                return self._open_read_only(Path(path))
            self.show_error(error)
            return False
        except AnnotatorError as error:
            self.show_error(error)
            return False
        self.banner.dismiss()
        self.set_project(project, first)
        set_setting("last_path", str(Path(path).resolve()))
        if not project.items:
            where = Path(path) if Path(path).is_dir() else Path(path).parent
            self.banner.show_message(f"{where}: no images or videos here. Add some, then open the folder again.")
        for problem in problems:
            self.banner.show_message(problem)
        return True

    def _open_read_only(self, path: Path) -> bool:
        """A read-only project: work on a temporary copy until the user saves it elsewhere."""
        copy = Path(tempfile.mkdtemp(prefix="annotator-")) / path.name
        shutil.copyfile(path, copy)
        copy.chmod(0o644)
        self.set_project(Project.open(copy), None)
        self.setWindowTitle(f"Annotator — {path.name} (read-only: edits kept in a temporary copy; Save As to keep)")
        QMessageBox.warning(
            self,
            "Read-only project",
            f"{path} is read-only.\nYour edits are kept in a temporary copy until you use File ▸ Save Project As.",
        )
        return True

    def set_project(self, project: Project, first: str | None = None) -> None:
        """Show another project (or the same one anew, after an import)."""
        if self.project is not None and self.project is not project:
            self.project.close()
        if self.project is project:
            project.events.row_changed.disconnect(self._on_row_changed)
            project.events.history_changed.disconnect(self._update_undo_actions)
            project.events.store_failed.disconnect(self._on_store_failed)
            project.events.rows_inserted.disconnect(self._on_rows)
            project.events.rows_removed.disconnect(self._on_rows)
        self.project = project
        self.session.set_project(project)
        self.review.set_project(project)
        self.find_panel.set_labels(project.labels)
        self.layers.set_project(project)
        self.labels_panel.set_project(project)
        project.events.row_changed.connect(self._on_row_changed)
        project.events.history_changed.connect(self._update_undo_actions)
        project.events.store_failed.connect(self._on_store_failed)
        project.events.rows_inserted.connect(self._on_rows)
        project.events.rows_removed.connect(self._on_rows)
        self.setWindowTitle(f"Annotator — {project.path.name if project.path else 'unsaved'}")
        self.navigator.clear()
        for item in project.items:
            self.navigator.addItem(self._navigator_entry(item))
        kinds = {item.kind for item in project.items}
        self.items_dock.setWindowTitle("Videos" if kinds == {"video"} else "Media" if len(kinds) > 1 else "Images")
        rows = [i for i, item in enumerate(project.items) if item.path == first]
        if project.items:
            self.navigator.setCurrentRow(rows[0] if rows else 0)
        else:
            self.session.show_item(None)
            self.layers.set_item(None)
            self.timeline_dock.hide()
        self.show_new_label()
        self._update_undo_actions()

    def _on_store_failed(self, message: str) -> None:
        self.setWindowTitle(f"{self.windowTitle()} — NOT SAVED: use File ▸ Save Project As")
        self.show_error(AnnotatorError(message))

    def _navigator_entry(self, item: Any) -> QListWidgetItem:
        entry = QListWidgetItem(self._entry_text(item))
        if item.kind == "video":
            entry.setIcon(qta.icon("fa5s.film"))
            entry.setToolTip(f"video: {item.frame_count} frames, {item.fps:.2f} fps, {item.width}x{item.height}")
        entry.setData(Qt.ItemDataRole.UserRole, item.id)
        return entry

    def _on_row_changed(self, kind: str, before: Any, after: Any) -> None:
        if kind == "item" and self.project is not None:
            row = self.project.items.index(after)
            self.navigator.item(row).setText(self._entry_text(after))
        elif kind == "label" and self.project is not None:
            self.find_panel.set_labels(self.project.labels)

    def _on_rows(self, kind: str, parent: int, _index: int, _row: Any) -> None:
        """Proposals added or gone: the item's count in the Images list; labels: the Find panel's."""
        if self.project is None:
            return
        if kind == "label":
            self.find_panel.set_labels(self.project.labels)
        elif kind == "proposal" and parent in {item.id for item in self.project.items}:
            item = self.project.item(parent)
            self.navigator.item(self.project.items.index(item)).setText(self._entry_text(item))
            self.review_status.setText(self.review.counts_text())
            if self.actions["only_to_review"].isChecked():
                self.review.apply_filter(True)

    def _entry_text(self, item: Any) -> str:
        assert self.project is not None
        waiting = self.project.proposal_counts().get(item.id, 0)
        suffix = f"  · {waiting} to review" if waiting else ""
        return ("✔ " if item.done else "   ") + display_name(self.project, item.path) + suffix

    def _show_row(self, row: int) -> None:
        if self.project is None or not 0 <= row < len(self.project.items):
            return
        items = self.project.items
        prefetch = [items[i].id for i in (row + 1, row + 2) if i < len(items)]
        if self.propagation.running:
            self.propagation.cancel()
        item = items[row]
        self.layers.set_item(item.id)
        self.session.show_item(item.id, prefetch if item.kind == "image" else [])
        self.review.item_changed()
        is_video = item.kind == "video" and self.session.frames is not None
        self.timeline_dock.setVisible(is_video)
        if is_video:
            self.timeline.set_item(self.project, item.id, item.frame_count, item.fps)
            self.timeline.set_current(0)
        self.tracks.refresh()

    # -- slots named in ACTIONS -------------------------------------------------------------------
    def choose_folder(self) -> None:
        """Ask for a folder of images and open it."""
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images", get_setting("last_path", ""))
        if folder:
            self.open_path(Path(folder))

    def choose_image(self) -> None:
        """Ask for an image and open it (with its folder)."""
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", f"Images ({patterns})")
        if path:
            self.open_path(Path(path))

    def choose_video(self) -> None:
        """Ask for a video file and open it (with the other media of its folder)."""
        patterns = " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video", get_setting("last_path", ""), f"Videos ({patterns});;All files (*)"
        )
        if path:
            self.open_path(Path(path))

    def choose_project(self) -> None:
        """Ask for a project file and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", f"Projects (*{SUFFIX})")
        if path:
            self.open_path(Path(path))

    def save_as(self, path: Path | None = None) -> bool:
        """Write the project to a new file and continue there."""
        if self.project is None:
            return False
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save project as", "", f"Projects (*{SUFFIX})")
            if not chosen:
                return False
            path = Path(chosen if chosen.endswith(SUFFIX) else chosen + SUFFIX)
        try:
            saved = self.project.save_as(path)
        except AnnotatorError as error:
            self.show_error(error)
            return False
        current = self.session.item.path if self.session.item else None
        self.set_project(saved, current)
        self.statusBar().showMessage(f"saved as {path}", 8000)
        return True

    def export_dialog(self) -> None:
        """Export the project (the formats of annotator.io)."""
        from annotator.views.export_dialog import run_export_dialog

        if self.project is not None:
            run_export_dialog(self, self.project)

    def import_dialog(self) -> None:
        """Add annotations from a file or folder of any readable format (one undo step)."""
        from annotator.views.export_dialog import run_import_dialog

        if self.project is not None:
            report = run_import_dialog(self, self.project)
            if report is not None and (report.masks or report.items_added):
                self.set_project(self.project, self.session.item.path if self.session.item else None)
            if report is not None:
                summary = report.summary()
                self.show_lasting(summary[:1].upper() + summary[1:])

    def show_lasting(self, text: str, ms: int = 15000) -> None:
        """Show `text` in the status bar, and again after the session's next routine message within
        3 s (the "image ready" of a reload would otherwise replace it within milliseconds). A newer
        lasting message ends the older one's claim."""
        if self._release_lasting is not None:
            self._release_lasting()
        bar = self.statusBar()
        bar.showMessage(text, ms)
        connected = [True]

        def release() -> None:
            if connected[0]:
                connected[0] = False
                self.session.message.disconnect(again)

        def again(_routine: str) -> None:
            release()
            QTimer.singleShot(0, bar, show_again)

        def show_again() -> None:
            if self._release_lasting is release:  # no newer lasting message meanwhile
                bar.showMessage(text, ms)

        self.session.message.connect(again)
        self._release_lasting = release
        QTimer.singleShot(3000, self, release)

    def choose_label_set(self) -> None:
        """Load labels from a text or JSON file."""
        path, _ = QFileDialog.getOpenFileName(self, "Load label set", "", "Label sets (*.txt *.json)")
        if path:
            try:
                count = self.labels_panel.load_label_set(Path(path))
                self.statusBar().showMessage(f"{count} labels added", 5000)
            except AnnotatorError as error:
                self.show_error(error)

    def undo(self) -> None:
        """Undo the last edit."""
        if self.project is not None and self.project.undo():
            self.session.select(self.session.selected if self._selected_exists() else None)

    def redo(self) -> None:
        """Redo the last undone edit."""
        if self.project is not None and self.project.redo():
            self.session.select(self.session.selected if self._selected_exists() else None)

    def _selected_exists(self) -> bool:
        if self.project is None or self.session.selected is None:
            return False
        try:
            self.project.object(self.session.selected)
            return True
        except AnnotatorError:
            return False

    def focus_find(self) -> None:
        """Show the Find panel and put the cursor in its phrase field."""
        self.find_panel.parentWidget().show()
        self.find_panel.parentWidget().raise_()
        self.find_panel.phrase.setFocus()
        self.find_panel.phrase.selectAll()

    def use_point_tool(self) -> None:
        """Clicks make points."""
        self.canvas.set_tool(Tool.POINT)

    def use_box_tool(self) -> None:
        """Drags make boxes."""
        self.canvas.set_tool(Tool.BOX)

    def use_brush_tool(self) -> None:
        """Drags paint."""
        self.canvas.set_tool(Tool.BRUSH)

    def use_eraser_tool(self) -> None:
        """Drags erase."""
        self.canvas.set_tool(Tool.ERASER)

    def use_lasso_tool(self) -> None:
        """Drags outline an area to add (right-drag: remove)."""
        self.canvas.set_tool(Tool.LASSO)

    def toggle_hover(self) -> None:
        """Preview the mask under the cursor."""
        self.canvas.hover_enabled = self.actions["hover"].isChecked()
        if not self.canvas.hover_enabled:
            self.canvas.set_preview(None)

    def zoom_in(self) -> None:
        """Zoom in."""
        self.canvas.zoom(1.25)

    def zoom_out(self) -> None:
        """Zoom out."""
        self.canvas.zoom(0.8)

    def next_item(self) -> None:
        """Go to the next image."""
        self.navigator.setCurrentRow(min(self.navigator.currentRow() + 1, self.navigator.count() - 1))

    def previous_item(self) -> None:
        """Go to the previous image."""
        self.navigator.setCurrentRow(max(self.navigator.currentRow() - 1, 0))

    def show_help(self) -> None:
        """The shortcut list, in a scrolling dialog that fits any screen."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        text = QTextBrowser()
        text.setHtml(help_text())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        screen = self.screen().availableGeometry() if self.screen() else None
        height = min(720, int(screen.height() * 0.8)) if screen else 600
        dialog.resize(560, height)
        dialog.show()
        self._help_dialog = dialog

    # -- video ----------------------------------------------------------------------------------
    def show_frame(self, frame: int) -> None:
        """Show frame `frame` of the video on screen."""
        if self.session.show_frame(frame):
            self.timeline.set_current(frame)
            self.review.refresh()
            self.tracks.refresh()

    def next_frame(self) -> None:
        """One frame forward."""
        self.timeline.step(1)

    def previous_frame(self) -> None:
        """One frame back."""
        self.timeline.step(-1)

    def propagate(self, direction: str) -> bool:
        """Propagate the selected objects (all, when none is selected) from the current frame."""
        session = self.session
        if self.project is None or session.item is None or session.frames is None:
            self.statusBar().showMessage("propagation needs a video on screen", 8000)
            return False
        ids = self.edits.selected_ids() or [obj.id for obj in self.project.objects(session.item.id)]
        return self.propagation.start(self.project, session.item.id, session.frames, session.frame, ids, direction)  # type: ignore[arg-type]

    def propagate_forward(self) -> None:
        """Propagate forward from the current frame."""
        self.propagate("forward")

    def propagate_backward(self) -> None:
        """Propagate backward from the current frame."""
        self.propagate("backward")

    def propagate_both(self) -> None:
        """Propagate both ways from the current frame."""
        self.propagate("both")

    def _propagation_finished(self, cancelled: bool, frames: int) -> None:
        self.session.set_job_running(False)
        self.timeline.set_progress(None)
        self.timeline.reload_tracks()
        state = "stopped" if cancelled else "finished"
        self.statusBar().showMessage(f"propagation {state}: {frames} frames written (one undo step)", 8000)
        self._update_undo_actions()

    # -- labels, layers, helpers ----------------------------------------------------------------
    def _label_highlighted(self, current: QListWidgetItem | None, _previous: Any) -> None:
        if current is not None:
            self.session.label_id = int(current.data(Qt.ItemDataRole.UserRole))
            self.show_new_label()

    def _layer_selected(self, current: Any, _previous: Any) -> None:
        object_id = current.data(ObjectIdRole) if current.isValid() else None
        if object_id != self.session.selected:
            self.session.select(object_id)

    def sync_layer_selection(self, object_id: int | None) -> None:
        """Select `object_id`'s row in the Objects list (none: clear the selection)."""
        row = -1 if object_id is None else self.layers.row_of(object_id)
        selection = self.layer_view.selectionModel()
        if row < 0:
            selection.clearSelection()
            selection.setCurrentIndex(self.layers.index(-1), selection.SelectionFlag.Clear)
        elif selection.currentIndex().row() != row:
            selection.setCurrentIndex(self.layers.index(row), selection.SelectionFlag.ClearAndSelect)

    def _set_opacity(self, value: int) -> None:
        self.canvas.opacity = value / 100.0
        self.session.refresh_overlays()

    def _update_undo_actions(self) -> None:
        history = self.project.history if self.project else None
        self.actions["undo"].setEnabled(bool(history and history.can_undo))
        self.actions["redo"].setEnabled(bool(history and history.can_redo))
        self.actions["undo"].setText(f"&Undo {history.undo_description}" if history else "&Undo")
        self.actions["redo"].setText(f"&Redo {history.redo_description}" if history else "&Redo")

    def show_error(self, error: BaseException) -> None:
        """Show a domain error in the banner over the canvas, where it stays until the user acts."""
        log.warning("%s", error)
        self.banner.show_message(str(error))
        self.last_error = str(error)

    # -- settings ---------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = get_setting("geometry", None)
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))
        state = get_setting("window_state", None)
        if state:
            self.restoreState(QByteArray.fromBase64(state.encode()))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the layout, stop the engine thread, close the project (all edits are saved)."""
        set_setting("geometry", bytes(self.saveGeometry().toBase64().data()).decode())
        set_setting("window_state", bytes(self.saveState().toBase64().data()).decode())
        self.tracks.cancel_all()
        self.reconstruction.cancel()
        self.bridge.stop()
        self.session._close_frames()
        if self.project is not None and self.project.in_group:
            self.project.end_group()
        if self.project is not None:
            self.project.close()
            self.project = None
        super().closeEvent(event)

    @staticmethod
    def about_text() -> str:
        """Text of the About box."""
        return f"Annotator {__version__}: masks for images and videos with local Segment-Anything models"
