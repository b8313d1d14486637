"""Scores: IoU with ignore regions, number of clicks (NoC), DAVIS boundary F-measure."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

# DAVIS: boundaries match within 0.008 of the image diagonal.
BOUNDARY_TOLERANCE = 0.008


def iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two HxW bool masks, leaving out `ignore` pixels; 1.0 when both are empty."""
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    if ignore is not None:
        keep = ~np.asarray(ignore, bool)
        pred, gt = pred & keep, gt & keep
    union = int(np.count_nonzero(pred | gt))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pred & gt)) / union


def noc(ious: Sequence[float], threshold: float, max_clicks: int) -> int:
    """Number of clicks: 1-based index of the first IoU >= threshold, else `max_clicks`."""
    for index, value in enumerate(ious[:max_clicks]):
        if value >= threshold:
            return index + 1
    return max_clicks


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Pixels whose right, lower or lower-right neighbour has the other label (DAVIS seg2bmap, same size)."""
    mask = np.asarray(mask, bool)
    edge = np.zeros_like(mask)
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:-1, :] |= mask[:-1, :] != mask[1:, :]
    edge[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]
    return edge


def boundary_f(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """DAVIS boundary F-measure: boundary pixels matched within 0.008 of the diagonal (disk)."""
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    if void is not None:
        pred = pred & ~np.asarray(void, bool)
    radius = math.ceil(BOUNDARY_TOLERANCE * math.hypot(*gt.shape))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    pred_edge, gt_edge = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = int(pred_edge.sum()), int(gt_edge.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0  # precision or recall is 0 (the other is 1 by DAVIS's convention)
    pred_near = cv2.dilate(pred_edge.astype(np.uint8), disk).astype(bool)
    gt_near = cv2.dilate(gt_edge.astype(np.uint8), disk).astype(bool)
    precision = int(np.count_nonzero(pred_edge & gt_near)) / n_pred
    recall = int(np.count_nonzero(gt_edge & pred_near)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def video_iou(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """DAVIS J for one frame: IoU outside void pixels, 1.0 when both masks are empty."""
    return iou(pred, gt, void)
