"""Interactive segmentation on the working grid: clicks, a box and a prior mask -> a mask."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.classic.cut import HARD, band_cut, colour_costs, colour_model, fill_small_holes, keep_seeded, min_cut
from model.classic.features import Grid
from model.classic.geodesic import GeodesicGraph


@dataclass(frozen=True)
class CutSettings:
    """Knobs of one interactive cut (lengths are fractions of the grid diagonal)."""

    seed_radius: float = 0.008  # hard-constraint disk around each click
    start_radius: float = 0.06  # first guess of the object around a positive click
    geodesic: float = 4.0  # pull towards the geodesically nearer kind of click
    geodesic_colour: float = 4.0  # how much colour change lengthens a geodesic path
    border_offset: float = 0.3  # the image border acts as a negative click this far away
    seed_weight: float = 20.0  # weight of the clicked disks in the colour models
    prior: float = 1.0  # pull towards the previous mask
    locality: float = 0.0  # the pull grows by this factor with the distance from the newest click
    locality_radius: float = 0.25
    smoothness: float = 3.0
    iterations: int = 2
    hole_fraction: float = 0.02  # fill holes below this fraction of the mask area


@dataclass(frozen=True)
class GridPrompt:
    """A prompt in grid cells: points Nx2 (x, y), labels N, box xyxy or None, prior hxw [0, 1] or None."""

    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None
    prior: np.ndarray | None


def _disks(shape: tuple[int, int], points: np.ndarray, radius: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for x, y in points:
        cv2.circle(mask, (round(float(x)), round(float(y))), max(1, round(radius)), 1, -1)
    return mask.astype(bool)


def _box_mask(shape: tuple[int, int], box: np.ndarray) -> np.ndarray:
    inside = np.zeros(shape, bool)
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    inside[max(y0, 0) : max(y1 + 1, 0), max(x0, 0) : max(x1 + 1, 0)] = True
    return inside


def _start(grid: Grid, prompt: GridPrompt, diag: float, settings: CutSettings) -> np.ndarray:
    """The first foreground guess: the prior, else the box, else disks around the positive clicks."""
    if prompt.prior is not None and prompt.prior.any():
        return prompt.prior > 0.5
    if prompt.box is not None:
        return _box_mask(grid.size, prompt.box)
    return _disks(grid.size, prompt.points[prompt.labels == 1], settings.start_radius * diag)


def geodesic_ratio(graph: GeodesicGraph, prompt: GridPrompt, settings: CutSettings) -> np.ndarray:
    """Dp / (Dp + Dn) per cell: 0 on positive clicks, 1 on negative clicks and far from positives."""
    size = graph.size
    diag = float(np.hypot(*size))
    positive = prompt.points[prompt.labels == 1]
    if len(positive) == 0:
        return np.full(size, 0.5, np.float32)
    near_pos = graph.distance(positive)
    near_neg = graph.distance(prompt.points[prompt.labels == 0], border=settings.border_offset * diag)
    return near_pos / np.maximum(near_pos + near_neg, 1e-6)


def _locality(shape: tuple[int, int], prompt: GridPrompt, settings: CutSettings, diag: float) -> np.ndarray | float:
    """1 at the newest click, growing to 1 + locality at locality_radius * diag from it and beyond."""
    if settings.locality <= 0 or len(prompt.points) == 0:
        return 1.0
    x, y = prompt.points[-1]
    ys, xs = np.ogrid[: shape[0], : shape[1]]
    distance = np.sqrt((xs - x) ** 2 + (ys - y) ** 2) / (settings.locality_radius * diag)
    return 1.0 + settings.locality * np.minimum(distance, 1.0).astype(np.float32)


def static_costs(
    prompt: GridPrompt, settings: CutSettings, ratio: np.ndarray, geodesic: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Costs that do not depend on the colour models, and the hard fg/bg seeds (on ratio's grid)."""
    shape = ratio.shape
    diag = float(np.hypot(*shape))
    cost_fg = geodesic * ratio
    cost_bg = geodesic * (1.0 - ratio)
    if prompt.prior is not None:
        weight = settings.prior * _locality(shape, prompt, settings, diag)
        cost_fg = cost_fg + weight * (1.0 - prompt.prior)
        cost_bg = cost_bg + weight * prompt.prior
    positive = prompt.points[prompt.labels == 1]
    negative = prompt.points[prompt.labels == 0]
    fg_seed = _disks(shape, positive, settings.seed_radius * diag)
    bg_seed = _disks(shape, negative, settings.seed_radius * diag)
    if prompt.box is not None:
        bg_seed |= ~_box_mask(shape, prompt.box)
    fg_seed &= ~bg_seed
    return cost_fg.astype(np.float32), cost_bg.astype(np.float32), fg_seed, bg_seed


