"""GUI start-up: the QApplication and the main window (the composition root lives in views)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotator.bridge import EngineBridge
    from annotator.views.main_window import MainWindow

log = logging.getLogger(__name__)


def launch_window(path: Path | None = None, engine: str = "classic", bridge: EngineBridge | None = None) -> MainWindow:
    """Show the main window and open `path` in it, as `annotator PATH` does (a QApplication must exist)."""
    from annotator.views.main_window import MainWindow

    window = MainWindow(engine_name=engine, bridge=bridge)
    window.show()
    if path is not None:
        window.open_path(Path(path))
    return window


def run_gui(args: argparse.Namespace) -> int:
    """Open the main window on `args.path` (or the generated sample) and run the event loop."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from annotator.icons import icon_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    app.setOrganizationName("annotator")
    app.setWindowIcon(QIcon(str(icon_path())))
    path = getattr(args, "path", None)
    if getattr(args, "sample", False) and not path:
        from annotator.sample import sample_folder

        path = str(sample_folder())
    window = launch_window(Path(path) if path else None, getattr(args, "engine", None) or "classic")
    window.raise_()
    return int(app.exec())
