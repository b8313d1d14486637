"""Video extras (export only): MOT-style box tracks and point tracks.

MOT: OUT/STEM.txt per item, one line per object and frame with a mask, in the MOTChallenge
result layout "frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z" (frame 1-based, the
mask's box, conf 1, world coordinates -1); `tracks.json` beside them names each id's object
and label.
Point tracks: OUT/STEM.npz per item with `points` (N, T, 2) float32 (x, y) pixels (NaN where
not visible), `visible` (N, T) bool, `object_ids` (N,), `names`, `labels` (N,) str and
`frame_size` (height, width). The point of a mask is its most interior pixel (the maximum of the
distance transform), which lies inside the mask even when the mask is not convex.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np

from annotator.document.mask import Mask
from annotator.io.common import Progress, no_progress, write_bytes_atomic, write_json_atomic
from annotator.io.dataset import Dataset

log = logging.getLogger(__name__)


def _track_id(index: int, track: int | None) -> int:
    return track if track is not None else index + 1


def write_mot(dataset: Dataset, out: Path, progress: Progress = no_progress) -> Path:
    """Write one MOT box-track file per item into folder `out`, plus tracks.json."""
    out = Path(out)
    legend = {}
    for done, item in enumerate(dataset.items, 1):
        rows = []
        tracks = {}
        for index, obj in enumerate(item.objects):
            track = _track_id(index, obj.track_id)
            tracks[str(track)] = {"name": obj.name, "label": obj.label}
            for frame, mask in sorted(obj.masks.items()):
                if not mask.is_empty:
                    x0, y0, x1, y1 = mask.bbox
                    rows.append((frame + 1, track, x0, y0, x1 - x0, y1 - y0))
        rows.sort()
        text = "".join(f"{f},{t},{x},{y},{w},{h},1,-1,-1,-1\n" for f, t, x, y, w, h in rows)
        write_bytes_atomic(out / f"{item.stem}.txt", text.encode("utf-8"))
        legend[item.stem] = tracks
        progress(done, len(dataset.items))
    write_json_atomic(out / "tracks.json", legend, indent=1)
    return out


def interior_point(mask: Mask) -> tuple[float, float]:
    """(x, y) of the mask's most interior pixel (distance-transform maximum); mask not empty."""
    padded = np.pad(mask.crop.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return (float(mask.bbox[0] + x - 1), float(mask.bbox[1] + y - 1))


def point_tracks(dataset: Dataset, item_index: int) -> dict[str, np.ndarray]:
    """The point-track arrays of one item (see the module docstring)."""
    item = dataset.items[item_index]
    count, frames = len(item.objects), item.frame_count
    points = np.full((count, frames, 2), np.nan, np.float32)
    visible = np.zeros((count, frames), bool)
    for n, obj in enumerate(item.objects):
        for frame, mask in obj.masks.items():
            if 0 <= frame < frames and not mask.is_empty:
                points[n, frame] = interior_point(mask)
                visible[n, frame] = True
    return {
        "points": points,
        "visible": visible,
        "object_ids": np.array([_track_id(i, o.track_id) for i, o in enumerate(item.objects)], np.int64),
        "names": np.array([o.name for o in item.objects], dtype=str),
        "labels": np.array([o.label or "" for o in item.objects], dtype=str),
        "frame_size": np.array([item.height, item.width], np.int64),
    }


def write_point_tracks(dataset: Dataset, out: Path, progress: Progress = no_progress) -> Path:
    """Write one point-track .npz per item into folder `out`."""
    out = Path(out)
    for index, item in enumerate(dataset.items):
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **point_tracks(dataset, index))
        write_bytes_atomic(out / f"{item.stem}.npz", buffer.getvalue())
        progress(index + 1, len(dataset.items))
    return out
