"""The standard click robot: the next click goes to the interior of the larger error region."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Click:
    """A robot click: (x, y) in image pixels and whether it is positive (adds to the object)."""

    x: float
    y: float
    positive: bool


def _interior_distance(region: np.ndarray) -> np.ndarray:
    """Distance of each region pixel to the region's edge, the image border counting as edge."""
    padded = np.pad(region.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def next_click(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> Click | None:
    """The next click for `pred` against `gt` (HxW bool), or None when there is no error left.

    The click goes to the pixel farthest inside the larger error region (by that distance); it is
    positive when that region is a false negative. Ignored pixels are never errors.
    """
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    keep = np.ones_like(gt) if ignore is None else ~np.asarray(ignore, bool)
    false_neg = gt & ~pred & keep
    false_pos = pred & ~gt & keep
    if not false_neg.any() and not false_pos.any():
        return None
    fn_dist = _interior_distance(false_neg)
    fp_dist = _interior_distance(false_pos)
    positive = float(fn_dist.max()) >= float(fp_dist.max())
    dist = fn_dist if positive else fp_dist
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return Click(float(x), float(y), positive)
