"""Changes: the primitive diffs that commands produce and undo inverts.

A command plans a tuple of changes against the current state; the project applies them to memory
and to the store. Undo applies the inverted changes in reverse order. Mask changes keep only the
rectangle of pixels that differ (bbox-cropped before/after patches), never whole snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from annotator.document.mask import BBox, Mask, union_box
from annotator.document.model import Item, Label, MaskSource, Object, Prompts

RowKind = Literal["label", "item", "object"]
Row = Label | Item | Object


@dataclass(frozen=True)
class RowChange:
    """Insert (before None), remove (after None), update or move one row at a list index."""

    kind: RowKind
    before: Row | None
    after: Row | None
    before_index: int = -1
    after_index: int = -1

    def inverted(self) -> RowChange:
        """The change that undoes this one."""
        return RowChange(self.kind, self.after, self.before, self.after_index, self.before_index)

    @property
    def row_id(self) -> int:
        """Id of the row concerned."""
        row = self.after if self.after is not None else self.before
        assert row is not None
        return row.id


@dataclass(frozen=True)
class MaskMeta:
    """What a stored mask carries beside its pixels."""

    source: MaskSource = "user"
    prompts: Prompts = field(default_factory=Prompts)


@dataclass(frozen=True, eq=False)
class MaskChange:
    """Pixels of one object's mask on one frame changed inside `box` (xyxy).

    `before`/`after` are the bool contents of `box`; `*_meta` None means the mask does not exist
    (as opposed to existing and being empty, which a propagated "object left the frame" is).
    """

    object_id: int
    frame: int
    size: tuple[int, int]  # (H, W)
    box: BBox
    before: np.ndarray
    after: np.ndarray
    before_meta: MaskMeta | None
    after_meta: MaskMeta | None

    def inverted(self) -> MaskChange:
        """The change that undoes this one."""
        return MaskChange(
            self.object_id,
            self.frame,
            self.size,
            self.box,
            self.after,
            self.before,
            self.after_meta,
            self.before_meta,
        )

    def apply_to(self, current: Mask | None) -> Mask | None:
        """The mask after this change, given the mask before it (None when it ceases to exist)."""
        if self.after_meta is None:
            return None
        height, width = self.size
        base = current if current is not None else Mask.empty(height, width)
        box = union_box(base.bbox, self.box)
        x0, y0, x1, y1 = box
        if x0 == x1 or y0 == y1:
            return Mask.empty(height, width)
        canvas = base.region(box)
        bx0, by0, bx1, by1 = self.box
        canvas[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = self.after
        return Mask.from_crop(height, width, (x0, y0), canvas)

    @property
    def nbytes(self) -> int:
        """Memory held by the patch."""
        return int(self.before.nbytes + self.after.nbytes)


def mask_change(
    object_id: int,
    frame: int,
    before: Mask | None,
    before_meta: MaskMeta | None,
    after: Mask | None,
    after_meta: MaskMeta | None,
) -> MaskChange | None:
    """The tight patch turning `before` into `after`, or None when nothing changes."""
    reference = after if after is not None else before
    if reference is None:
        return None
    size = reference.size
    if before is not None and after is not None and before.size != after.size:
        raise ValueError(f"mask size changed from {before.size} to {after.size}")
    empty = Mask.empty(*size)
    old, new = before or empty, after or empty
    box = union_box(old.bbox, new.bbox)
    old_region, new_region = old.region(box), new.region(box)
    changed = old_region ^ new_region
    if changed.any():
        rows = np.flatnonzero(changed.any(axis=1))
        cols = np.flatnonzero(changed.any(axis=0))
        tx0, ty0, tx1, ty1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
        old_region = old_region[ty0:ty1, tx0:tx1].copy()
        new_region = new_region[ty0:ty1, tx0:tx1].copy()
        box = (box[0] + tx0, box[1] + ty0, box[0] + tx1, box[1] + ty1)
    elif before_meta == after_meta:
        return None
    else:
        box = (0, 0, 0, 0)
        old_region = new_region = np.zeros((0, 0), bool)
    old_region.setflags(write=False)
    new_region.setflags(write=False)
    return MaskChange(object_id, frame, size, box, old_region, new_region, before_meta, after_meta)


Change = RowChange | MaskChange


def invert_all(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    """The changes that undo `changes` (inverted, in reverse order)."""
    return tuple(change.inverted() for change in reversed(changes))