def segment(
    grid: Grid, graph: GeodesicGraph, prompt: GridPrompt, settings: CutSettings, geodesic: float | None = None
) -> np.ndarray:
    """Iterated graph cut (GrabCut-like, histogram colour models); returns an hxw bool mask."""
    ratio = geodesic_ratio(graph, prompt, settings)
    return segment_with(grid, prompt, settings, ratio, settings.geodesic if geodesic is None else geodesic)[0]


def segment_with(
    grid: Grid, prompt: GridPrompt, settings: CutSettings, ratio: np.ndarray, geodesic: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """`segment` with the geodesic ratio given (so that candidates share it); also returns the colour models."""
    diag = float(np.hypot(*grid.size))
    base_fg, base_bg, fg_seed, bg_seed = static_costs(prompt, settings, ratio, geodesic)
    mask = (_start(grid, prompt, diag, settings) | fg_seed) & ~bg_seed
    pos_disk = _disks(grid.size, prompt.points[prompt.labels == 1], settings.start_radius * diag / 2)
    neg_disk = _disks(grid.size, prompt.points[prompt.labels == 0], settings.start_radius * diag / 2)
    for _ in range(max(1, settings.iterations)):
        fg_model = colour_model(grid.bins, mask + settings.seed_weight * (pos_disk & mask))
        bg_model = colour_model(grid.bins, ~mask + settings.seed_weight * (neg_disk & ~mask))
        colour_fg, colour_bg = colour_costs(grid.bins, fg_model, bg_model)
        cost_fg = base_fg + colour_fg
        cost_bg = base_bg + colour_bg
        cost_fg[bg_seed] = HARD
        cost_bg[fg_seed] = HARD
        new = keep_seeded(min_cut(grid, cost_fg, cost_bg, settings.smoothness), fg_seed)
        if np.array_equal(new, mask):
            break
        mask = new
    max_hole = int(settings.hole_fraction * mask.sum())
    return fill_small_holes(mask, max_hole, bg_seed), (fg_model, bg_model)


def refine_in_band(
    grid: Grid,
    prompt: GridPrompt,
    settings: CutSettings,
    ratio: np.ndarray,
    geodesic: float,
    coarse: np.ndarray,
    models: tuple[np.ndarray, np.ndarray],
    radius: int = 2,
) -> np.ndarray:
    """Carry a coarse mask to `grid`: re-cut only the cells within `radius` of its boundary.

    The colour models are the coarse cut's (the bins are the same at every grid size); cells
    further from the boundary keep the coarse label, so the cut costs a fraction of a full one.
    """
    height, width = grid.size
    soft = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    start = soft > 0.5
    base_fg, base_bg, fg_seed, bg_seed = static_costs(prompt, settings, ratio, geodesic)
    start = (start | fg_seed) & ~bg_seed
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    cells = start.astype(np.uint8)
    band = cv2.dilate(cells, kernel).astype(bool) & ~cv2.erode(cells, kernel).astype(bool)
    colour_fg, colour_bg = colour_costs(grid.bins, *models)
    cost_fg = base_fg + colour_fg
    cost_bg = base_bg + colour_bg
    cost_fg[bg_seed] = HARD
    cost_bg[fg_seed] = HARD
    mask = keep_seeded(band_cut(grid, cost_fg, cost_bg, settings.smoothness, start, band), fg_seed)
    max_hole = int(settings.hole_fraction * mask.sum())
    return fill_small_holes(mask, max_hole, bg_seed)
