"""What a 3D reconstruction of an object starts from: its item's image (or video frame) and its mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.document import Project
from annotator.errors import AnnotatorError, MediaError
from annotator.io.matching import media_file
from annotator.io.media import read_image
from annotator.io.video import open_frames


@dataclass(frozen=True, eq=False)
class ObjectView:
    """An object on one frame: the image HxWx3 uint8 RGB and the mask HxW bool, at the same size."""

    object_id: int
    frame: int
    image: np.ndarray
    mask: np.ndarray


def pick_frame(project: Project, object_id: int, frame: int | None = None, strict: bool = True) -> int:
    """The frame to reconstruct from: `frame` (when it has a mask; with strict=False another is picked
    when it has none), else the object's first keyframe (a frame the user made), else its first mask."""

    def has_mask(f: int) -> bool:
        mask = project.mask(object_id, f)
        return mask is not None and not mask.is_empty

    obj = project.object(object_id)
    frames = project.mask_frames(object_id)
    if frame is not None and frame in frames and has_mask(frame):
        return frame
    if frame is not None and strict:
        shown = ", ".join(map(str, frames[:10])) + (" …" if len(frames) > 10 else "")
        where = f"; it has masks on frames {shown}" if frames else ""
        raise AnnotatorError(f"object {object_id} has no mask on frame {frame}{where}")
    sources = project.frame_sources(object_id)
    keyframes = [f for f in frames if sources.get(f) == "user"]
    chosen = next((f for f in [*keyframes, *frames] if has_mask(f)), None)
    if chosen is None:
        raise AnnotatorError(f"object {object_id} ('{obj.name or 'unnamed'}') has no mask to make a 3D asset from")
    return chosen


def object_view(project: Project, object_id: int, frame: int | None = None, strict: bool = True) -> ObjectView:
    """Read the object's image (or frame) and mask; AnnotatorError naming what is missing."""
    obj = project.object(object_id)
    item = project.item(obj.item_id)
    chosen = pick_frame(project, object_id, frame, strict)
    path = media_file(project, item.path)
    if item.kind == "video":
        frames = open_frames(path)
        try:
            if not 0 <= chosen < len(frames):
                raise MediaError(path, f"has {len(frames)} frames, not frame {chosen}")
            image = frames[chosen]
        finally:
            frames.close()
    else:
        image = read_image(path)
    mask = project.mask(object_id, chosen)
    assert mask is not None  # pick_frame chose a frame with a mask
    array = mask.to_array()
    if array.shape != image.shape[:2]:
        raise MediaError(
            path,
            f"is {image.shape[1]}x{image.shape[0]} but object {object_id}'s mask is {array.shape[1]}x{array.shape[0]}",
        )
    return ObjectView(object_id, chosen, image, array)
