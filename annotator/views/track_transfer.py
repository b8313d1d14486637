"""Export and import of box and point tracks from the Track menu (the formats of annotator/io/track_convert.py).

Export writes the project's tracks (every video item with one) in the chosen format; import reads
a file or folder and adds its tracks to the project, each video found by name, as one undo step.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog

from annotator.errors import AnnotatorError
from annotator.io.track_convert import (
    TRACK_READABLE,
    TRACK_WRITABLE,
    add_tracksets,
    read_tracks,
    tracksets_from_project,
    write_tracks,
)

if TYPE_CHECKING:
    from annotator.views.main_window import MainWindow

FILE_FORMATS = {"cvat-video": "CVAT for video XML (*.xml)", "tapvid": "TAP-Vid (*.pkl *.npz)"}
"""Formats kept in one file (for one video); the others are folders."""


def _format(window: MainWindow, title: str, names: tuple[str, ...]) -> str | None:
    name, ok = QInputDialog.getItem(window, title, "Format:", list(names), 0, False)
    return name if ok and name else None


def export_tracks(window: MainWindow) -> Path | None:
    """Ask for a format and a place, then write the project's tracks there (None when cancelled or failed)."""
    project = window.project
    if project is None:
        return None
    sets = tracksets_from_project(project)
    if not sets:
        window.statusBar().showMessage("no video has a box or points track to export", 8000)
        return None
    fmt = _format(window, "Export tracks", TRACK_WRITABLE)
    if fmt is None:
        return None
    if fmt in FILE_FORMATS and (len(sets) == 1 or fmt == "tapvid"):
        chosen, _ = QFileDialog.getSaveFileName(window, "Export tracks", "", FILE_FORMATS[fmt])
    else:
        chosen = QFileDialog.getExistingDirectory(window, "Export tracks into folder", "")
    if not chosen:
        return None
    try:
        out = write_tracks(sets, Path(chosen), fmt)
    except (AnnotatorError, OSError, ValueError) as error:
        window.show_error(AnnotatorError(f"{chosen}: tracks not exported ({error})"))
        return None
    count = sum(len(t.tracks) for t in sets)
    window.statusBar().showMessage(f"{count} tracks exported as {fmt} to {out}", 8000)
    return out


def import_tracks(window: MainWindow) -> int:
    """Ask for a format and a file or folder, then add its tracks to the project (one undo step); returns
    the number of samples added."""
    project = window.project
    if project is None:
        return 0
    fmt = _format(window, "Import tracks", TRACK_READABLE)
    if fmt is None:
        return 0
    if fmt in FILE_FORMATS:
        chosen, _ = QFileDialog.getOpenFileName(window, "Import tracks", "", FILE_FORMATS[fmt])
    else:
        chosen = QFileDialog.getExistingDirectory(window, "Import tracks from folder", "")
    if not chosen:
        return 0
    items = len(project.items)
    try:
        added = add_tracksets(project, read_tracks(Path(chosen), fmt))
    except (AnnotatorError, OSError, ValueError) as error:
        window.show_error(AnnotatorError(f"{chosen}: tracks not imported ({error})"))
        return 0
    if len(project.items) != items:  # videos added: show them in the list
        window.set_project(project, window.session.item.path if window.session.item else None)
    window.timeline.reload_tracks()
    window.tracks.refresh()
    window.statusBar().showMessage(f"{added} track samples imported from {Path(chosen).name} (one undo step)", 8000)
    return added
