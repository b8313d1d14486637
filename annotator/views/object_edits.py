"""Edits of the objects on screen behind the Edit and Video menus: delete, merge, reorder, lock,
label, mark done, copy from the previous image or frame, copy a mask to the next frames.

Each slot runs one document command (one undo step) on what the person has selected and says in
the status bar what it did, or why it did nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QInputDialog

from annotator.document import MergeObjects, MoveObject, RemoveObject, UpdateItem, UpdateObject
from annotator.document.copying import plan_copy_forward, plan_copy_objects
from annotator.errors import AnnotatorError
from annotator.workspace import display_name

if TYPE_CHECKING:
    from annotator.views.main_window import MainWindow

MESSAGE_MS = 8000


class ObjectEdits:
    """The object slots of a MainWindow (ActionSpec slots `edits.<name>`)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    # -- helpers ----------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, MESSAGE_MS)

    def execute(self, command: Any) -> Any:
        """Run a command on the window's project; a refusal goes to the status bar (None returned)."""
        project = self.window.project
        if project is None:
            return None
        try:
            return project.execute(command)
        except AnnotatorError as error:
            self._say(str(error))
            return None

    def selected_ids(self) -> list[int]:
        """The objects selected in the Objects list, else the object selected on the canvas."""
        window = self.window
        rows = sorted(index.row() for index in window.layer_view.selectionModel().selectedRows())
        objects = [window.layers.object_at(row) for row in rows]
        ids = [obj.id for obj in objects if obj is not None]
        if not ids and window.session.selected is not None:
            ids = [window.session.selected]
        return ids

    # -- objects ----------------------------------------------------------------------------------
    def delete_object(self) -> None:
        """Delete the selected objects."""
        for object_id in self.selected_ids():
            self.execute(RemoveObject(object_id))

    def merge_objects(self) -> None:
        """Merge the selected objects into the first."""
        ids, project = self.selected_ids(), self.window.project
        if len(ids) < 2 or project is None:
            self._say("merge: select two or more objects in the Objects list (Ctrl+click)")
            return
        target = project.object(ids[0])
        before = len(project.objects(target.item_id))
        self.execute(MergeObjects(ids[0], tuple(ids[1:])))
        if len(project.objects(target.item_id)) < before:
            self._say(f"merged {len(ids)} objects into {target.name}")

    def move_object_up(self) -> None:
        """Move the selected object one place up the layer list."""
        self._move_selected(-1)

    def move_object_down(self) -> None:
        """Move the selected object one place down the layer list."""
        self._move_selected(1)

    def _move_selected(self, delta: int) -> None:
        window = self.window
        object_id = window.session.selected
        if window.project is not None and object_id is not None:
            row = window.layers.row_of(object_id)
            self.execute(MoveObject(object_id, max(0, row + delta)))
            window.sync_layer_selection(object_id)

    def toggle_lock(self) -> None:
        """Lock or unlock the selected object."""
        project, selected = self.window.project, self.window.session.selected
        if project is not None and selected is not None:
            obj = project.object(selected)
            self.execute(UpdateObject(obj.id, locked=not obj.locked))

    def toggle_done(self) -> None:
        """Mark the current image done (or not)."""
        project, item = self.window.project, self.window.session.item
        if project is not None and item is not None:
            self.execute(UpdateItem(item.id, done=not project.item(item.id).done))

    # -- labels -----------------------------------------------------------------------------------
    def assign_label_number(self, number: int) -> None:
        """Give the selected object the label numbered `number` (1-based)."""
        project = self.window.project
        if project is not None and 0 < number <= len(project.labels):
            self.assign_label(project.labels[number - 1].id)

    def assign_label(self, label_id: int) -> None:
        """Give the selected objects a label (and use it for new objects, as the status bar shows)."""
        window = self.window
        window.session.label_id = label_id
        window.show_new_label()
        selected = self.selected_ids()
        for object_id in selected:
            self.execute(UpdateObject(object_id, label_id=label_id))
        name = window.project.label(label_id).name if window.project else ""
        if not selected:
            self._say(f"no object selected: new objects will be labelled {name}")

    # -- copying ----------------------------------------------------------------------------------
    def copy_previous(self) -> None:
        """Copy the objects of the previous frame (video) or image onto the one on screen (one undo step)."""
        window = self.window
        project, session = window.project, window.session
        if project is None or session.item is None:
            return
        if session.item.kind == "video":
            source, where = (session.item.id, session.frame - 1), f"frame {session.frame - 1}"
        else:
            row = window.navigator.currentRow()
            source = (project.items[row - 1].id, 0) if row > 0 else (session.item.id, -1)
            where = display_name(project, project.items[row - 1].path) if row > 0 else ""
        if source[1] < 0:
            self._say("copy: there is no previous image or frame")
            return
        plan = plan_copy_objects(project, source, (session.item.id, session.frame))
        if plan is None:
            self._say(f"copy: nothing new to copy from {where}")
            return
        self.execute(plan)
        self._say(f"copied {len(plan.commands)} objects from {where} (one undo step)")

    def copy_mask_forward(self) -> None:
        """Copy the selected object's mask on this frame to the next N frames, as keyframes."""
        window = self.window
        project, session = window.project, window.session
        if project is None or session.item is None or session.item.kind != "video" or session.selected is None:
            self._say("copy forward: select an object on a video frame first")
            return
        count, ok = QInputDialog.getInt(window, "Copy mask forward", "Copy to the next frames:", 10, 1, 100000)
        if not ok:
            return
        plan = plan_copy_forward(project, session.selected, session.frame, count)
        if plan is None:
            self._say("copy forward: no mask here, or the next frames are all keyframes")
            return
        self.execute(plan)
        window.timeline.reload_tracks()
        self._say(f"copied the mask to {len(plan.commands)} frames (one undo step)")
