"""Track metrics: OTB box success and precision, TAP-Vid point metrics, BADJA PCK.

Boxes are N x 4 xyxy arrays, one row per scored frame; a frame where the tracker has no box (the
object called outside) is a row of NaN and counts as a miss (IoU 0, centre error infinite).
Points follow TAP-Vid's layout: tracks (N, T, 2) (x, y), occluded (N, T) bool.
"""

from __future__ import annotations

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
"""OTB success-plot overlap thresholds (0, 0.05, ..., 1); the AUC is the mean of the curve."""

PRECISION_PIXELS = 20.0
"""OTB precision: the share of frames whose centre error is at most this many pixels."""

TAPVID_THRESHOLDS = (1, 2, 4, 8, 16)
"""TAP-Vid distance thresholds in pixels, on a 256 x 256 raster."""


def box_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-row IoU of two N x 4 xyxy arrays (NaN predictions give 0)."""
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(pred[:, 2], gt[:, 2]) - np.maximum(pred[:, 0], gt[:, 0]), 0, None)
    iy = np.clip(np.minimum(pred[:, 3], gt[:, 3]) - np.maximum(pred[:, 1], gt[:, 1]), 0, None)
    inter = ix * iy
    area = lambda b: np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)  # noqa: E731
    union = area(pred) + area(gt) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def centre_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-row distance between box centres in pixels (inf where the prediction is NaN)."""
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 4), np.asarray(gt, np.float64).reshape(-1, 4)
    centre = lambda b: np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], 1)  # noqa: E731
    error = np.linalg.norm(centre(pred) - centre(gt), axis=1)
    return np.where(np.isfinite(error), error, np.inf)


def success_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """OTB success curve: for each threshold t of SUCCESS_THRESHOLDS, the share of frames with IoU > t."""
    iou = box_iou(pred, gt)
    if len(iou) == 0:
        return np.zeros(len(SUCCESS_THRESHOLDS))
    return (iou[None, :] > SUCCESS_THRESHOLDS[:, None]).mean(axis=1)


def success_auc(pred: np.ndarray, gt: np.ndarray) -> float:
    """OTB success AUC: the mean of the success curve, in [0, 1]."""
    return float(success_curve(pred, gt).mean())


def precision_at(pred: np.ndarray, gt: np.ndarray, pixels: float = PRECISION_PIXELS) -> float:
    """OTB precision: the share of frames whose centre error is at most `pixels`."""
    error = centre_error(pred, gt)
    return float((error <= pixels).mean()) if len(error) else 0.0


def tapvid_metrics(
    gt_occluded: np.ndarray,
    gt_tracks: np.ndarray,
    pred_occluded: np.ndarray,
    pred_tracks: np.ndarray,
    query_frames: np.ndarray,
    thresholds: tuple[int, ...] = TAPVID_THRESHOLDS,
    mode: str = "first",
) -> dict[str, float]:
    """TAP-Vid metrics of one video: occlusion accuracy, <delta^x_avg>, average Jaccard.

    gt_/pred_tracks (N, T, 2) (x, y) already on TAP-Vid's 256 x 256 raster; gt_/pred_occluded (N, T)
    bool; query_frames (N,) int, each point's query frame. Mode 'first' scores the frames after it,
    'strided' every frame but it. Returns
    'occlusion_accuracy', 'delta_avg', 'average_jaccard' and per threshold 'pts_within_X',
    'jaccard_X', all in [0, 1].
    """
    gt_occ = np.asarray(gt_occluded, bool)
    pred_occ = np.asarray(pred_occluded, bool)
    gt_tracks = np.asarray(gt_tracks, np.float64)
    pred_tracks = np.asarray(pred_tracks, np.float64)
    count, length = gt_occ.shape
    frames = np.arange(length)[None, :]
    queries = np.asarray(query_frames).reshape(count, 1)
    if mode not in ("first", "strided"):
        raise ValueError(f"unknown TAP-Vid query mode '{mode}' (expected 'first' or 'strided')")
    evaluated = frames > queries if mode == "first" else frames != queries
    gt_vis, pred_vis = ~gt_occ, ~pred_occ
    result: dict[str, float] = {}
    result["occlusion_accuracy"] = _share((pred_occ == gt_occ) & evaluated, evaluated)
    distance = np.linalg.norm(pred_tracks - gt_tracks, axis=-1)
    distance = np.where(np.isfinite(distance), distance, np.inf)
    within_all, jaccard_all = [], []
    for x in thresholds:
        within = distance < x
        within_all.append(_share(within & gt_vis & evaluated, gt_vis & evaluated))
        true_pos = (within & pred_vis & gt_vis & evaluated).sum()
        gt_positives = (gt_vis & evaluated).sum()
        false_pos = ((~gt_vis | ~within) & pred_vis & evaluated).sum()
        # TP + FN is every visible ground-truth point; FP are predicted-visible points that are wrong.
        denominator = gt_positives + false_pos
        jaccard_all.append(float(true_pos / denominator) if denominator else 1.0)
        result[f"pts_within_{x}"] = within_all[-1]
        result[f"jaccard_{x}"] = jaccard_all[-1]
    result["delta_avg"] = float(np.mean(within_all))
    result["average_jaccard"] = float(np.mean(jaccard_all))
    return result


def _share(hits: np.ndarray, of: np.ndarray) -> float:
    total = int(of.sum())
    return float(hits.sum() / total) if total else 1.0


def to_tapvid_raster(points: np.ndarray, size: tuple[int, int], raster: int = 256) -> np.ndarray:
    """Scale (x, y) pixel points of a (height, width) video onto TAP-Vid's raster x raster grid."""
    height, width = size
    scale = np.array([raster / width, raster / height])
    return np.asarray(points, np.float64) * scale


def pck(errors: np.ndarray, mask_areas: np.ndarray, alpha: float = 0.2) -> float:
    """BADJA PCK: the share of visible joints whose error is below alpha * sqrt(ground-truth mask area)."""
    errors, areas = np.asarray(errors, np.float64), np.asarray(mask_areas, np.float64)
    if errors.size == 0:
        return float("nan")
    return float((np.nan_to_num(errors, nan=np.inf) < alpha * np.sqrt(areas)).mean())
