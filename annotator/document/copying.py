"""Copy to next: carry the objects of one image or frame over to the next, never over existing work.

Like labelme's "keep previous annotation": the objects of the previous image (or video frame)
are added to this one, with their labels, names and colours; what is already there is left as
it is, and an object already present (same label, masks overlapping by 90% or more) is not added
twice. On a video, one object's mask can be copied forward to the next N frames as keyframes.
Each plan is one Batch: one transaction, one undo step.
"""

from __future__ import annotations

import cv2
import numpy as np

from annotator.document.commands import AddObject, Batch, SetMask
from annotator.document.mask import Mask
from annotator.document.project import Project

SAME_OBJECT_IOU = 0.9


def _fit(mask: Mask, height: int, width: int) -> Mask:
    """`mask` at another image size (nearest neighbour), or as it is when the size matches."""
    if mask.size == (height, width):
        return mask
    full = cv2.resize(mask.to_array().astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return Mask.from_array(full.astype(bool))


def _iou(a: Mask, b: Mask) -> float:
    x, y = a.to_array(), b.to_array()
    union = np.count_nonzero(x | y)
    return np.count_nonzero(x & y) / union if union else 0.0


def plan_copy_objects(project: Project, source: tuple[int, int], target: tuple[int, int]) -> Batch | None:
    """Add the objects of (item, frame) `source` to (item, frame) `target`; None when nothing is new.

    On another image each copied object is a new object; on another frame of the same video the
    object gets a user mask on that frame where it has none."""
    (source_item, source_frame), (target_item, target_frame) = source, target
    item = project.item(target_item)
    height, width = item.height, item.width
    commands: list = []
    existing = [
        (obj.label_id, mask)
        for obj in project.objects(target_item)
        if (mask := project.mask(obj.id, target_frame)) is not None and not mask.is_empty
    ]
    for obj in project.objects(source_item):
        mask = project.mask(obj.id, source_frame)
        if mask is None or mask.is_empty:
            continue
        moved = _fit(mask, height or mask.height, width or mask.width)
        if source_item == target_item:
            if project.mask(obj.id, target_frame) is None:
                commands.append(SetMask(obj.id, target_frame, moved, "user"))
            continue
        if any(label == obj.label_id and _iou(moved, other) >= SAME_OBJECT_IOU for label, other in existing):
            continue
        commands.append(AddObject(target_item, obj.label_id, obj.name, obj.color, mask=moved, frame=target_frame))
    if not commands:
        return None
    return Batch(tuple(commands), f"Copy {len(commands)} object{'s' if len(commands) != 1 else ''} here")


def plan_copy_forward(project: Project, object_id: int, frame: int, count: int) -> Batch | None:
    """Copy an object's mask on `frame` to the next `count` frames as keyframes, leaving frames the
    user already made alone; None when there is nothing to copy or no frame to copy to."""
    mask = project.mask(object_id, frame)
    if mask is None or mask.is_empty:
        return None
    item = project.item(project.object(object_id).item_id)
    sources = project.frame_sources(object_id)
    last = min(item.frame_count - 1, frame + count)
    targets = [f for f in range(frame + 1, last + 1) if sources.get(f) != "user"]
    if not targets:
        return None
    commands = tuple(SetMask(object_id, f, mask, "user") for f in targets)
    return Batch(commands, f"Copy mask to {len(targets)} frame{'s' if len(targets) != 1 else ''}")
