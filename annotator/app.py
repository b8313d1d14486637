"""GUI start-up: the QApplication and the main window (the composition root lives in views)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def run_gui(args: argparse.Namespace) -> int:
    """Open the main window on `args.path` (or the generated sample) and run the event loop."""
    from PySide6.QtWidgets import QApplication

    from annotator.views.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    app.setOrganizationName("annotator")
    window = MainWindow(engine_name=getattr(args, "engine", None) or "classic")
    window.show()
    path = getattr(args, "path", None)
    if getattr(args, "sample", False) and not path:
        from annotator.sample import sample_folder

        path = str(sample_folder())
    if path:
        window.open_path(Path(path))
    return int(app.exec())
