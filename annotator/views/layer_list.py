"""LayerListModel: a QAbstractListModel over the objects of the current item.

It holds no copies: rows are read from the project, and the project's before/after event pairs
map one-to-one onto begin/end calls, so the list is always the document.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from annotator.document import Project, UpdateObject
from annotator.document.model import Object

Index = QModelIndex | QPersistentModelIndex
ObjectIdRole = Qt.ItemDataRole.UserRole + 1
LockedRole = Qt.ItemDataRole.UserRole + 2


class LayerListModel(QAbstractListModel):
    """Rows = objects of one item in layer order: name (+ label), colour swatch, visibility, lock."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.item_id: int | None = None

    def set_project(self, project: Project | None) -> None:
        """Follow another project's events."""
        if self.project is not None:
            events = self.project.events
            for signal, slot in self._connections():
                getattr(events, signal).disconnect(slot)
        self.beginResetModel()
        self.project = project
        self.item_id = None
        self.endResetModel()
        if project is not None:
            for signal, slot in self._connections():
                getattr(project.events, signal).connect(slot)

    def _connections(self) -> list[tuple[str, Any]]:
        return [
            ("rows_inserting", self._on_inserting),
            ("rows_inserted", self._on_inserted),
            ("rows_removing", self._on_removing),
            ("rows_removed", self._on_removed),
            ("rows_moving", self._on_moving),
            ("rows_moved", self._on_moved),
            ("row_changed", self._on_changed),
        ]

    def set_item(self, item_id: int | None) -> None:
        """Show the objects of another item."""
        self.beginResetModel()
        self.item_id = item_id
        self.endResetModel()

    def objects(self) -> list[Object]:
        """The objects shown, in order."""
        if self.project is None or self.item_id is None:
            return []
        return self.project.objects(self.item_id)

    def object_at(self, row: int) -> Object | None:
        """The object on a row, or None."""
        objects = self.objects()
        return objects[row] if 0 <= row < len(objects) else None

    def row_of(self, object_id: int) -> int:
        """Row of an object (-1 when not shown)."""
        return next((i for i, obj in enumerate(self.objects()) if obj.id == object_id), -1)

    # -- Qt model -------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        """Number of objects."""
        return 0 if parent.isValid() else len(self.objects())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Name with label, swatch colour, visibility check, ids."""
        obj = self.object_at(index.row())
        if obj is None or self.project is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            label = self.project.label(obj.label_id).name if obj.label_id is not None else "no label"
            lock = " 🔒" if obj.locked else ""
            return f"{obj.name}  [{label}]{lock}"
        if role == Qt.ItemDataRole.EditRole:
            return obj.name
        if role == Qt.ItemDataRole.DecorationRole:
            return QColor(*obj.color)
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if obj.visible else Qt.CheckState.Unchecked
        if role == ObjectIdRole:
            return obj.id
        if role == LockedRole:
            return obj.locked
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Selectable, editable (rename), checkable (visibility)."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEditable
            | Qt.ItemFlag.ItemIsUserCheckable
        )

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Rename or toggle visibility, through a command."""
        obj = self.object_at(index.row())
        if obj is None or self.project is None:
            return False
        if role == Qt.ItemDataRole.EditRole and str(value).strip():
            self.project.execute(UpdateObject(obj.id, name=str(value).strip()))
            return True
        if role == Qt.ItemDataRole.CheckStateRole:
            visible = Qt.CheckState(value) == Qt.CheckState.Checked
            self.project.execute(UpdateObject(obj.id, visible=visible))
            return True
        return False

    # -- document events ------------------------------------------------------------------------
    def _mine(self, kind: str, parent: int) -> bool:
        return kind == "object" and parent == self.item_id

    def _on_inserting(self, kind: str, parent: int, index: int) -> None:
        if self._mine(kind, parent):
            self.beginInsertRows(QModelIndex(), index, index)

    def _on_inserted(self, kind: str, parent: int, index: int, row: Any) -> None:
        if self._mine(kind, parent):
            self.endInsertRows()

    def _on_removing(self, kind: str, parent: int, index: int, row: Any) -> None:
        if self._mine(kind, parent):
            self.beginRemoveRows(QModelIndex(), index, index)

    def _on_removed(self, kind: str, parent: int, index: int, row: Any) -> None:
        if self._mine(kind, parent):
            self.endRemoveRows()

    def _on_moving(self, kind: str, parent: int, src: int, dst: int) -> None:
        if self._mine(kind, parent):
            # Qt's destination is the row before which the moved row lands, counted before the move.
            self.beginMoveRows(QModelIndex(), src, src, QModelIndex(), dst + 1 if dst > src else dst)

    def _on_moved(self, kind: str, parent: int, src: int, dst: int) -> None:
        if self._mine(kind, parent):
            self.endMoveRows()

    def _on_changed(self, kind: str, before: Any, after: Any) -> None:
        if kind == "label" and self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1))
        elif kind == "object" and after.item_id == self.item_id:
            row = self.row_of(after.id)
            if row >= 0:
                self.dataChanged.emit(self.index(row), self.index(row))
