"""Small mask helpers shared by the engines' "segment everything": boxes, islands and holes, box NMS."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def mask_box(mask: np.ndarray) -> np.ndarray:
    """The xyxy box of a non-empty HxW bool mask in pixel edges (x1, y1 exclusive), float32."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if not len(ys):
        return np.zeros(4, np.float32)
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], np.float32)


def fill_small(mask: np.ndarray, min_area: int) -> np.ndarray | None:
    """Fill holes and drop islands smaller than `min_area` pixels; None when nothing is left.

    Works inside the mask's box (plus a one-pixel margin, so the outside stays one component).
    """
    if not mask.any():
        return None
    if min_area <= 0:
        return mask
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    y0, y1 = max(0, ys[0] - 1), min(mask.shape[0], ys[-1] + 2)
    x0, x1 = max(0, xs[0] - 1), min(mask.shape[1], xs[-1] + 2)
    crop = mask[y0:y1, x0:x1]
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~crop).astype(np.uint8), connectivity=4)
    # Sides where the crop has a margin row/column (all outside the mask) rather than the image's edge.
    margins = (y0 < ys[0], x0 < xs[0], y1 > ys[-1] + 1, x1 > xs[-1] + 1)
    small = [
        i
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] < min_area and not _touches_margin(stats[i], crop.shape, margins)
    ]
    if small:
        crop = crop | np.isin(labels, small)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(crop.astype(np.uint8), connectivity=8)
    big = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    if not big:
        return None
    if len(big) < count - 1:
        crop = np.isin(labels, big)
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = crop
    return out


def _touches_margin(stat: np.ndarray, shape: tuple[int, ...], margins: tuple[bool, bool, bool, bool]) -> bool:
    """Whether a background component reaches one of the crop's margins (top, left, bottom, right):
    then it is part of the outside, not a hole."""
    x, y = stat[cv2.CC_STAT_LEFT], stat[cv2.CC_STAT_TOP]
    w, h = stat[cv2.CC_STAT_WIDTH], stat[cv2.CC_STAT_HEIGHT]
    top, left, bottom, right = margins
    return bool(
        (top and y == 0) or (left and x == 0) or (bottom and y + h == shape[0]) or (right and x + w == shape[1])
    )


def box_iou(a: Any, b: Any) -> Any:
    """IoU matrix (N x M) of xyxy boxes a (N x 4) and b (M x 4), torch tensors."""
    import torch

    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def box_nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy NMS (as torchvision.ops.nms): indices of kept boxes, highest score first.

    boxes: N x 4 xyxy float tensor; scores: N float tensor. A box is dropped when its IoU with a
    kept, higher-scoring box is above `iou_threshold`.
    """
    import torch

    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long)
    order = torch.argsort(scores, descending=True, stable=True)
    overlaps = (box_iou(boxes[order], boxes[order]) > iou_threshold).cpu().numpy()
    suppressed = np.zeros(len(order), bool)
    kept = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed |= overlaps[i]
    return order[torch.tensor(kept, dtype=torch.long)]
