"""Qt-free change events of a project, in before/after pairs that map onto Qt item models.

`kind` is 'label', 'item' or 'object'; `parent` is the item id for objects and 0 otherwise;
`index` is the row's position in its list. Views connect to these and never poll.
"""

from __future__ import annotations

from annotator.document.signal import Signal


class ProjectEvents:
    """Signals a Project emits as its content changes."""

    rows_inserting = Signal(str, int, int)  # kind, parent, index
    rows_inserted = Signal(str, int, int, object)  # kind, parent, index, row
    rows_removing = Signal(str, int, int, object)  # kind, parent, index, row
    rows_removed = Signal(str, int, int, object)  # kind, parent, index, row
    rows_moving = Signal(str, int, int, int)  # kind, parent, from index, to index
    rows_moved = Signal(str, int, int, int)  # kind, parent, from index, to index
    row_changed = Signal(str, object, object)  # kind, before, after
    mask_changed = Signal(int, int)  # object id, frame
    track_changed = Signal(int, int)  # object id, frame (a box or points sample was set or removed)
    history_changed = Signal()  # what undo/redo can do changed
    store_failed = Signal(str)  # a commit failed; the message says why (edits stay in memory)
