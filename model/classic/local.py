"""Local colour models along an object's boundary, after SnapCut / Roto Brush (Bai et al., SIGGRAPH 2009).

A global colour histogram fails as soon as the object and its background share colours somewhere in
the frame (a swan's white on a white wake, a rider's jacket on the crowd). A *local* model only
compares the object with the background next to it: for every cell, Gaussians of the object's and the
background's colours in a window around it, learnt on the previous frame (warped into this one by
the flow, so the windows sit where the object is now) and evaluated on this frame.

Where the local models separate object and background well on the frame they were learnt on, the
colour is trusted near the boundary; where they do not, the warped shape is: the *shape confidence*
fs = 1 - exp(-d^2 / sigma^2) grows with the distance d to the warped boundary, and sigma is wide where
the colour confidence is high (the colour may move the boundary far) and narrow where it is low.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_VAR_FLOOR = 16.0  # Lab variance floor (a 4-level spread) so flat regions do not give infinite confidence
_SUPPORT = 0.5  # cells of weight a window needs on a side before its model of that side counts


@dataclass(frozen=True)
class LocalModel:
    """Per-cell object probability from colour alone (`posterior`), how much to trust it (`confidence`,
    1 - the models' error on the frame they were learnt on), and where both sides had support."""

    posterior: np.ndarray
    confidence: np.ndarray
    supported: np.ndarray


def _window_stats(
    weight: np.ndarray, lab: np.ndarray, win: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weight sum, mean Lab, 1 / Lab variance, log det of the variance) of the weighted cells in
    each cell's win x win window."""
    size = (win, win)
    total = cv2.boxFilter(weight, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    weighted = lab * weight[..., None]
    first = cv2.boxFilter(weighted, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    second = cv2.boxFilter(weighted * lab, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    safe = np.maximum(total, 1e-6)[..., None]
    mean = first / safe
    variance = np.maximum(second / safe - mean * mean, 0.0) + _VAR_FLOOR
    log_det = np.log(variance[..., 0] * variance[..., 1] * variance[..., 2])
    return total, mean, 1.0 / variance, log_det


def _log_likelihood(lab: np.ndarray, model: tuple) -> np.ndarray:
    """log N(lab; mean, diag(variance)) per cell, up to a constant."""
    _, mean, inverse, log_det = model
    off = lab - mean
    terms = off * off * inverse
    return -0.5 * (terms[..., 0] + terms[..., 1] + terms[..., 2] + log_det)  # np.sum(axis=2) is slower


def _posterior(lab: np.ndarray, fg: tuple, bg: tuple) -> np.ndarray:
    log_odds = _log_likelihood(lab, fg) - _log_likelihood(lab, bg)
    return (1.0 / (1.0 + np.exp(-np.clip(log_odds, -30.0, 30.0)))).astype(np.float32)


def local_model(learnt_lab: np.ndarray, learnt_mask: np.ndarray, lab: np.ndarray, win: int) -> LocalModel:
    """The local models learnt on `learnt_lab` (h x w x 3 float32) with soft object mask `learnt_mask`
    (h x w in [0, 1]), both already warped onto this frame, and evaluated on this frame's `lab`."""
    mask = np.clip(learnt_mask, 0.0, 1.0).astype(np.float32)
    learnt = learnt_lab.astype(np.float32)
    fg = _window_stats(mask, learnt, win)
    bg = _window_stats(1.0 - mask, learnt, win)
    supported = (fg[0] > _SUPPORT) & (bg[0] > _SUPPORT)
    posterior = _posterior(lab.astype(np.float32), fg, bg)
    # How well these models tell the learnt frame's object from its background, weighted towards the
    # boundary as in SnapCut (omega = exp(-d^2 / sigma_c^2) is approximated by the window itself).
    error = np.abs(mask - _posterior(learnt, fg, bg))
    area = float(win * win)
    confidence = 1.0 - cv2.boxFilter(error, -1, (win, win), normalize=False, borderType=cv2.BORDER_REPLICATE) / area
    return LocalModel(posterior, np.clip(confidence, 0.0, 1.0).astype(np.float32), supported)


def shape_confidence(
    mask: np.ndarray, colour_confidence: np.ndarray, cutoff: float, least: float, most: float, power: float
) -> np.ndarray:
    """fs = 1 - exp(-d^2 / sigma^2): d the distance (cells) to the boundary of `mask` (bool), sigma from
    `least` where the colour confidence is at or below `cutoff` up to `most` where it is 1."""
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    distance = np.minimum(np.maximum(inside, outside), 1e3)  # no boundary at all: far from it
    span = np.clip((colour_confidence - cutoff) / max(1e-6, 1.0 - cutoff), 0.0, 1.0)
    sigma = least + (most - least) * span**power
    return (1.0 - np.exp(-(distance**2) / (sigma**2))).astype(np.float32)
