"""The main window: the composition root that wires document, views and the engine bridge."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
)

from annotator import __version__

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class MainWindow(QMainWindow):
    """Top-level window: navigation list, canvas, menus and status bar."""

    def __init__(self, engine_name: str = "classic") -> None:
        super().__init__()
        self.engine_name = engine_name
        self.setWindowTitle("Annotator")
        self.resize(1280, 800)
        self.item_list = QListWidget()
        self.scene = QGraphicsScene(self)
        self.view = QGraphicsView(self.scene)
        self._pixmap_item = QGraphicsPixmapItem()
        self.scene.addItem(self._pixmap_item)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.item_list)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.engine_status = QLabel(f"Engine: {engine_name}")
        self.statusBar().addPermanentWidget(self.engine_status)
        self._paths: list[Path] = []
        self.item_list.currentRowChanged.connect(self._show_row)
        self._build_menus()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open Folder…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_folder)
        file_menu.addAction(open_action)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(
            lambda: QMessageBox.about(self, "Annotator", f"Annotator {__version__}: masks with local SAM models")
        )
        help_menu.addAction(about)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images")
        if folder:
            self.open_path(Path(folder))

    def open_path(self, path: Path) -> None:
        """Open an image or a folder of images."""
        if path.is_dir():
            paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            paths = [path]
        else:
            self.statusBar().showMessage(f"{path}: not an image or a folder of images", 8000)
            return
        self._paths = paths
        self.item_list.clear()
        self.item_list.addItems([p.name for p in paths])
        if paths:
            self.item_list.setCurrentRow(0)
        self.statusBar().showMessage(f"Opened {path} ({len(paths)} images)", 5000)

    def _show_row(self, row: int) -> None:
        if not 0 <= row < len(self._paths):
            return
        pixmap = QPixmap(str(self._paths[row]))
        if pixmap.isNull():
            self.statusBar().showMessage(f"{self._paths[row]}: cannot be read as an image", 8000)
            return
        self._pixmap_item.setPixmap(pixmap)
        self.scene.setSceneRect(self._pixmap_item.boundingRect())
        self.view.fitInView(self._pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)

    @property
    def image_paths(self) -> list[Path]:
        """The images of the open folder, in navigation order."""
        return list(self._paths)
