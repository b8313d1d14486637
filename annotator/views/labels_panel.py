"""Labels panel: add, rename, recolour, delete and assign labels; load a label set from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator.document import AddLabel, Batch, Project, RemoveLabel, UpdateLabel
from annotator.document.model import Color, color_from_hex
from annotator.errors import FormatError


def read_label_set(path: Path) -> list[tuple[str, Color | None]]:
    """Labels from a file: JSON (list of names or {name, color}) or text (one 'name [#rrggbb]' a line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(path, "", f"cannot be read: {error}") from error
    entries: list[tuple[str, Color | None]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise FormatError(path, f"line {error.lineno}", f"malformed JSON: {error.msg}") from error
        if not isinstance(data, list):
            raise FormatError(path, "top level", "expected a list of labels")
        for index, entry in enumerate(data):
            name, color = (entry, None) if isinstance(entry, str) else (None, None)
            if isinstance(entry, dict):
                name, color = entry.get("name"), entry.get("color")
            if not isinstance(name, str) or not name.strip():
                raise FormatError(path, f"[{index}]", "a label needs a non-empty name")
            entries.append((name.strip(), _parse_color(path, f"[{index}]", color)))
        return entries
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" #")
        entries.append((name.strip(), _parse_color(path, f"line {number}", "#" + rest.strip() if rest else None)))
    return entries


def _parse_color(path: Path, where: str, value: Any) -> Color | None:
    if value is None:
        return None
    try:
        return color_from_hex(str(value))
    except ValueError as error:
        raise FormatError(path, where, f"bad colour {value!r}") from error


def _swatch(color: Color) -> QPixmap:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*color))
    return pixmap


class LabelsPanel(QWidget):
    """The project's labels; double click (or the number keys 1-9) assigns one to the selection."""

    assign_requested = Signal(int)  # label id
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.project: Project | None = None
        self.list = QListWidget()
        self.list.itemDoubleClicked.connect(self._assign_item)
        buttons = QHBoxLayout()
        # The buttons' clicked(bool) must not reach the slots' parameters: each slot is called bare.
        for text, slot in (
            ("Add", self.add_label),
            ("Rename", self.rename_selected),
            ("Colour", self.recolour_selected),
            ("Delete", self.delete_selected),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _checked=False, run=slot: run())
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def set_project(self, project: Project | None) -> None:
        """Show another project's labels and follow its changes."""
        if self.project is not None:
            for name in ("rows_inserted", "rows_removed", "row_changed"):
                getattr(self.project.events, name).disconnect(self._on_event)
        self.project = project
        if project is not None:
            for name in ("rows_inserted", "rows_removed", "row_changed"):
                getattr(project.events, name).connect(self._on_event)
        self.refresh()

    def _on_event(self, kind: str, *args: Any) -> None:
        if kind == "label":
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the list from the project (labels are few)."""
        current = self.selected_label_id()
        self.list.clear()
        for number, label in enumerate(self.project.labels if self.project else [], 1):
            prefix = f"{number}  " if number <= 9 else "   "
            item = QListWidgetItem(_swatch(label.color), prefix + label.name)
            item.setData(Qt.ItemDataRole.UserRole, label.id)
            self.list.addItem(item)
            if label.id == current:
                self.list.setCurrentItem(item)

    def selected_label_id(self) -> int | None:
        """Id of the highlighted label, or None."""
        item = self.list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def _execute(self, command: Any) -> Any:
        if self.project is None:
            return None
        try:
            return self.project.execute(command)
        except Exception as error:  # shown to the user, never fatal
            self.failed.emit(str(error))
            return None

    def add_label(self, name: str | None = None) -> None:
        """Add a label (asks for the name when none is given)."""
        if name is None:
            name, ok = QInputDialog.getText(self, "Add label", "Name of the new label:")
            if not ok:
                return
        label = self._execute(AddLabel(name))  # the command refuses empty and duplicate names
        if label is not None:
            self._highlight(label.id)

    def _highlight(self, label_id: int) -> None:
        for row in range(self.list.count()):
            if int(self.list.item(row).data(Qt.ItemDataRole.UserRole)) == label_id:
                self.list.setCurrentRow(row)

    def rename_selected(self) -> None:
        """Rename the highlighted label."""
        label_id = self.selected_label_id()
        if label_id is not None and self.project is not None:
            name, ok = QInputDialog.getText(self, "Rename label", "Name:", text=self.project.label(label_id).name)
            if ok:
                self._execute(UpdateLabel(label_id, name=name))

    def recolour_selected(self) -> None:
        """Pick a new colour for the highlighted label."""
        label_id = self.selected_label_id()
        if label_id is not None and self.project is not None:
            color = QColorDialog.getColor(QColor(*self.project.label(label_id).color), self, "Label colour")
            if color.isValid():
                self._execute(UpdateLabel(label_id, color=(color.red(), color.green(), color.blue())))

    def delete_selected(self) -> None:
        """Delete the highlighted label (objects keep no label)."""
        label_id = self.selected_label_id()
        if label_id is not None:
            self._execute(RemoveLabel(label_id))

    def load_label_set(self, path: Path) -> int:
        """Add the labels of a file that the project lacks (one undo step); returns how many."""
        if self.project is None:
            return 0
        entries = read_label_set(path)
        new = [AddLabel(n, c) for n, c in dict(entries).items() if self.project.label_by_name(n) is None]
        if new:
            self._execute(Batch(tuple(new), "Load label set"))
        return len(new)

    def _assign_item(self, item: QListWidgetItem) -> None:
        self.assign_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))
