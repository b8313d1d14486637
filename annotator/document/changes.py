"""Changes: the primitive diffs that commands produce and undo inverts.

A command plans a tuple of changes against the current state; the project applies them to memory
and to the store. Undo applies the inverted changes in reverse order. Mask changes keep only the
rectangle of pixels that differ (bbox-cropped before/after patches), never whole snapshots.
A change that covers much of the frame keeps the whole frame instead: its patches are then the
masks' own RLE (computed once per mask and shared with the store), so a click on a large or
ragged mask encodes each mask once, not three times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pycocotools import mask as cocomask

from annotator.document.mask import BBox, Mask, union_box
from annotator.document.model import Item, Label, MaskSource, Object, Prompts
from annotator.document.tracks import TrackChange

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
    score: float | None = None  # a tracker's confidence in a propagated mask (None: not given)


FULL_FRAME_SHARE = 0.25
"""A change whose changed rectangle covers this share of the frame or more keeps the whole frame."""


def _pack(region: np.ndarray) -> bytes:
    """A bool region as COCO compressed RLE counts (tiny for mask-like content)."""
    if region.size == 0:
        return b""
    return cocomask.encode(np.asfortranarray(region).view(np.uint8))["counts"]


def _frame_counts(mask: Mask | None, size: tuple[int, int]) -> bytes:
    """The whole frame's RLE counts of `mask` (None: an empty frame), the mask's own cached RLE."""
    if mask is None:
        return _pack(np.zeros(size, bool))
    return str(mask.to_rle()["counts"]).encode("ascii")


def _unpack(counts: bytes, shape: tuple[int, int]) -> np.ndarray:
    if not counts:
        return np.zeros(shape, bool)
    return cocomask.decode({"size": list(shape), "counts": counts}).view(bool)


@dataclass(frozen=True, eq=False)
class MaskChange:
    """Pixels of one object's mask on one frame changed inside `box` (xyxy).

    The before/after contents of `box` are kept RLE-compressed (a propagation over thousands of
    frames stays a few bytes per frame); `*_meta` None means the mask does not exist (as opposed
    to existing and being empty, which a propagated "object left the frame" is).
    """

    object_id: int
    frame: int
    size: tuple[int, int]  # (H, W)
    box: BBox
    before_counts: bytes
    after_counts: bytes
    before_meta: MaskMeta | None
    after_meta: MaskMeta | None

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the patch."""
        return (self.box[3] - self.box[1], self.box[2] - self.box[0])

    @property
    def before(self) -> np.ndarray:
        """Bool content of `box` before the change."""
        return _unpack(self.before_counts, self.shape)

    @property
    def after(self) -> np.ndarray:
        """Bool content of `box` after the change."""
        return _unpack(self.after_counts, self.shape)

    def inverted(self) -> MaskChange:
        """The change that undoes this one."""
        return MaskChange(
            self.object_id,
            self.frame,
            self.size,
            self.box,
            self.after_counts,
            self.before_counts,
            self.after_meta,
            self.before_meta,
        )

    def apply_to(self, current: Mask | None) -> Mask | None:
        """The mask after this change, given the mask before it (None when it ceases to exist).

        The first application to the very mask the change was planned against returns the planned
        result as it is (no patch decoded); the change keeps only its patches afterwards.
        """
        hint = self.__dict__.pop("_planned", None)
        if self.after_meta is None:
            return None
        if hint is not None and hint[0] is current and hint[1] is not None:
            return hint[1]
        height, width = self.size
        base = current if current is not None else Mask.empty(height, width)
        box = union_box(base.bbox, self.box)
        x0, y0, x1, y1 = box
        if x0 == x1 or y0 == y1:
            return Mask.empty(height, width)
        canvas = base.region(box)
        bx0, by0, bx1, by1 = self.box
        if bx0 < bx1 and by0 < by1:
            canvas[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = self.after
        return Mask.from_crop(height, width, (x0, y0), canvas)

    @property
    def nbytes(self) -> int:
        """Memory held by the patch."""
        return len(self.before_counts) + len(self.after_counts) + 64


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
    height, width = size
    if (box[2] - box[0]) * (box[3] - box[1]) >= FULL_FRAME_SHARE * height * width:
        box, old_counts, new_counts = (0, 0, width, height), _frame_counts(before, size), _frame_counts(after, size)
    else:
        old_counts, new_counts = _pack(old_region), _pack(new_region)
    change = MaskChange(object_id, frame, size, box, old_counts, new_counts, before_meta, after_meta)
    object.__setattr__(change, "_planned", (before, after))  # see apply_to
    return change


Change = RowChange | MaskChange | TrackChange


def invert_all(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    """The changes that undo `changes` (inverted, in reverse order)."""
    return tuple(change.inverted() for change in reversed(changes))
