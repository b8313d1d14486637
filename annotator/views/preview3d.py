"""Preview3D: the 3D panel: the mesh and the splat's centres in an orbit view, save and open buttons.

The view is pyqtgraph's GLViewWidget (drag to orbit, wheel to zoom, middle-drag to pan). It needs
an OpenGL context; where there is none (QT_QPA_PLATFORM=offscreen, some remote desktops) the panel
says so in place of the view, and saving and opening in another viewer still work.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from model.errors import EngineError
from model.reconstruct import Reconstruction
from model.reconstruct.files import read_glb, read_splat

log = logging.getLogger(__name__)

NO_OPENGL = (
    "No OpenGL here, so the 3D view cannot be drawn. Save the asset, or open it in an external viewer "
    "(Blender, a glTF viewer, SuperSplat for the PLY)."
)


def opengl_available() -> bool:
    """True when an OpenGL context can be made current (what the 3D view needs)."""
    if QGuiApplication.platformName() in ("offscreen", "minimal"):
        return False
    context = QOpenGLContext()
    if not context.create():
        return False
    surface = QOffscreenSurface()
    surface.create()
    ok = surface.isValid() and context.makeCurrent(surface)
    if ok:
        context.doneCurrent()
    return bool(ok)


class Preview3D(QWidget):
    """Shows one Reconstruction; Save as GLB / PLY; Open in External Viewer."""

    saved = Signal(str)  # the path written
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Reconstruction | None = None
        self.name = "object"
        self.summary = QLabel("Select an object and use Edit ▸ Make 3D Asset.")
        self.summary.setWordWrap(True)
        self.view: QWidget | None = None
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.show_mesh = QCheckBox("Mesh")
        self.show_splat = QCheckBox("Splat points")
        self.show_mesh.setChecked(True)
        self.show_mesh.toggled.connect(self._redraw)
        self.show_splat.toggled.connect(self._redraw)
        self.save_glb = QPushButton("Save as GLB…")
        self.save_ply = QPushButton("Save as PLY…")
        self.open_external = QPushButton("Open in External Viewer")
        self.save_glb.clicked.connect(lambda: self.save("glb"))
        self.save_ply.clicked.connect(lambda: self.save("ply"))
        self.open_external.clicked.connect(self.open_in_viewer)
        toggles = QHBoxLayout()
        toggles.addWidget(self.show_mesh)
        toggles.addWidget(self.show_splat)
        toggles.addStretch(1)
        buttons = QHBoxLayout()
        for button in (self.save_glb, self.save_ply, self.open_external):
            buttons.addWidget(button)
        self.column = QVBoxLayout(self)
        self.column.addWidget(self.summary)
        self.column.addWidget(self.message, 1)
        self.column.addLayout(toggles)
        self.column.addLayout(buttons)
        self._items: list[object] = []
        self._set_enabled(False)

    # -- showing ------------------------------------------------------------------------------------
    def show_result(self, result: Reconstruction, name: str) -> None:
        """Show a new asset (the previous one is dropped)."""
        self.result, self.name = result, name
        self.summary.setText(f"<b>{name}</b>: {result.kind} ({result.backend}). {result.notes}")
        self._set_enabled(True)
        self._redraw()

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.save_glb, self.save_ply, self.open_external, self.show_mesh, self.show_splat):
            widget.setEnabled(enabled)

    def _ensure_view(self) -> QWidget | None:
        if self.view is None and opengl_available():
            import pyqtgraph.opengl as gl

            self.view = gl.GLViewWidget()
            self.view.setMinimumHeight(240)
            self.column.replaceWidget(self.message, self.view)
            self.message.hide()
        if self.view is None:
            self.message.setText(NO_OPENGL)
        return self.view

    def _redraw(self) -> None:
        if self.result is None:
            return
        view = self._ensure_view()
        if view is None:
            return
        import pyqtgraph.opengl as gl

        for item in self._items:
            view.removeItem(item)  # type: ignore[attr-defined]
        self._items = []
        try:
            mesh, splat = read_glb(self.result.glb), read_splat(self.result.ply)
        except EngineError as error:
            self.failed.emit(str(error))
            return
        if self.show_mesh.isChecked():
            item = gl.GLMeshItem(
                vertexes=mesh.vertices, faces=mesh.faces, vertexColors=mesh.colours, smooth=False, glOptions="opaque"
            )
            self._items.append(item)
        if self.show_splat.isChecked():
            item = gl.GLScatterPlotItem(pos=splat.positions, color=splat.colours, size=2.0, glOptions="translucent")
            self._items.append(item)
        for item in self._items:
            view.addItem(item)  # type: ignore[attr-defined]
        low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
        from PySide6.QtGui import QVector3D

        centre = (low + high) / 2
        view.setCameraPosition(  # type: ignore[attr-defined]
            pos=QVector3D(*map(float, centre)),
            distance=float(2.2 * np.linalg.norm(high - low) + 1e-6),
            elevation=10,
            azimuth=-90,  # look along -z, as the photo's camera did
        )

    # -- files --------------------------------------------------------------------------------------
    def save(self, kind: str, path: Path | None = None) -> Path | None:
        """Write the GLB or the PLY (asks where when `path` is None); returns the path written."""
        if self.result is None:
            return None
        if path is None:
            pattern = "glTF binary (*.glb)" if kind == "glb" else "Gaussian splat PLY (*.ply)"
            chosen, _ = QFileDialog.getSaveFileName(
                self, f"Save 3D asset as {kind.upper()}", f"{self.name}.{kind}", pattern
            )
            if not chosen:
                return None
            path = Path(chosen if chosen.lower().endswith(f".{kind}") else f"{chosen}.{kind}")
        data = self.result.glb if kind == "glb" else self.result.ply
        try:
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            partial.replace(path)
        except OSError as error:
            self.failed.emit(f"{path}: cannot be written: {error.strerror or error}")
            return None
        self.saved.emit(str(path))
        return path

    def open_in_viewer(self) -> Path | None:
        """Write the GLB to a temporary file and hand it to the desktop's viewer for .glb files."""
        if self.result is None:
            return None
        path = Path(tempfile.mkdtemp(prefix="annotator-3d-")) / f"{self.name}.glb"
        path.write_bytes(self.result.glb)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.failed.emit(f"no viewer for .glb files is set up on this desktop; the asset is in {path}")
        return path
